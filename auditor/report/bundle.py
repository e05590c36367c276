"""What a report shows, gathered once from an Analysis: the renderers (html, markdown, dot, csv) only format it.

`build_bundle` is pure: it reads the Analysis, asks the engine for the grouped matrix, the findings, the drift against
a baseline and the explain traces, and returns a plain `ReportBundle`. Choosing what to show and explain lives here
too, because it is a decision about data, not about presentation:

- flows are pairs of endpoints when there are few (up to PAIR_LIMIT pairs), else grouped connections between
  groups of endpoints ("all 10,000 pods -> pods of namespace db with app=postgres"), so a page stays a few MB at
  any cluster size; `grouped=True` asks for groups always. A pair is a flow between two one-member groups.
- each flow is explained on one allowed port, one unknown port (if any) and one denied port (if any), so a reader
  sees both the rule that opens it and the fact that the rest stays closed;
- the pods explained are a real pair that carries the sample port (found on the class matrix's blocks), never a
  pod and itself;
- explanations cost a tier walk each, so only the first `explain_limit` flows get them (the page says so).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from .. import __version__
from ..engine.diff import MatrixDiff, diff_analyses
from ..engine.explain import EndpointNotFound, Explanation, explain
from ..engine.groups import GroupedView
from ..engine.matrix import endpoint_id, iter_connections, level_map
from ..engine.services import FlowIndex
from ..findings import SEVERITIES, Finding, run_checks
from ..model import Alert
from ..sets.ports import ICMP, ICMPV6, PORT_PROTOCOLS, PortSet
from .exposure import ExposureSummary, exposure_summary
from .table import display_names

EXPLAIN_LIMIT = 300
PAIR_LIMIT = 2000  # up to this many pairs, flows are pairs of endpoints; beyond, grouped connections

ALLOWED, UNKNOWN, DENIED = "allowed", "unknown", "denied"


@dataclass
class ReportEndpoint:
    id: str
    name: str  # short display name: "shop-api/cart", "0.0.0.0/0*"
    kind: str  # Pod, Deployment, StatefulSet, ..., Namespace, External
    namespace: str | None  # None for addresses outside the cluster
    pods: int = 0
    note: str = ""  # for regions: "0.0.0.0/0 except 10.0.0.0/8"

    @property
    def external(self) -> bool:
        return self.kind == "External"


@dataclass
class ReportGroup:
    """One end of a flow: a single endpoint (its display name), or a group with its exact description."""

    id: str
    name: str
    members: tuple[str, ...]

    @property
    def single(self) -> bool:
        return len(self.members) == 1


@dataclass
class FlowSample:
    """One port of a flow and the explain trace of its verdict on that port."""

    verdict: str  # allowed | unknown | denied: what the matrix says about this port
    protocol: str
    port: int | None
    explanation: Explanation

    @property
    def port_text(self) -> str:
        return f"{self.port}/{self.protocol}" if self.port is not None else self.protocol


@dataclass
class Flow:
    """What the `src` end may open on the `dst` end (group ids; for a pair, endpoint ids)."""

    src: str
    dst: str
    allowed: PortSet
    unknown: PortSet
    reasons: tuple[str, ...] = ()
    samples: list[FlowSample] = field(default_factory=list)
    explained: bool = False  # False: past the explain limit (or nothing could be explained)
    to_itself: bool = False  # grouped: each member of `src` to itself, through two of its pods
    parts: list = field(default_factory=list, repr=False)  # the class blocks it stands for (for sampling)


@dataclass
class Inventory:
    """What was read, and from where."""

    origin: str
    namespaces: int
    pods: int
    workloads: int
    services: int
    policies: dict[str, int]  # kind -> count
    calico_version: str | None = None
    unreadable: list[str] = field(default_factory=list)


@dataclass
class ReportBundle:
    level: str
    inventory: Inventory
    endpoints: list[ReportEndpoint]
    flows: list[Flow]
    protocols: tuple[str, ...]
    findings: list[Finding]
    warnings: list[Alert]
    explain_limit: int
    namespaces_shown: tuple[str, ...] = ()
    drift: MatrixDiff | None = None
    baseline_origin: str | None = None
    generated: str | None = None  # a timestamp, given by the caller (the bundle itself is deterministic)
    version: str = __version__
    groups: dict[str, ReportGroup] = field(default_factory=dict)  # empty: every flow is between two endpoints
    grouped: bool = False
    pairs: int = 0  # how many endpoint pairs the flows stand for (grouped: at most)
    exposure: "ExposureSummary | None" = None  # paths from outside, and exposure to every namespace

    @property
    def names(self) -> dict[str, str]:
        out = {e.id: e.name for e in self.endpoints}
        out.update((g.id, g.name) for g in self.groups.values())
        return out

    def group(self, node: str) -> ReportGroup:
        found = self.groups.get(node)
        if found is not None:
            return found
        return ReportGroup(node, self.names.get(node, node), (node,))

    @property
    def explained_flows(self) -> int:
        return sum(1 for f in self.flows if f.explained)

    @property
    def findings_by_severity(self) -> dict[str, int]:
        counts = Counter(f.severity for f in self.findings)
        return {s: counts.get(s, 0) for s in SEVERITIES}

    @property
    def skipped_input(self) -> list[Alert]:
        """The errors among the warnings: input that was not read, so every section below is incomplete."""
        return [a for a in self.warnings if a.severity == "error"]

    @property
    def unknown_flows(self) -> int:
        return sum(1 for f in self.flows if ports_text(f.unknown, self.protocols))

    @property
    def notes(self) -> list[str]:
        """Footnotes for address regions whose name (`CIDR*`) hides exceptions."""
        return [f"{e.name} = {e.note}" for e in self.endpoints if e.external and e.note and e.name.endswith("*")]


def build_bundle(analysis, level: str = "workload", namespaces: Sequence[str] = (), *,
                 baseline=None, baseline_origin: str | None = None,
                 explain_limit: int = EXPLAIN_LIMIT, findings: list[Finding] | None = None,
                 generated: str | None = None, grouped: bool = False) -> ReportBundle:
    """Gather everything a report shows. `findings` defaults to the whole catalogue (`run_checks`); `baseline` is
    the Analysis of the state to compare with (drift)."""
    view = analysis.grouped_view(level, namespaces)
    endpoints = _endpoints(view)
    order = {e.id: i for i, e in enumerate(endpoints)}
    pairs = view.pair_bound()
    use_groups = grouped or pairs > PAIR_LIMIT
    groups: dict[str, ReportGroup] = {}
    if use_groups:
        names = {e.id: e.name for e in endpoints}
        for g in view.groups:
            groups[g.id] = ReportGroup(g.id, names[g.members[0]] if len(g.members) == 1 else g.description,
                                       g.members)
        flows = [Flow(c.src, c.dst, c.allowed, c.unknown, tuple(sorted(c.reasons)), parts=c.parts)
                 for c in view.connections if _shown(c.allowed, c.unknown, view.protocols)]
        flows += [Flow(s.group, s.group, s.allowed, s.unknown, tuple(sorted(s.reasons)), to_itself=True)
                  for s in view.self_connections if _shown(s.allowed, s.unknown, view.protocols)]
        first = {g: min(order[m] for m in groups[g].members) for g in groups}
        flows.sort(key=lambda f: (first[f.src], first[f.dst], f.to_itself))
    else:
        flows = [Flow(c.src, c.dst, c.allowed, c.unknown, tuple(sorted(c.reasons)))
                 for c in iter_connections(analysis, level, namespaces)
                 if _shown(c.allowed, c.unknown, view.protocols)]
        flows.sort(key=lambda f: (order[f.src], order[f.dst]))
        pairs = len(flows)
    if explain_limit > 0 and flows:
        sampler = _GroupSampler(analysis, level, groups) if use_groups else _Sampler(analysis, level)
        for flow in flows[:explain_limit]:
            flow.samples = sampler.samples(flow, view.protocols)
            flow.explained = bool(flow.samples)
    drift = diff_analyses(baseline, analysis, level, namespaces) if baseline is not None else None
    return ReportBundle(level=level, inventory=_inventory(analysis), endpoints=endpoints, flows=flows,
                        protocols=view.protocols, findings=run_checks(analysis) if findings is None else findings,
                        warnings=list(analysis.alerts), explain_limit=explain_limit,
                        namespaces_shown=tuple(namespaces), drift=drift, baseline_origin=baseline_origin,
                        generated=generated, groups=groups, grouped=use_groups, pairs=pairs,
                        exposure=exposure_summary(analysis, level, namespaces))


def _shown(allowed: PortSet, unknown: PortSet, protocols) -> bool:
    return bool(ports_text(allowed, protocols) or ports_text(unknown, protocols))


def ports_text(ports: PortSet, protocols: tuple[str, ...], empty: str = "") -> str:
    """Ports as the table writes them (`80,443/TCP 53/UDP`, `all`), or `empty` when none of `protocols`."""
    text = ports.short(protocols) if ports else "-"
    return empty if text == "-" else text


def _endpoints(view: GroupedView) -> list[ReportEndpoint]:
    names, _ = display_names(view.level, view.endpoints)
    out = []
    for ep in view.endpoints:
        if ep.kind == "External":
            note = f"{ep.cidr} except {', '.join(ep.excepts)}" if ep.excepts else ""
            out.append(ReportEndpoint(ep.id, names[ep.id], "External", None, note=note))
        else:
            out.append(ReportEndpoint(ep.id, names[ep.id], ep.kind, ep.namespace, pods=ep.pods))
    # Cluster endpoints first (by display name), then addresses outside the cluster, as the table does.
    out.sort(key=lambda e: (e.external, e.name))
    return out


def _inventory(analysis) -> Inventory:
    state = analysis.state
    kinds = Counter(p.kind for p in state.policies)
    unreadable = [f"{u.resource}" + (f" in {u.namespace}" if u.namespace else "") + f": {u.reason}"
                  for u in state.unreadable]
    return Inventory(origin=state.origin, namespaces=len(state.namespaces), pods=len(state.pods),
                     workloads=len({p.workload_id for p in state.pods}), services=len(state.services),
                     policies=dict(sorted(kinds.items())), calico_version=state.calico_version,
                     unreadable=unreadable)


class _FlowSampler:
    """What both samplers share: an allowed and an unknown sample on a pair that carries them, then a denied one.

    Subclasses find the pair (`_pair`: names of two endpoints, or None) and the denied sample (`_denied`)."""

    analysis = None

    def samples(self, flow: Flow, protocols: tuple[str, ...]) -> list[FlowSample]:
        out = []
        first_pair = None
        for verdict, ports in ((ALLOWED, flow.allowed), (UNKNOWN, flow.unknown)):
            probe = _sample_port(ports, protocols)
            if probe is None:
                continue
            pair = self._pair(flow, verdict, _probe_set(*probe))
            if pair is None:
                continue
            first_pair = first_pair or pair
            out.append(self._explain(verdict, probe, self._names_of(pair)))
        denied = self._denied(flow, protocols, first_pair)
        if denied is not None:
            out.append(self._explain(DENIED, *denied))
        return [s for s in out if s is not None]

    def _names_of(self, pair: tuple) -> tuple[str, str]:
        return pair

    def _explain(self, verdict: str, probe: tuple[str, int | None], pair: tuple[str, str]) -> FlowSample | None:
        try:
            exp = explain(self.analysis, pair[0], pair[1], probe[0], probe[1])
        except EndpointNotFound:
            return None
        return FlowSample(verdict, probe[0], probe[1], exp)


class _GroupSampler(_FlowSampler):
    """Sample pairs for grouped flows: two pods (or a pod and an address) from the blocks a flow stands for."""

    def __init__(self, analysis, level: str, groups: dict[str, ReportGroup]):
        self.analysis = analysis
        self.uni = analysis.universe
        self.lm = level_map(analysis, level)
        self.groups = groups
        self.index = FlowIndex(analysis)
        self.pod_ips: set[str] | None = None

    def _names_of(self, pair: tuple) -> tuple[str, str]:
        return pair[2:]

    def _denied(self, flow: Flow, protocols, first_pair) -> tuple | None:
        """A port the sample pair itself denies (its class pair's own sets: the flow's are a union)."""
        if first_pair is None:
            return None
        allowed, unknown, _ = self.index.sets(first_pair[0], first_pair[1])
        closed = _denied_port(Flow("", "", allowed, unknown), protocols)
        return (closed, first_pair[2:]) if closed is not None else None

    def _pair(self, flow: Flow, verdict: str, probe: PortSet) -> tuple | None:
        """(src class, dst class, src name, dst name) carrying `probe` with this verdict."""
        if flow.to_itself:
            return self._own_pair(flow, verdict, probe)
        for src_mask, dst_mask, block in flow.parts:
            carried = block.allowed if verdict == ALLOWED else block.unknown
            if not probe <= carried:
                continue
            for s in _first_bits(src_mask, 4):
                for t in _first_bits(dst_mask, 4):
                    names = self._names(s, t)
                    if names:
                        return (s, t) + names
        return None

    def _own_pair(self, flow: Flow, verdict: str, probe: PortSet) -> tuple | None:
        """Two pods of one member of the group whose class pair carries the probe."""
        for member in self.groups[flow.src].members[:20]:
            pods = [(c, pod.id) for c in self.lm.classes[member] for pod in self.uni.classes[c].pods
                    if self.lm.members[c].get(member) and endpoint_id(pod, self.lm.level) == member][:6]
            for s, a in pods:
                for t, b in pods:
                    if a == b:
                        continue
                    allowed, unknown, _ = self.index.sets(s, t)
                    if probe <= (allowed if verdict == ALLOWED else unknown):
                        return s, t, a, b
        return None

    def _names(self, s: int, t: int) -> tuple[str, str] | None:
        src, dst = self._handles(s), self._handles(t)
        for a in src:
            for b in dst:
                if a != b:
                    return a, b
        return None

    def _handles(self, index: int) -> list[str]:
        cls = self.uni.classes[index]
        if cls.region is not None:
            if self.pod_ips is None:
                self.pod_ips = {ip for c in self.uni.classes[:self.uni.pod_count] for p in c.pods for ip in p.ips}
            address = _region_address(self.uni, cls, self.pod_ips)
            return [f"ip:{address}"] if address else []
        return [pod.id for pod in cls.pods[:2]]


def _first_bits(mask: int, limit: int) -> list[int]:
    out = []
    while mask and len(out) < limit:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Sampler(_FlowSampler):
    """Picks sample ports for a flow and a pod (or address) pair of the flow's endpoints that carries them."""

    def __init__(self, analysis, level: str):
        self.analysis = analysis
        uni = analysis.universe
        self.blocks = analysis.matrix.blocks
        pod_ips = {ip for cls in uni.classes[:uni.pod_count] for pod in cls.pods for ip in pod.ips}
        # endpoint id -> class index -> up to two names explain() resolves to exactly that class
        self.members: dict[str, dict[int, list[str]]] = {}
        for cls in uni.classes:
            if cls.region is not None:
                address = _region_address(uni, cls, pod_ips)
                if address:
                    self.members.setdefault(cls.region.id, {})[cls.index] = [f"ip:{address}"]
                continue
            for pod in cls.pods:
                handles = self.members.setdefault(endpoint_id(pod, level), {}).setdefault(cls.index, [])
                if len(handles) < 2:
                    handles.append(pod.id)

    def _denied(self, flow: Flow, protocols, first_pair) -> tuple | None:
        closed = _denied_port(flow, protocols)
        pair = first_pair or self._pair(flow, DENIED, None)
        return (closed, pair) if closed is not None and pair is not None else None

    def _pair(self, flow: Flow, verdict: str, probe: PortSet | None) -> tuple[str, str] | None:
        """Two names (pods or addresses) of the flow's endpoints whose classes carry `probe` with this verdict."""
        srcs = self.members.get(flow.src, {})
        dsts = self.members.get(flow.dst, {})
        for block in self.blocks:
            if probe is not None:
                carried = block.allowed if verdict == ALLOWED else block.unknown - block.allowed
                if not probe <= carried:
                    continue
            for s, src_handles in srcs.items():
                if not block.src_mask >> s & 1:
                    continue
                for t, dst_handles in dsts.items():
                    if not block.dst_mask >> t & 1:
                        continue
                    pair = _distinct(src_handles, dst_handles)
                    if pair:
                        return pair
        if probe is None:  # a denied port is denied for every pair: any two distinct members will do
            for src_handles in srcs.values():
                for dst_handles in dsts.values():
                    pair = _distinct(src_handles, dst_handles)
                    if pair:
                        return pair
        return None


