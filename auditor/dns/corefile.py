"""CoreDNS Corefile parser: the Caddyfile grammar CoreDNS uses, server-block keys, and the plugins cluster DNS
depends on (kubernetes, forward, rewrite). Standard library only.

Grammar (coredns/caddy `caddyfile/lexer.go` and `parse.go`, the Caddy v1 fork CoreDNS links):

* Tokens are separated by whitespace. A token that *starts* with `"` runs to the next unescaped `"` and may span
  lines; inside it only `\\"` is an escape (any other backslash is kept). `#` starts a comment anywhere outside
  quotes, even in the middle of a word, up to the end of the line.
* `{` and `}` are structural only as whole, unquoted tokens (`.:53{` is one token, and an error here).
* A server block is a line of keys (more keys may follow on the next line after a trailing comma), then `{`
  (on the same or the next line), directives one per line, and `}`. A directive's own `{ ... }` may hold anything;
  it is read here as nested directives, one per line. CoreDNS rejects a `}` that closes the server block on the
  same line as a directive (`. { whoami }`), and so does this parser.
* `(name) { ... }` defines a snippet; `import name` at the start of a line (at the top level or inside any block)
  splices it in. Any other `import` argument is a file or glob relative to the Corefile, which cannot be read
  here: it is skipped with a warning. Snippet tokens keep the line numbers of their definition.
* `{$VAR}` and `{%VAR%}` are substituted from the environment by CoreDNS at startup: they are kept as written and
  warned about.
* Caddy also accepts a single server without braces (`.:53` then directives up to the end of the file); it is
  accepted here only for the first server block.

Server-block keys (`core/dnsserver/register.go`, `plugin/normalize.go` `SplitHostPort`, `plugin/pkg/cidr`):
`[SCHEME://]ZONE[:PORT]`, each key on its own: a port written on one key does not apply to the others of the
block. The scheme is dns (default), tls, quic, grpc, https or https3; the default port is 53 for dns, 853 for tls
and quic, 443 for grpc/https/https3. A `:` followed by anything but digits is a bad port, except in an IPv6
CIDR. A CIDR zone (`10.0.0.0/8`) becomes its reverse zones, split on octet (IPv4) or nibble (IPv6) boundaries.
Zone names are lower-cased and fully qualified. One zone+port+transport served by two blocks stops CoreDNS
("already defined") unless a block filters with the *view* plugin.

Queries go to the block with the longest zone that contains the name (corefile(5)).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, replace

__all__ = [
    "Corefile",
    "CorefileError",
    "Directive",
    "Forward",
    "KubernetesPlugin",
    "Rewrite",
    "ServerBlock",
    "Zone",
    "parse_corefile",
]


class CorefileError(ValueError):
    """A Corefile CoreDNS would refuse. `str()` is "Corefile line 7: unexpected '}'"."""

    def __init__(self, message: str, line: int, column: int | None = None):
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"Corefile line {line}: {message}")


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...]
    line: int


@dataclass(frozen=True)
class Zone:
    name: str  # lower-case, fully qualified: "cluster.local.", "." for the root
    port: int
    transport: str  # dns | tls | quic | grpc | https | https3


@dataclass(frozen=True)
class ServerBlock:
    keys: tuple[str, ...]  # as written
    zones: tuple[Zone, ...]  # one per key; a CIDR key gives one per reverse zone
    directives: tuple[Directive, ...]
    line: int  # line of the first key


@dataclass(frozen=True)
class KubernetesPlugin:
    zones: tuple[str, ...]  # fully qualified, lower-case; the block's zones when none are written
    pods: str  # disabled (default) | insecure | verified
    fallthrough: tuple[str, ...] | None  # None: no fallthrough; (): for all zones; else only these zones
    ttl: int  # default 5, 0..3600
    endpoint_pod_names: bool
    namespaces: tuple[str, ...]  # (): all namespaces
    line: int


@dataclass(frozen=True)
class Forward:
    from_zone: str  # the zone the forward actually applies to: FROM, narrowed to the block's zone ("corp.example.")
    to: tuple[str, ...]  # as written: IPs, IP:port, tls://..., /etc/resolv.conf, hostnames
    line: int


@dataclass(frozen=True)
class Rewrite:
    args: tuple[str, ...]  # as CoreDNS reads them: a block form `rewrite stop { name ... answer ... }` is flattened
    line: int


# --------------------------------------------------------------------------------------------------------------
# Lexer


@dataclass(frozen=True)
class _Tok:
    text: str
    line: int
    col: int
    end_line: int  # differs from line for a quoted token spanning lines
    quoted: bool
    nl: bool  # first token of its line


_ENV_RE = re.compile(r"\{\$[^}]+\}|\{%[^}]+%\}")


def _lex(text: str, warnings: list[str]) -> list[_Tok]:
    if text.startswith("\ufeff"):
        text = text[1:]
    toks: list[_Tok] = []
    i, n, line, col = 0, len(text), 1, 1
    prev_end = 0

    def add(value: str, start_line: int, start_col: int, quoted: bool) -> None:
        nonlocal prev_end
        toks.append(_Tok(value, start_line, start_col, line, quoted, start_line > prev_end))
        prev_end = line
        for placeholder in _ENV_RE.findall(value):
            warnings.append(f"line {start_line}: environment variable {placeholder} is left as written "
                            "(CoreDNS substitutes it at startup)")

    while i < n:
        ch = text[i]
        if ch == "\n":
            i, line, col = i + 1, line + 1, 1
            continue
        if ch.isspace():
            i, col = i + 1, col + 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start_line, start_col = line, col
        if ch == '"':
            i, col = i + 1, col + 1
            buf: list[str] = []
            escaped = False
            while True:
                if i >= n:
                    raise CorefileError("unterminated quoted string", start_line, start_col)
                c = text[i]
                i, col = i + 1, col + 1
                if not escaped and c == "\\":
                    escaped = True
                    continue
                if not escaped and c == '"':
                    break
                if c == "\n":
                    line, col = line + 1, 1
                if escaped and c != '"':
                    buf.append("\\")  # only \" is an escape
                buf.append(c)
                escaped = False
            add("".join(buf), start_line, start_col, True)
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != "#":
            i += 1
        col += i - start
        add(text[start:i], start_line, start_col, False)
    return toks


# --------------------------------------------------------------------------------------------------------------
# Grammar

# plugin.cfg of recent CoreDNS, plus plugins often compiled in: a key line made of one of these, without '{',
# is a directive written outside any server block.
_KNOWN_PLUGINS = frozenset("""
    metadata geoip cancel tls quic grpc_server https https3 timeouts multisocket reload nsid bufsize root bind debug
    trace ready health pprof prometheus errors log dnstap local dns64 acl any chaos loadbalance tsig cache rewrite
    header dnssec autopath minimal template transfer hosts route53 azure clouddns k8s_external kubernetes file auto
    secondary etcd loop forward grpc erratic whoami on sign view nomad federation proxy fanout alternate
