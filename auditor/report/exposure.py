"""`exposure`: the Exposure contract of DESIGN.md as JSON, and a table for people.

The JSON is the contract; extra fields beside it say what the contract's fields alone cannot: `unless` (peers cut
from an entry's peer), `namedPorts` (egress ports the peer names), `cutBy` (rules whose deny or pass narrowed it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tabulate import tabulate

from ..engine.exposure import ExposureEntry, ExposureView
from ..sets.ports import PortSet
from .json_matrix import API_VERSION, endpoint_json


def entry_json(entry: ExposureEntry, protocols) -> dict | None:
    allowed = entry.allowed.to_contract(protocols)
    unknown = []
    if entry.unknown:
        reason = "; ".join(entry.reasons) or "depends on data netaudit could not read"
        unknown = [dict(item, reason=reason) for item in entry.unknown.to_contract(protocols)]
    if not allowed and not unknown and not entry.named and not entry.unknown_named and entry.verdict is None:
        return None  # only a protocol not listed here (e.g. ICMP where no policy names it)
    out = {"endpoint": entry.endpoint, "direction": entry.direction, "peer": entry.peer, "allowed": allowed,
           "unknown": unknown, "because": list(dict.fromkeys(entry.because))}
    if entry.verdict is not None:  # a path from outside: how it was judged, hop by hop
        out["verdict"] = entry.verdict
        if entry.target is not None:
            out["targetPort"] = entry.target.to_contract()
        out["hops"] = [{"seenAs": hop.seen_as, "as": hop.text, "verdict": hop.verdict,
                        "because": list(dict.fromkeys(hop.because)), "reasons": list(hop.reasons)}
                       for hop in entry.hops]
        if entry.notes:
            out["notes"] = list(entry.notes)
    if entry.unless:
        out["unless"] = list(entry.unless)
    if entry.named:
        out["namedPorts"] = [_named_json(item) for item in sorted(entry.named, key=str)]
    if entry.unknown_named:
        out["unknownNamedPorts"] = [dict(_named_json(item), reason="; ".join(entry.reasons))
                                    for item in sorted(entry.unknown_named, key=str)]
    if entry.cut_by:
        out["cutBy"] = list(entry.cut_by)
    if entry.address_dependent and unknown:
        out["addressDependent"] = True
    return out


def _named_json(item) -> dict:
    """A port the peer names: {"protocol", "name"}, and `ports` when only some numbers of it are open."""
    protocol, name, within = item
    out = {"protocol": protocol, "name": name}
    whole = PortSet.protocol(protocol) if protocol else None
    if whole is None or within != whole:
        out["ports"] = within.to_contract()
    return out


def exposure_document(view: ExposureView) -> dict:
    entries = []
    for entry in view.entries:
        item = entry_json(entry, view.protocols)
        if item is not None:
            entries.append(item)
    return {
        "apiVersion": API_VERSION,
        "kind": "Exposure",
        "level": view.level,
        "endpoints": [endpoint_json(e) for e in view.endpoints],
        "exposure": entries,
        "warnings": [a.to_json() for a in view.alerts],
    }


def render_json(view: ExposureView) -> str:
    return json.dumps(exposure_document(view), indent=2) + "\n"


def ports_cell(entry: ExposureEntry, protocols) -> str:
    parts = []
    if entry.allowed:
        parts.append(entry.allowed.short(protocols))
    if entry.named:
        parts.append(" ".join(_named_text(item) for item in sorted(entry.named, key=str)) + " (named)")
    if entry.unknown or entry.unknown_named:
        text = entry.unknown.short(protocols) if entry.unknown else ""
        if entry.unknown_named:
            text += " " + " ".join(_named_text(item) for item in sorted(entry.unknown_named, key=str))
        parts.append(f"?{text.strip()}")
    return " ".join(p for p in parts if p and p != "-") or "-"


def _named_text(item) -> str:
    protocol, name, within = item
    text = f"{name}/{protocol}" if protocol else name
    if protocol and within != PortSet.protocol(protocol):
        text += f" if in {within.short((protocol,))}"
    return text


def render_table(view: ExposureView) -> str:
    """Two tables: the paths from outside the cluster, then each endpoint's exposure as selectors."""
    out = ""
    paths = [e for e in view.entries if e.verdict is not None]
    if paths:
        rows = []
        for entry in paths:
            peer = entry.peer
            how = f"{peer['via']} {peer['object']}"
            if peer.get("route"):
                how += f" ({peer['route']})"
            if peer.get("controller"):
                how += f" via {peer['controller']}"
            if peer.get("externalTrafficPolicy"):
                how += f", externalTrafficPolicy {peer['externalTrafficPolicy']}"
            source = peer["from"]
            port = entry.target or entry.allowed or entry.unknown
            rows.append([entry.endpoint, how, source["cidr"] + ("*" if source.get("except") else ""),
                         port.short(view.protocols) if port else "-", entry.verdict, _decisive(entry)])
        out += "FROM OUTSIDE THE CLUSTER\n"
        out += tabulate(rows, headers=["BACKEND", "PATH", "FROM", "PORT", "VERDICT", "DECIDED BY"],
                        tablefmt="plain", disable_numparse=True) + "\n\n"
    rows = []
    last = None
    for entry in view.entries:
        if entry.verdict is not None:
            continue
        cell = ports_cell(entry, view.protocols)
        if cell == "-":
            continue
        head = (entry.endpoint, entry.direction)
        who = entry.text
        if entry.unless and entry.peer.get("kind") != "External":
            who += " (unless " + "; ".join(_short_peer(u) for u in entry.unless) + ")"
        rows.append([entry.endpoint if head != last else "", entry.direction if head != last else "",
                     ("from " if entry.direction == "ingress" else "to ") + who, cell,
                     "; ".join(dict.fromkeys(entry.because))])
        last = head
    if rows:
        out += "EXPOSURE (pods that exist or may exist, and addresses)\n"
        out += tabulate(rows, headers=["ENDPOINT", "DIRECTION", "PEERS", "PORTS", "BECAUSE"], tablefmt="plain",
                        disable_numparse=True) + "\n"
    if any(e.unknown or e.unknown_named for e in view.entries if e.verdict is None):
        out += "  ?ports: unknown (-o json says why)\n"
    return out or "no endpoints to show\n"