def _distinct(src_handles: list[str], dst_handles: list[str]) -> tuple[str, str] | None:
    """Two different pods: a workload's flow to itself is between two of its replicas, never a pod to itself."""
    for src in src_handles:
        for dst in dst_handles:
            if src != dst:
                return src, dst
    return None


def _probe_set(protocol: str, port: int | None) -> PortSet:
    return PortSet.ports(protocol, port) if port is not None else PortSet.protocol(protocol)


def _sample_port(ports: PortSet, protocols: tuple[str, ...]) -> tuple[str, int | None] | None:
    """A port to explain: the lowest of the first port protocol (80 when the whole range is open, which reads
    better than 1); else a whole ICMP protocol."""
    for proto in PORT_PROTOCOLS:
        ranges = ports.get(proto).ranges
        if ranges:
            low, high = ranges[0]
            if low == 1 and high >= 80:
                return proto, 80
            return proto, low
    for proto in (ICMP, ICMPV6):
        if proto in protocols and ports.contains(proto):
            return proto, None
    return None


def _denied_port(flow: Flow, protocols: tuple[str, ...]) -> tuple[str, int] | None:
    """A port the flow denies: next to the allowed sample when possible (it shows where the rule stops)."""
    decided = flow.allowed | flow.unknown
    candidates: list[tuple[str, int]] = []
    sample = _sample_port(flow.allowed, protocols) or _sample_port(flow.unknown, protocols)
    if sample and sample[1] is not None:
        candidates += [(sample[0], sample[1] + 1), (sample[0], sample[1] - 1)]
    for proto in PORT_PROTOCOLS:
        for low, high in PortSet.protocol(proto).get(proto) - decided.get(proto):
            candidates.append((proto, 80 if low <= 80 <= high else low))
            break
    for proto, port in candidates:
        if 1 <= port <= 65535 and not decided.contains(proto, port):
            return proto, port
    return None


def _region_address(uni, cls, pod_ips: set[str]) -> str | None:
    """An address in the region that is no pod's (explain judges a pod's address as that pod)."""
    region = cls.region
    remaining = [region.cidr]
    for excluded in region.excepts:
        remaining = [part for net in remaining
                     for part in (net.address_exclude(excluded) if excluded.subnet_of(net) else (net,))]
    for net in sorted(remaining, key=lambda n: n.prefixlen):
        for address in _hosts(net):
            text = str(address)
            if text not in pod_ips and uni.region_class(text).index == cls.index:
                return text
    return None


def _hosts(net):
    """A few addresses of a network, from its middle first (`128.0.0.1` reads better than `0.0.0.1`)."""
    first, size = int(net.network_address), net.num_addresses
    make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    for offset in dict.fromkeys((size // 2 + 1, size // 2, 1, 0)):
        if offset < size:
            yield make(first + offset)
