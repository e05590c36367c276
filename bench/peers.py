"""The peers netaudit is measured against, and one common form to compare their answers.

Each tool is run as a separate process on the same folder of manifests. Its output is parsed into *facts*: for every
(source, destination) pair, the set of sampled (protocol, port) probes it allows. Endpoints are named the way
netaudit names workloads (`namespace/Kind/name`), or `ip:A.B.C.D` for a sampled external address, so the three
tools' answers can be compared pair by pair.

    network-config-analyzer (IBM, Python)   nca --connectivity -r DIR -o txt_no_fw_rules --output_endpoints pods
    netpol-analyzer (np-guard, Go)          netpolicy list --dirpath DIR -o json -q
    netaudit                                netaudit matrix -f DIR --level workload -o json

Only the standard library and PyYAML are used, so this module runs in the project's virtualenv and can be imported
by the differential tests.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# Pinned versions. NCA comes from PyPI into .venv-nca/; netpol-analyzer is built from the Go module proxy into
# .cache/bin/ (mk/bench.mk has the same pins and the module hash).
NCA_VERSION = "2.1.0"
NETPOL_ANALYZER_VERSION = "v1.4.2"

NCA_BIN = REPO / ".venv-nca" / "bin" / "nca"
NETPOLICY_BIN = REPO / ".cache" / "bin" / "netpolicy"
NETAUDIT_BIN = REPO / ".venv" / "bin" / "netaudit"

# Probes: the ports the generated clusters use (plain and named), a few they do not, and every protocol.
SAMPLE_PORTS: tuple[tuple[str, int], ...] = (
    ("TCP", 1), ("TCP", 53), ("TCP", 443), ("TCP", 5432), ("TCP", 6379), ("TCP", 8080), ("TCP", 9000),
    ("TCP", 9005), ("TCP", 9011), ("TCP", 9090), ("TCP", 9121), ("TCP", 9187), ("UDP", 53), ("UDP", 8080),
    ("SCTP", 8080),
)
# External addresses: outside every pod IP of tools/gen_cluster.py, one per region its ipBlocks tell apart.
SAMPLE_IPS: tuple[str, ...] = ("8.8.8.8", "10.200.0.1", "169.254.169.254")

Probe = tuple[str, int]
Pair = tuple[str, str]
Facts = dict[Pair, frozenset]


# ------------------------------------------------------------------------------------------------ the cluster index

@dataclass
class ClusterIndex:
    """Pods of a manifest folder and the workload each belongs to, named as netaudit names workloads."""

    pod_workload: dict[str, str] = field(default_factory=dict)      # "ns/pod" -> "ns/Kind/name"
    owner_workload: dict[str, str] = field(default_factory=dict)    # "ns/OwnerKind/ownerName" -> "ns/Kind/name"
    pod_ips: dict[str, list[str]] = field(default_factory=dict)
    host_network: set[str] = field(default_factory=set)

    @property
    def workloads(self) -> list[str]:
        return sorted(set(self.pod_workload.values()))


def workload_of(pod: dict) -> tuple[str, str]:
    """(Kind, name) of a pod's top-most controller, by the rule of DESIGN.md's output contract."""
    meta = pod["metadata"]
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return "Pod", meta["name"]
    kind, name = owner["kind"], owner["name"]
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


def load_objects(directory: str | os.PathLike) -> list[dict]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects = []
    for path in sorted(Path(directory).rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            with open(path) as handle:
                objects.extend(doc for doc in yaml.load_all(handle, Loader=loader) if doc)
    return objects


def index_cluster(objects: Iterable[dict]) -> ClusterIndex:
    index = ClusterIndex()
    for obj in objects:
        if obj.get("kind") != "Pod":
            continue
        meta = obj["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        kind, workload = workload_of(obj)
        wid = f"{ns}/{kind}/{workload}"
        index.pod_workload[f"{ns}/{name}"] = wid
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        index.owner_workload[f"{ns}/{owner['kind']}/{owner['name']}" if owner else f"{ns}/Pod/{name}"] = wid
        status = obj.get("status") or {}
        ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")] or \
            ([status["podIP"]] if status.get("podIP") else [])
        index.pod_ips[f"{ns}/{name}"] = ips
        if (obj.get("spec") or {}).get("hostNetwork"):
            index.host_network.add(f"{ns}/{name}")
    return index


# ------------------------------------------------------------------------------------------------ port sets

def _probes_in(protocols: Iterable[str] | None, ranges: list[tuple[int, int]] | None,
               probes: Iterable[Probe]) -> set[Probe]:
    """The probes with a protocol in `protocols` (None: any) and a port in `ranges` (None: any)."""
    out = set()
    for proto, port in probes:
        if protocols is not None and proto not in protocols:
            continue
        if ranges is not None and not any(lo <= port <= hi for lo, hi in ranges):
            continue
        out.add((proto, port))
    return out


def _parse_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        lo, _, hi = item.partition("-")
        ranges.append((int(lo), int(hi or lo)))
    return ranges


# ------------------------------------------------------------------------------------------------ endpoints

class _AddressRanges:
    """Maps a peer's IP-range endpoint ("a.b.c.d-e.f.g.h" or a CIDR) to the sampled IPs it holds."""

    def __init__(self, sample_ips: Iterable[str]):
        self.samples = [(ip, ipaddress.ip_address(ip)) for ip in sample_ips]
        self.cache: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str] | None:
        if text in self.cache:
            return self.cache[text]
        out = None
        try:
            if "/" in text:
                net = ipaddress.ip_network(text, strict=False)
                lo, hi = net.network_address, net.broadcast_address
            elif "-" in text:
                a, b = text.split("-")
                lo, hi = ipaddress.ip_address(a), ipaddress.ip_address(b)
            else:  # NCA writes a one-address range as the address alone
                lo = hi = ipaddress.ip_address(text)
            # An IPv6 range holds no IPv4 sample (compared as integers, ::/0 would hold them all).
            out = [f"ip:{ip}" for ip, value in self.samples
                   if value.version == lo.version and lo <= value <= hi]
        except ValueError:
            out = None
        self.cache[text] = out
        return out