""".split())

_MAX_IMPORTS = 1000  # coredns/caddy maxSnippetExpansions


@dataclass
class _RawBlock:
    keys: list[_Tok]
    directives: list[Directive]
    line: int


class _Parser:
    def __init__(self, toks: list[_Tok], warnings: list[str]):
        self.toks = toks
        self.i = 0
        self.warnings = warnings
        self.snippets: dict[str, list[_Tok]] = {}
        self.expansions = 0
        self.blocks: list[_RawBlock] = []

    # -- helpers
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    @staticmethod
    def bare(tok: _Tok | None, text: str) -> bool:
        return tok is not None and not tok.quoted and tok.text == text

    def do_import(self) -> None:
        tok = self.toks[self.i]
        j = self.i + 1
        args = []
        while j < len(self.toks) and not self.toks[j].nl:
            args.append(self.toks[j])
            j += 1
        if len(args) != 1:
            raise CorefileError("import takes exactly one argument (a snippet name, a file or a glob)",
                                tok.line, tok.col)
        pattern = args[0].text
        if not pattern:
            raise CorefileError("import requires a non-empty argument", tok.line, tok.col)
        if pattern in self.snippets:
            self.expansions += 1
            if self.expansions > _MAX_IMPORTS:
                raise CorefileError(f"maximum snippet import depth ({_MAX_IMPORTS}) exceeded importing '{pattern}'",
                                    tok.line, tok.col)
            body = list(self.snippets[pattern])
            if body:
                body[0] = replace(body[0], nl=True)
            self.toks[self.i:j] = body
            return
        if pattern.count("*") > 1 or pattern.count("?") > 1 or ("[" in pattern and "]" in pattern):
            raise CorefileError(f"import glob pattern may only contain one wildcard (*): {pattern}",
                                tok.line, tok.col)
        what = "glob" if "*" in pattern or "?" in pattern else "file"
        self.warnings.append(f"line {tok.line}: import {pattern}: not a snippet defined above; the {what} is read "
                             "by CoreDNS from its own filesystem and cannot be seen here, so its contents are missing")
        del self.toks[self.i:j]

    def unclosed(self, brace: _Tok) -> CorefileError:
        message = "missing '}': the '{' on this line is never closed"
        glued = next((t for t in self.toks if t.line >= brace.line and not t.quoted and len(t.text) > 1
                      and t.text.endswith("}") and "{" not in t.text), None)
        if glued is not None:
            message += f" (line {glued.line} has '{glued.text}': put a space before '}}')"
        return CorefileError(message, brace.line, brace.col)

    # -- top level
    def parse(self) -> list[_RawBlock]:
        while (tok := self.peek()) is not None:
            if self.bare(tok, "import") and tok.nl:
                self.do_import()
                continue
            if self.bare(tok, "}"):
                raise CorefileError("unexpected '}'", tok.line, tok.col)
            if self.bare(tok, "{"):
                raise CorefileError("'{' without server block keys (empty key)", tok.line, tok.col)
            keys = self.read_keys()
            first = keys[0]
            nxt = self.peek()
            if self.bare(nxt, "{"):
                self.i += 1
                name = first.text
                if len(keys) == 1 and name.startswith("(") and name.endswith(")"):
                    self.define_snippet(name[1:-1], first, nxt)
                    continue
                directives = self.server_body(nxt)
                self.blocks.append(_RawBlock(keys, directives, first.line))
                continue
            if not first.quoted and first.text in _KNOWN_PLUGINS:
                raise CorefileError(f"directive '{first.text}' outside any server block", first.line, first.col)
            if first.text.startswith("(") and first.text.endswith(")"):
                raise CorefileError(f"snippet {first.text} needs a '{{ ... }}' block", first.line, first.col)
            shown = " ".join(k.text for k in keys)
            if nxt is None or self.blocks:
                raise CorefileError(f"expected '{{' after server block key(s) '{shown}'", first.line, first.col)
            directives = self.braceless_body(keys)
            self.blocks.append(_RawBlock(keys, directives, first.line))
        return self.blocks

    def read_keys(self) -> list[_Tok]:
        keys: list[_Tok] = []
        expecting = False
        start = self.peek()
        while (tok := self.peek()) is not None:
            if tok is not start and tok.nl and not expecting:
                break
            if self.bare(tok, "{"):
                if expecting:
                    raise CorefileError("expected another server block key after ','", tok.line, tok.col)
                break
            if self.bare(tok, "}"):
                raise CorefileError("unexpected '}'", tok.line, tok.col)
            text = tok.text
            if not tok.quoted and len(text) > 1 and text.endswith("{"):
                raise CorefileError(f"put a space between '{text[:-1]}' and '{{'", tok.line, tok.col)
            if text.endswith(","):
                text, expecting = text[:-1], True
            else:
                expecting = False
            if text:
                keys.append(replace(tok, text=text))
            elif not tok.text:
                raise CorefileError("empty server block key", tok.line, tok.col)
            self.i += 1
        if expecting:
            last = self.toks[self.i - 1]
            raise CorefileError("expected another server block key after ','", last.line, last.col)
        if not keys:
            raise CorefileError("empty server block key", start.line, start.col)
        return keys

    def define_snippet(self, name: str, key: _Tok, brace: _Tok) -> None:
        if name in self.snippets:
            raise CorefileError(f"redeclaration of previously declared snippet {name}", key.line, key.col)
        depth, body = 1, []
        while True:
            tok = self.peek()
            if tok is None:
                raise self.unclosed(brace)
            self.i += 1
            if self.bare(tok, "{"):
                depth += 1
            elif self.bare(tok, "}"):
                depth -= 1
                if depth == 0:
                    break
            body.append(tok)
        for k, tok in enumerate(body[:-1]):
            if self.bare(tok, "import") and (k == 0 or tok.nl) and body[k + 1].text == name:
                raise CorefileError(f"snippet '{name}' imports itself", tok.line, tok.col)
        self.snippets[name] = body

    # -- server block bodies
    def server_body(self, brace: _Tok) -> list[Directive]:
        out: list[Directive] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise self.unclosed(brace)
            if self.bare(tok, "}"):
                self.i += 1
                return out
            if self.bare(tok, "import"):
                self.do_import()
                continue
            if self.bare(tok, "{"):
                raise CorefileError("unexpected '{'", tok.line, tok.col)
            out.append(self.directive(server_level=True))

    def braceless_body(self, keys: list[_Tok]) -> list[Directive]:
        first = keys[0]
        shown = " ".join(k.text for k in keys)
        out: list[Directive] = []
        while (tok := self.peek()) is not None:
            if self.bare(tok, "}"):
                raise CorefileError(f"unexpected '}}' (is the '{{' after '{shown}' on line {first.line} missing?)",
                                    tok.line, tok.col)
            if self.bare(tok, "import") and tok.nl:
                self.do_import()
                continue
            if self.bare(tok, "{"):
                raise CorefileError("unexpected '{'", tok.line, tok.col)
            d = self.directive(server_level=True)
            if d.block and (":" in d.name or "." in d.name):
                # `.:53` without '{' followed by `other.zone {`: Caddy would read the second block as a directive.
                raise CorefileError(f"expected '{{' after server block key(s) '{shown}'", first.line, first.col)
            out.append(d)
        return out

    def directive(self, server_level: bool) -> Directive:
        name = self.toks[self.i]
        self.i += 1
        args: list[str] = []
        block: tuple[Directive, ...] = ()
        while (tok := self.peek()) is not None and not tok.nl:
            if self.bare(tok, "{"):
                self.i += 1
                block += self.nested_block(tok)
                continue
            if self.bare(tok, "}"):
                if server_level:
                    raise CorefileError(f"unexpected '}}' on the same line as directive '{name.text}' (the '}}' "
                                        "closing a server block must be on its own line)", tok.line, tok.col)
                break  # closes the enclosing nested block
            args.append(tok.text)
            self.i += 1
        return Directive(name.text, tuple(args), block, name.line)

    def nested_block(self, brace: _Tok) -> tuple[Directive, ...]:
        out: list[Directive] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise self.unclosed(brace)
            if self.bare(tok, "}"):
                self.i += 1
                return tuple(out)
            if self.bare(tok, "import") and tok.nl:
                self.do_import()
                continue
            if self.bare(tok, "{"):
                raise CorefileError("unexpected '{'", tok.line, tok.col)
            out.append(self.directive(server_level=False))


# --------------------------------------------------------------------------------------------------------------
# Zones

_PORTS = {"dns": 53, "tls": 853, "quic": 853, "grpc": 443, "https": 443, "https3": 443}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _split_key(key: str) -> tuple[str, str, int | None, str | None]:
    """-> (transport, host, port or None, placeholder warning or None); ValueError on a bad key."""
    transport, rest = "dns", key
    m = _SCHEME_RE.match(key)
    if m:
        transport = m.group(1).lower()
        if transport not in _PORTS:
            raise ValueError(f"unknown transport '{m.group(1)}://' in server block key '{key}'")
        rest = key[m.end():]
    note = None
    port: int | None = None
    colon = rest.rfind(":")
    if colon != -1:
        suffix = rest[colon + 1:]
        if not suffix:
            raise ValueError(f"bad port: nothing after ':' in server block key '{key}'")
        if suffix.isdigit() and suffix.isascii():
            port = int(suffix)
            if port > 65535:
                raise ValueError(f"bad port '{suffix}' in server block key '{key}' (must be 0-65535)")
            rest = rest[:colon]
        elif _ENV_RE.fullmatch(suffix):
            note = f"port {suffix} of server block key '{key}' is an environment variable; assuming the default"
            rest = rest[:colon]
        elif not _is_cidr(rest):
            raise ValueError(f"bad port '{suffix}' in server block key '{key}'")
    if not rest:
        raise ValueError(f"empty zone in server block key '{key}'")
    return transport, rest, port, note


def _is_cidr(host: str) -> bool:
    if "/" not in host:
        return False
    try:
        ipaddress.ip_network(host, strict=False)
    except ValueError:
        return False
    return True


def _fqdn(name: str) -> str:
    if _ENV_RE.search(name):
        return name if name.endswith(".") else name + "."
    name = name.lower()
    return name if name.endswith(".") else name + "."


def _check_name(name: str, key: str) -> None:
    if name == "." or _ENV_RE.search(name):
        return
    if len(name) > 255:
        raise ValueError(f"zone in '{key}' is too long: {len(name)} > 255")
    for label in name[:-1].split("."):
        if not label:
            raise ValueError(f"zone '{name}' in '{key}' is not a valid domain name (empty label)")
        if len(label) > 63:
            raise ValueError(f"zone '{name}' in '{key}' is not a valid domain name (label longer than 63)")


def _reverse_zones(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    boundary = 8 if net.version == 4 else 4
    bits = net.max_prefixlen
    if net.prefixlen % boundary:
        nets = list(net.subnets(new_prefix=math.ceil(net.prefixlen / boundary) * boundary))
    else:
        nets = [net]
    out = []
    for sub in nets:
        labels = (sub.network_address.reverse_pointer + ".").split(".")
        drop = (bits - sub.prefixlen) // boundary
        out.append(".".join(labels[drop:]))
    return out


def _zone_names(host: str, key: str) -> list[str]:
    if "/" in host and not _ENV_RE.search(host):
        if host[0] == ":" or (host[0] == "0" and ":" in host):
            raise ValueError(f"invalid CIDR {host} in server block key '{key}'")
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError:
            net = None
        if net is not None:
            return _reverse_zones(net)
    name = _fqdn(host)
    _check_name(name, key)
    return [name]


def _parse_zone_arg(arg: str) -> list[str]:
    """A zone written as a plugin argument (plugin.Host(...).Normalize): scheme and port are dropped."""
    _, host, _, _ = _split_key(arg)
    return _zone_names(host, arg)


def _is_reverse(zone: str) -> bool:
    return zone.endswith("in-addr.arpa.") or zone.endswith("ip6.arpa.")


def _in_zone(name: str, zone: str) -> bool:
    """Is the fully qualified `name` equal to or below `zone`?"""
    return zone == "." or name == zone or name.endswith("." + zone)


# --------------------------------------------------------------------------------------------------------------
# Plugins

_POD_MODES = ("disabled", "verified", "insecure")
_KUBERNETES_PROPERTIES = frozenset("""
    resyncperiod endpoint tls kubeconfig namespaces labels namespace_labels pods endpoint_pod_names ttl noendpoints
    fallthrough ignore transfer multicluster startup_timeout apiserver_qps apiserver_burst apiserver_max_inflight