def _decisive(entry: ExposureEntry) -> str:
    """The line that decides a path: from the way in that opens it (or, when none does, that blocks it), the
    backend's ingress rule, or the controller's egress when that is what blocks."""
    wanted = ("allowed", "partly") if entry.verdict in ("allowed", "partly") else (entry.verdict,)
    hop = next((h for h in entry.hops if h.verdict in wanted), entry.hops[0] if entry.hops else None)
    if hop is None:
        return "; ".join(entry.notes) or "; ".join(entry.reasons)
    lines = hop.because
    if entry.verdict == "denied":
        lines = [line for line in lines if ": denied:" in line] or lines
    elif entry.verdict in ("allowed", "partly"):
        lines = [line for line in lines if line.startswith("ingress")] or lines
    text = lines[0].split(": ", 2)[-1] if lines else "; ".join(hop.reasons) or "; ".join(entry.notes)
    seen = {"Nodes": "as a node", "External": "as the client", "Pods": "from the controller"}.get(
        hop.seen_as.get("kind"), "")
    return f"{seen}: {text}" if seen and len(entry.hops) > 1 else text


def _short_peer(peer: dict) -> str:
    if peer.get("kind") == "External":
        return peer["cidr"] + (" except " + ", ".join(peer["except"]) if peer.get("except") else "")
    return json.dumps(peer, sort_keys=True)


# --- the report section (report -o html / markdown) -------------------------------------------------------------
EXPOSURE_LIMIT = 300  # wide exposure rows in a report; the exposure command lists all of them


@dataclass
class ExposureSummary:
    """What a report shows of exposure: every path from outside, and the widest exposure inside the cluster."""

    paths: list[list[str]]  # backend, path, from, port, verdict, decided by
    wide: list[list[str]]  # endpoint, direction, peers, ports, because
    wide_total: int


def exposure_summary(analysis, level: str, namespaces=()) -> ExposureSummary:
    """Gathered once for the report bundle: the data, not its formatting."""
    from ..engine.paths import exposure_with_paths
    view = exposure_with_paths(analysis, "workload" if level != "pod" else "pod", namespaces)
    protocols = view.protocols
    paths, wide = [], []
    for entry in view.entries:
        if entry.verdict is not None:
            peer = entry.peer
            how = f"{peer['via']} {peer['object']}" + (f" ({peer['route']})" if peer.get("route") else "")
            if peer.get("controller"):
                how += f" via {peer['controller']}"
            if peer.get("externalTrafficPolicy"):
                how += f", externalTrafficPolicy {peer['externalTrafficPolicy']}"
            port = entry.target or entry.allowed or entry.unknown
            source = peer["from"]
            paths.append([entry.endpoint, how, source["cidr"] + (" except " + ", ".join(source["except"])
                                                                 if source.get("except") else ""),
                          port.short(protocols) if port else "-", entry.verdict, _decisive(entry)])
            continue
        kind = entry.peer.get("kind")
        every_namespace = kind == "Cluster" or (kind == "Pods" and entry.peer.get("namespaces") == {"selector": {}})
        if not every_namespace or ports_cell(entry, protocols) == "-":
            continue
        wide.append([entry.endpoint, entry.direction, entry.text, ports_cell(entry, protocols),
                     "; ".join(dict.fromkeys(entry.because))])
    return ExposureSummary(paths, wide[:EXPOSURE_LIMIT], len(wide))