_PEER_WORKLOAD = re.compile(r"^(?P<ns>[^/]+)/(?P<name>[^\[]+)\[(?P<kind>[^\]]+)\]$")


def _peer_endpoint(text: str, index: ClusterIndex, ranges: _AddressRanges) -> list[str] | None:
    """The common names of a peer's endpoint: a pod ("ns/name"), a workload ("ns/name[Kind]") or an IP range."""
    text = text.strip()
    m = _PEER_WORKLOAD.match(text)
    if m:
        key = f"{m['ns']}/{m['kind']}/{m['name']}"
        if key in index.owner_workload:
            return [index.owner_workload[key]]
        if m["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"):
            return [key]
        return None
    if text in index.pod_workload:
        return [index.pod_workload[text]]
    return ranges(text)


# ------------------------------------------------------------------------------------------------ parsers

def _add(facts: dict[Pair, set], srcs, dsts, probes: set[Probe]) -> None:
    if not probes:
        return
    for s in srcs:
        for d in dsts:
            if s == d and s.startswith("ip:"):
                continue
            facts.setdefault((s, d), set()).update(probes)


def parse_nca_txt(text: str, index: ClusterIndex, probes=SAMPLE_PORTS, sample_ips=SAMPLE_IPS,
                  unparsed: list[str] | None = None) -> Facts:
    """NCA `--connectivity -o txt_no_fw_rules`: one line per (src, dst, cube), e.g.
    `ns/a => ns/b : {protocols:TCP, UDP,dst_ports:53-100,8080}` or `... : All connections`."""
    ranges = _AddressRanges(sample_ips)
    facts: dict[Pair, set] = {}
    for line in text.splitlines():
        if " => " not in line or " : " not in line:
            continue
        left, _, conn = line.partition(" : ")
        src_text, _, dst_text = left.partition(" => ")
        srcs, dsts = _peer_endpoint(src_text, index, ranges), _peer_endpoint(dst_text, index, ranges)
        if srcs is None or dsts is None:
            if unparsed is not None:
                unparsed.append(line)
            continue
        _add(facts, srcs, dsts, _nca_conn_probes(conn.strip(), probes))
    return {k: frozenset(v) for k, v in facts.items()}