""".split())


def _kubernetes(d: Directive, block: ServerBlock, warnings: list[str] | None) -> KubernetesPlugin:
    def fail(message: str, line: int) -> CorefileError:
        return CorefileError(f"kubernetes: {message}", line)

    zones: list[str] = []
    for arg in d.args:
        try:
            zones.append(_parse_zone_arg(arg)[0])
        except ValueError as err:
            raise fail(str(err), d.line) from None
    if not zones:
        zones = [z.name for z in block.zones]
    if all(_is_reverse(z) for z in zones):
        raise fail("non-reverse zone name must be used", d.line)
    pods, fall, ttl, names, namespaces = "disabled", None, 5, False, ()
    for prop in d.block:
        if prop.name == "pods":
            if len(prop.args) != 1:
                raise fail(f"pods takes exactly one argument, got {len(prop.args)}", prop.line)
            if prop.args[0] not in _POD_MODES:
                raise fail(f"wrong value for pods: '{prop.args[0]}', must be one of: disabled, verified, insecure",
                           prop.line)
            pods = prop.args[0]
        elif prop.name == "fallthrough":
            fz: list[str] = []
            for arg in prop.args:
                try:
                    fz.extend(_parse_zone_arg(arg))
                except ValueError as err:
                    raise fail(f"fallthrough: {err}", prop.line) from None
            fall = tuple(fz)
        elif prop.name == "ttl":
            if len(prop.args) != 1 or not re.fullmatch(r"[+-]?\d+", prop.args[0]):
                raise fail(f"ttl takes one integer, got '{' '.join(prop.args)}'", prop.line)
            ttl = int(prop.args[0])
            if not 0 <= ttl <= 3600:
                raise fail(f"ttl must be in range [0, 3600]: {ttl}", prop.line)
        elif prop.name == "endpoint_pod_names":
            if prop.args:
                raise fail("endpoint_pod_names takes no arguments", prop.line)
            names = True
        elif prop.name == "namespaces":
            if not prop.args:
                raise fail("namespaces needs at least one namespace", prop.line)
            namespaces = tuple(dict.fromkeys(namespaces + prop.args))
        elif prop.name == "noendpoints":
            if prop.args:
                raise fail("noendpoints takes no arguments", prop.line)
        elif warnings is not None:
            if prop.name == "upstream":
                warnings.append(f"line {prop.line}: kubernetes option 'upstream' is obsolete: CoreDNS 1.7 ignores "
                                "it and later versions refuse it as an unknown property")
            elif prop.name not in _KUBERNETES_PROPERTIES:
                warnings.append(f"line {prop.line}: kubernetes: unknown property '{prop.name}' (CoreDNS refuses "
                                "properties it does not know)")
    return KubernetesPlugin(zones=tuple(zones), pods=pods, fallthrough=fall, ttl=ttl, endpoint_pod_names=names,
                            namespaces=namespaces, line=d.line)


def _forward_from(d: Directive) -> str:
    if len(d.args) < 2:
        raise CorefileError("forward needs FROM and at least one TO", d.line)
    try:
        return _parse_zone_arg(d.args[0])[0]
    except ValueError as err:
        raise CorefileError(f"forward: {err}", d.line) from None


def _forwards_of(block: ServerBlock) -> list[Forward]:
    out: list[Forward] = []
    for d in block.directives:
        if d.name != "forward":
            continue
        origin = _forward_from(d)
        for zone in dict.fromkeys(z.name for z in block.zones):
            if _in_zone(zone, origin):
                effective = zone
            elif _in_zone(origin, zone):
                effective = origin
            else:
                continue
            fw = Forward(from_zone=effective, to=d.args[1:], line=d.line)
            if fw not in out:
                out.append(fw)
    return out


def _rewrite_args(d: Directive) -> tuple[str, ...]:
    # plugin/rewrite/setup.go: fewer than two arguments on the line -> the block's tokens are appended.
    args = list(d.args)
    if len(args) < 2:
        def flatten(items: tuple[Directive, ...]) -> None:
            for item in items:
                args.append(item.name)
                args.extend(item.args)
                flatten(item.block)
        flatten(d.block)
    return tuple(args)


# --------------------------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class Corefile:
    blocks: tuple[ServerBlock, ...]
    warnings: tuple[str, ...]

    def kubernetes(self) -> KubernetesPlugin | None:
        """The kubernetes plugin of the block that serves the cluster zone: the first plugin whose main zone
        queries on port 53 (else on its block's port) are routed to its block; else the first one."""
        found = [(b, _kubernetes(d, b, None)) for b in self.blocks for d in b.directives if d.name == "kubernetes"]
        if not found:
            return None
        for ports_of in (lambda b: (53,), lambda b: tuple(dict.fromkeys(z.port for z in b.zones))):
            for block, plugin in found:
                primary = next(z for z in plugin.zones if not _is_reverse(z))
                if any(self.block_for(primary, port) is block for port in ports_of(block)):
                    return plugin
        return found[0][1]

    def cluster_domain(self) -> str | None:
        plugin = self.kubernetes()
        if plugin is None:
            return None
        zone = next((z for z in plugin.zones if not _is_reverse(z)), None)
        if zone is None or zone == ".":
            return None
        return zone.rstrip(".")

    def block_for(self, qname: str, port: int = 53) -> ServerBlock | None:
        name = _fqdn(qname.strip()) if qname.strip() not in ("", ".") else "."
        best, best_len = None, -1
        for block in self.blocks:
            for zone in block.zones:
                if zone.port != port or not _in_zone(name, zone.name):
                    continue
                length = 0 if zone.name == "." else zone.name.count(".")
                if length > best_len:
                    best, best_len = block, length
        return best

    def forwards(self) -> tuple[Forward, ...]:
        """Every forward directive, once per zone of its block it applies to (`forward . X` in a
        `corp.example` block applies to corp.example.; `forward corp.example X` in a `.` block too)."""
        return tuple(fw for b in self.blocks for fw in _forwards_of(b))

    def stub_domains(self) -> dict[str, tuple[str, ...]]:
        """Non-root zones (fully qualified, e.g. "corp.example.") that are forwarded elsewhere -> upstreams."""
        out: dict[str, tuple[str, ...]] = {}
        for fw in self.forwards():
            if fw.from_zone != ".":
                out[fw.from_zone] = tuple(dict.fromkeys(out.get(fw.from_zone, ()) + fw.to))
        return out

    def rewrites(self) -> tuple[Rewrite, ...]:
        return tuple(Rewrite(_rewrite_args(d), d.line) for b in self.blocks for d in b.directives
                     if d.name == "rewrite")


def parse_corefile(text: str) -> Corefile:
    """Parse a Corefile; raise CorefileError (with the line) for what CoreDNS would refuse to start with."""
    warnings: list[str] = []
    raw = _Parser(_lex(text, warnings), warnings).parse()
    blocks: list[ServerBlock] = []
    seen: dict[tuple[str, int, str], tuple[int, bool]] = {}
    for rb in raw:
        zones: list[Zone] = []
        has_view = any(d.name == "view" for d in rb.directives)
        for key in rb.keys:
            try:
                transport, host, port, note = _split_key(key.text)
                names = _zone_names(host, key.text)
            except ValueError as err:
                raise CorefileError(str(err), key.line, key.col) from None
            if note:
                warnings.append(f"line {key.line}: {note}")
            for name in names:
                zone = Zone(name, _PORTS[transport] if port is None else port, transport)
                prior = seen.get((zone.name, zone.port, zone.transport))
                if prior is not None and not (has_view or prior[1]):
                    raise CorefileError(f"cannot serve {transport}://{name}:{zone.port} - it is already defined "
                                        f"(line {prior[0]})", key.line, key.col)
                seen.setdefault((zone.name, zone.port, zone.transport), (key.line, has_view))
                zones.append(zone)
            bare = host.lower().rstrip(".")
            if bare in _KNOWN_PLUGINS and bare != "local":
                warnings.append(f"line {key.line}: server block key '{key.text}' is also a plugin name: is the "
                                f"'{bare}' directive outside its server block?")
        block = ServerBlock(tuple(k.text for k in rb.keys), tuple(zones), tuple(rb.directives), rb.line)
        blocks.append(block)
        _check_block(block, warnings)
    if not blocks:
        warnings.append("no server blocks: CoreDNS serves nothing")
    return Corefile(tuple(blocks), tuple(warnings))


def _check_block(block: ServerBlock, warnings: list[str]) -> None:
    if not block.directives:
        warnings.append(f"line {block.line}: server block '{' '.join(block.keys)}' has no plugins: CoreDNS answers "
                        "SERVFAIL to every query it routes there")
    kube = [d for d in block.directives if d.name == "kubernetes"]
    if len(kube) > 1:
        raise CorefileError("kubernetes: this plugin can only be used once per server block", kube[1].line)
    for d in kube:
        plugin = _kubernetes(d, block, warnings)
        for zone in plugin.zones:
            if not any(_in_zone(zone, z.name) for z in block.zones):
                warnings.append(f"line {d.line}: kubernetes zone {zone} is outside the zones of its server block "
                                f"({' '.join(block.keys)}): CoreDNS never routes those queries to it")
    for d in block.directives:
        if d.name == "forward":
            origin = _forward_from(d)
            if len(d.args) - 1 > 15:
                raise CorefileError(f"forward: more than 15 TOs configured: {len(d.args) - 1}", d.line)
            if not any(_in_zone(z.name, origin) or _in_zone(origin, z.name) for z in block.zones):
                warnings.append(f"line {d.line}: forward {d.args[0]} is outside the zones of its server block "
                                f"({' '.join(block.keys)}): it never applies")
        elif d.name == "rewrite" and not d.args and not d.block:
            raise CorefileError("rewrite needs a rule", d.line)