def _nca_conn_probes(conn: str, probes) -> set[Probe]:
    if conn == "All connections":
        return set(probes)
    if conn == "No connections":
        return set()
    out: set[Probe] = set()
    for cube in re.findall(r"\{([^}]*)\}", conn):
        dims: dict[str, list[str]] = {}
        current = None
        for token in cube.split(","):
            token = token.strip()
            if ":" in token:
                current, _, value = token.partition(":")
                dims[current] = [value.strip()]
            elif current is not None:
                dims[current].append(token)
        protocols = {p.upper() for p in dims["protocols"]} if "protocols" in dims else None
        ports = _parse_ranges(",".join(dims["dst_ports"])) if "dst_ports" in dims else None
        unknown_dims = set(dims) - {"protocols", "dst_ports"}
        if unknown_dims:  # e.g. src_ports, icmp: not produced by Kubernetes NetworkPolicies
            raise ValueError(f"NCA connection with dimensions {sorted(unknown_dims)}: {conn}")
        out |= _probes_in(protocols, ports, probes)
    return out


def parse_netpolicy_json(text: str, index: ClusterIndex, probes=SAMPLE_PORTS, sample_ips=SAMPLE_IPS,
                         unparsed: list[str] | None = None) -> Facts:
    """netpol-analyzer `list -o json`: [{"src": "ns/name[Kind]", "dst": ..., "conn": "TCP 53-100,8080,UDP 53"}]."""
    ranges = _AddressRanges(sample_ips)
    facts: dict[Pair, set] = {}
    for entry in json.loads(text or "[]"):
        srcs = _peer_endpoint(entry["src"], index, ranges)
        dsts = _peer_endpoint(entry["dst"], index, ranges)
        if srcs is None or dsts is None:
            if unparsed is not None:
                unparsed.append(json.dumps(entry))
            continue
        _add(facts, srcs, dsts, _netpolicy_conn_probes(entry["conn"], probes))
    return {k: frozenset(v) for k, v in facts.items()}


def _netpolicy_conn_probes(conn: str, probes) -> set[Probe]:
    if conn.strip().lower() == "all connections":
        return set(probes)
    if conn.strip().lower() in ("no connections", ""):
        return set()
    out: set[Probe] = set()
    # "SCTP 7,TCP 53-100,8080,UDP 53": a protocol name starts each group; a bare protocol means all its ports.
    for proto, ports in re.findall(r"(TCP|UDP|SCTP)\s*([0-9,\-\s]*)", conn):
        ports = ports.strip().strip(",")
        out |= _probes_in({proto}, _parse_ranges(ports) if ports else None, probes)
    return out


def netaudit_regions(document: dict, sample_ips: Iterable[str] = SAMPLE_IPS) -> dict[str, str]:
    """Sampled IP -> the id of netaudit's External endpoint that holds it (cidr minus except)."""
    out = {}
    for ep in document["endpoints"]:
        if ep.get("kind") != "External":
            continue
        net = ipaddress.ip_network(ep["cidr"])
        excepts = [ipaddress.ip_network(e) for e in ep.get("except") or []]
        for ip in sample_ips:
            addr = ipaddress.ip_address(ip)
            if addr.version == net.version and addr in net and not any(addr in e for e in excepts):
                out[f"ip:{ip}"] = ep["id"]
    return out


def parse_netaudit_json(text: str, index: ClusterIndex, probes=SAMPLE_PORTS, sample_ips=SAMPLE_IPS,
                        unknown_out: dict[Pair, set] | None = None) -> Facts:
    """netaudit `matrix -o json` at workload level (or pod level: pods are mapped to their workloads)."""
    document = json.loads(text)
    regions = netaudit_regions(document, sample_ips)
    by_region: dict[str, list[str]] = {}
    for ip, region in regions.items():
        by_region.setdefault(region, []).append(ip)
    level = document.get("level")

    def names(eid: str) -> list[str]:
        if eid.startswith("cidr:"):
            return by_region.get(eid, [])
        if level == "pod":
            return [index.pod_workload.get(eid, eid)]
        return [eid]

    facts: dict[Pair, set] = {}
    for conn in document["connections"]:
        srcs, dsts = names(conn["from"]), names(conn["to"])
        allowed: set[Probe] = set()
        for entry in conn["allowed"]:
            ports = [tuple(r) for r in entry.get("ports") or []] or None
            allowed |= _probes_in({entry["protocol"]}, ports, probes)
        _add(facts, srcs, dsts, allowed)
        if unknown_out is not None and conn.get("unknown"):
            unknown: set[Probe] = set()
            for entry in conn["unknown"]:
                ports = [tuple(r) for r in entry.get("ports") or []] or None
                if "protocol" in entry:
                    unknown |= _probes_in({entry["protocol"]}, ports, probes)
            for s in srcs:
                for d in dsts:
                    unknown_out.setdefault((s, d), set()).update(unknown)
    return {k: frozenset(v) for k, v in facts.items()}


# ------------------------------------------------------------------------------------------------ comparison

@dataclass
class Comparison:
    pairs: int = 0
    agreeing_pairs: int = 0
    facts: int = 0
    agreeing_facts: int = 0
    # (src, dst, protocol, port, netaudit verdict, peer verdict)
    disagreements: list[tuple[str, str, str, int, bool, bool]] = field(default_factory=list)

    @property
    def disagreeing_pairs(self) -> int:
        return self.pairs - self.agreeing_pairs


def compare(netaudit: Facts, peer: Facts, endpoints: Iterable[str], probes=SAMPLE_PORTS,
            include_self: bool = True) -> Comparison:
    """Every ordered pair of `endpoints` (external addresses only paired with cluster endpoints), every probe."""
    endpoints = list(endpoints)
    result = Comparison()
    empty: frozenset = frozenset()
    for s in endpoints:
        for d in endpoints:
            if (s == d and not include_self) or (s.startswith("ip:") and d.startswith("ip:")):
                continue
            a, b = netaudit.get((s, d), empty), peer.get((s, d), empty)
            result.pairs += 1
            result.facts += len(probes)
            if a == b:
                result.agreeing_pairs += 1
                result.agreeing_facts += len(probes)
                continue
            diff = a ^ b
            result.agreeing_facts += len(probes) - len(diff)
            for proto, port in sorted(diff):
                result.disagreements.append((s, d, proto, port, (proto, port) in a, (proto, port) in b))
    return result


# ------------------------------------------------------------------------------------------------ the peers

@dataclass(frozen=True)
class Peer:
    name: str
    version: str
    binary: Path
    install_hint: str

    def available(self) -> bool:
        return self.binary.exists() and os.access(self.binary, os.X_OK)

    def argv(self, directory: str) -> list[str]:
        raise NotImplementedError

    def parse(self, text: str, index: ClusterIndex, unparsed: list[str] | None = None) -> Facts:
        raise NotImplementedError


class NetworkConfigAnalyzer(Peer):
    def argv(self, directory: str) -> list[str]:
        # txt_no_fw_rules lists every (src, dst) pair with its connections; the default `txt` output compresses them
        # into firewall rules over label selectors, which cannot be compared pair by pair.
        return [str(self.binary), "--connectivity", "-r", directory, "-o", "txt_no_fw_rules",
                "--output_endpoints", "pods"]

    def parse(self, text, index, unparsed=None, probes=SAMPLE_PORTS, sample_ips=SAMPLE_IPS):
        return parse_nca_txt(text, index, probes, sample_ips, unparsed)


class NetpolAnalyzer(Peer):
    def argv(self, directory: str) -> list[str]:
        return [str(self.binary), "list", "--dirpath", directory, "-o", "json", "-q"]

    def parse(self, text, index, unparsed=None, probes=SAMPLE_PORTS, sample_ips=SAMPLE_IPS):
        return parse_netpolicy_json(text, index, probes, sample_ips, unparsed)


NCA = NetworkConfigAnalyzer("network-config-analyzer", NCA_VERSION, NCA_BIN, "make bench-peers (or make nca-venv)")
NETPOL_ANALYZER = NetpolAnalyzer("netpol-analyzer", NETPOL_ANALYZER_VERSION, NETPOLICY_BIN, "make bench-peers")
PEERS = (NCA, NETPOL_ANALYZER)


def run_nca(directory: str, timeout: float = 120) -> str:
    """NCA's per-pair connectivity of a folder (for the differential tests). Raises on failure."""
    proc = subprocess.run(NCA.argv(directory), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nca exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout
