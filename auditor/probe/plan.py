"""Which flows to probe: a small sample that tells the most, chosen from the prediction (pure: no I/O).

For each source equivalence class, one probe Pod stands in for the class's pods: it carries the same namespace,
policy-relevant labels and service account, so the same policies select it. For each destination class, one real
pod is the target. For each (source, destination) pair the plan picks at most:
- one port predicted allowed (a `false-deny` shows up there),
- one port predicted denied (a `false-allow`, the dangerous mismatch, shows up there),
- one port predicted unknown (observed, but never called a mismatch),
- every Service target port of the destination pod (what applications really use).
Among candidates it prefers ports the destination declares (a listener is likely there, so "open" reads as
"connected" rather than "refused") and ports that can be tested at all (TCP; UDP only for DNS, where a reply is
expected; SCTP never: busybox cannot speak it).

Classes, not pods, are sampled because every pod of a class gets the same verdicts (engine/classes.py): one pod per
class is as telling as all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..engine.classes import selector_label_keys
from ..engine.services import FlowIndex, service_backends
from ..model import Pod
from ..sets.ports import PORTS_ONLY, TCP, UDP, PortSet

ALLOWED, DENIED, UNKNOWN = "allowed", "denied", "unknown"
TCP_CONNECT, DNS_QUERY, NOT_PROBED = "tcp", "dns", "none"

# Labels controllers use to own their pods. A probe pod carrying, say, `pod-template-hash` would match its
# ReplicaSet's selector and be adopted (and then deleted, or counted) by it; `controller-uid` would make a Job
# count it. They are copied only when some policy selector reads them (then they decide the verdicts).
CONTROLLER_LABELS = frozenset({
    "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index", "controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
    "batch.kubernetes.io/job-name", "batch.kubernetes.io/job-completion-index",
})


EXACT_PAIRS = 50_000  # up to this many (source, destination) class pairs, every pair's probes are counted


class PlanError(ValueError):
    """The plan's limits name something that is not there (an unknown --from or --to)."""


@dataclass(frozen=True)
class PlanOptions:
    namespaces: tuple[str, ...] = ()  # probe only from these namespaces (probe pods are created only there)
    source: str | None = None  # ns/pod or ns/Kind/name
    destination: str | None = None
    max_probes: int | None = None
    require_running: bool = True  # False for a dry run on manifests, whose pods are not running anywhere
    dns_name: str = "kubernetes.default.svc.cluster.local"  # asked by DNS probes: any answer proves a reply


@dataclass(frozen=True)
class ProbeSource:
    """One probe Pod: it copies `pod`'s namespace and service account, and carries `labels`."""

    class_index: int
    pod: Pod
    labels: Mapping[str, str]
    regions: frozenset[int]  # the class's address regions: a probe IP elsewhere can change its verdicts

    @property
    def namespace(self) -> str:
        return self.pod.namespace


@dataclass(frozen=True)
class PlannedProbe:
    id: str  # "p0", "p1", ...: how a log line is matched back to its probe
    source: str  # the source pod the probe stands in for (ns/name)
    src_class: int
    destination: str  # the destination pod (ns/name)
    dst_class: int
    ip: str  # "" when the destination has no IP (a dry run on manifests)
    protocol: str
    port: int
    predicted: str  # allowed | denied | unknown
    why: tuple[str, ...]  # why this port was chosen
    method: str  # tcp | dns | none (cannot be probed: observed as unknown)
    unknown_reasons: tuple[str, ...] = ()


@dataclass
class Plan:
    sources: list[ProbeSource]
    probes: list[PlannedProbe]
    skipped: list[str] = field(default_factory=list)  # classes left out, and why
    notes: list[str] = field(default_factory=list)
    left_out: int = 0  # probes beyond --max-probes
    dns_name: str = "kubernetes.default.svc.cluster.local"
    left_out_exact: bool = True  # False: at least `left_out` (pairs past the limit were not looked at)

    def probes_from(self, source: ProbeSource) -> list[PlannedProbe]:
        return [p for p in self.probes if p.src_class == source.class_index]


def build_plan(analysis, options: PlanOptions = PlanOptions()) -> Plan:
    uni = analysis.universe
    state = analysis.state
    index = FlowIndex(analysis)
    keys = selector_label_keys(analysis.policies)
    skipped: list[str] = []
    notes: list[str] = []

    wanted_sources = _resolve(state.pods, options.source, "--from") if options.source else None
    wanted_destinations = _resolve(state.pods, options.destination, "--to") if options.destination else None

    sources: list[ProbeSource] = []
    destinations: list[tuple[int, Pod]] = []
    for cls in uni.classes[:uni.pod_count]:
        src_pod, why_not = _pick_pod(cls.pods, wanted_sources, options.require_running)
        in_namespaces = not options.namespaces or cls.info.namespace in options.namespaces
        if src_pod is not None and in_namespaces:
            labels = probe_labels(src_pod, keys)
            blocker = _published_anyway(state.services, src_pod.namespace, labels)
            if blocker:
                skipped.append(f"no probe from {src_pod.id}: its labels match Service {blocker}, which publishes "
                               "not-ready addresses, so clients could be sent to the probe pod")
            else:
                sources.append(ProbeSource(cls.index, src_pod, labels, cls.info.regions))
                notes.extend(_service_matches(state.services, src_pod, labels))
        elif why_not and in_namespaces and (wanted_sources is None or wanted_sources & {p.id for p in cls.pods}):
            skipped.append(f"no probe from {_class_name(cls)}: {why_not}")
        dst_pod, why_not = _pick_pod(cls.pods, wanted_destinations, options.require_running)
        if dst_pod is not None:
            destinations.append((cls.index, dst_pod))
        elif why_not and (wanted_destinations is None or wanted_destinations & {p.id for p in cls.pods}):
            skipped.append(f"no probe to {_class_name(cls)}: {why_not}")

    service_ports = _service_target_ports(state)

    def picks_of(source, dst_class, dst_pod) -> list[tuple]:
        allowed, unknown, reasons = index.sets(source.class_index, dst_class)
        picks = pick_ports(allowed, unknown, dst_pod, service_ports.get(dst_pod.id, ()))
        return [(source, dst_class, dst_pod, pick, reasons) for pick in picks]

    total = len(sources) * len(destinations)
    # Pairs in diagonal order: the first len(sources) pairs start from every source, each to another destination,
    # so a limit spreads the probes over sources and destinations instead of spending them on the first source.
    pairs = ((sources[k % len(sources)], *destinations[(k % len(sources) + k // len(sources)) % len(destinations)])
             for k in range(total))
    limit = options.max_probes
    exact = True
    if limit is None or total <= EXACT_PAIRS:
        per_pair = [picks_of(*pair) for pair in pairs]
        chosen = _interleave(per_pair, limit)
        left_out = sum(len(pair) for pair in per_pair) - len(chosen)
    else:
        # Thousands of classes: only the first `limit` pairs can get a probe (each pair gets its first before any
        # pair its second), so only they are computed. Every other pair has at least one probe left out.
        per_pair = [picks_of(*pair) for pair, _ in zip(pairs, range(limit))]
        chosen = _interleave(per_pair, limit)
        left_out = sum(len(pair) for pair in per_pair) - len(chosen) + total - len(per_pair)
        exact = False
    probes = []
    for n, (source, dst_class, dst_pod, pick, reasons) in enumerate(chosen):
        protocol, port, predicted, why = pick
        probes.append(PlannedProbe(
            id=f"p{n}", source=source.pod.id, src_class=source.class_index, destination=dst_pod.id,
            dst_class=dst_class, ip=dst_pod.ips[0] if dst_pod.ips else "", protocol=protocol, port=port,
            predicted=predicted, why=why, method=probe_method(protocol, port, dst_pod),
            unknown_reasons=tuple(sorted(reasons)) if predicted == UNKNOWN else ()))
    used = {p.src_class for p in probes}
    return Plan([s for s in sources if s.class_index in used], probes, skipped, sorted(set(notes)), left_out,
                options.dns_name, exact)


def probe_labels(pod: Pod, policy_label_keys: frozenset[str] | None) -> dict[str, str]:
    """The labels a probe pod carries: those of the pod that some policy selector reads.

    Labels no selector reads cannot change a verdict (engine/classes.py drops them too), while each one copied
    can make the probe match a Service selector or, for controller labels, be adopted by a ReplicaSet or Job.
    When the keys selectors read are not known (`None`), every label is copied except the controller ones.
    """
    out = {}
    for key, value in pod.labels.items():
        read = policy_label_keys is not None and key in policy_label_keys
        if key in CONTROLLER_LABELS and not read:
            continue
        if policy_label_keys is not None and not read:
            continue
        out[key] = value
    return out


def probe_method(protocol: str, port: int, dst_pod: Pod) -> str:
    """How a port can be tested. UDP says nothing when nobody answers, so only DNS (which always answers) counts."""
    if protocol == TCP:
        return TCP_CONNECT
    if protocol == UDP:
        names = {cp.name or "" for cp in dst_pod.container_ports if cp.port == port and cp.protocol == UDP}
        if port == 53 or any("dns" in name for name in names):
            return DNS_QUERY
    return NOT_PROBED


def pick_ports(allowed: PortSet, unknown: PortSet, dst_pod: Pod,
               service_ports: Sequence[tuple[str, str, int]] = ()) -> list[tuple[str, int, str, tuple[str, ...]]]:
    """(protocol, port, predicted, why) for one pair: one allowed, one denied, one unknown, every Service port."""
    denied = PORTS_ONLY - allowed - unknown

    def verdict(protocol: str, port: int) -> str:
        if allowed.contains(protocol, port):
            return ALLOWED
        return UNKNOWN if unknown.contains(protocol, port) else DENIED

    declared = sorted({(cp.protocol, cp.port, cp.name or "") for cp in dst_pod.container_ports
                       if not cp.init_container and cp.protocol in (TCP, UDP)},
                      key=lambda c: (c[0] != TCP, c[1]))
    candidates = [(proto, port, f"declared container port {name or port}/{proto}") for proto, port, name in declared]
    candidates += [(proto, port, f"target port of Service {label}") for label, proto, port in service_ports]

    picks: dict[tuple[str, int], tuple[str, list[str]]] = {}
    for wanted, ports in ((ALLOWED, allowed), (DENIED, denied), (UNKNOWN, unknown)):
        if not ports & PORTS_ONLY:
            continue
        found = next(((p, n, why) for p, n, why in candidates
                      if verdict(p, n) == wanted and probe_method(p, n, dst_pod) != NOT_PROBED), None)
        if found is None:
            found = _lowest_testable(ports, dst_pod)
        if found is None:
            continue
        proto, port, why = found
        picks.setdefault((proto, port), (verdict(proto, port), []))[1].append(f"a port predicted {wanted}: {why}")
    for label, proto, port in service_ports:
        entry = picks.setdefault((proto, port), (verdict(proto, port), []))
        text = f"target port of Service {label}"
        if not any(text in why for why in entry[1]):
            entry[1].append(text)
    return [(proto, port, predicted, tuple(why)) for (proto, port), (predicted, why) in picks.items()]


def _lowest_testable(ports: PortSet, dst_pod: Pod) -> tuple[str, int, str] | None:
    tcp = ports.get(TCP)
    if tcp:
        return TCP, tcp.ranges[0][0], "the lowest such TCP port"
    if ports.contains(UDP, 53):
        return UDP, 53, "DNS"
    for proto in (UDP, "SCTP"):
        values = ports.get(proto)
        if values:
            return proto, values.ranges[0][0], f"the lowest such {proto} port (cannot be probed)"
    return None


def _interleave(per_pair: list[list[tuple]], limit: int | None) -> list[tuple]:
    """Round-robin over pairs: with a limit, every pair gets its first (most telling) probe before any its second."""
    out = []
    depth = 0
    while any(depth < len(pair) for pair in per_pair):
        for pair in per_pair:
            if depth < len(pair):
                if limit is not None and len(out) >= limit:
                    return out
                out.append(pair[depth])
        depth += 1
    return out


def _pick_pod(pods: Sequence[Pod], wanted: set[str] | None, require_running: bool) -> tuple[Pod | None, str]:
    """The first usable pod (by name) of a class, or None and why none is."""
    candidates = [p for p in pods if wanted is None or p.id in wanted]
    if not candidates:
        return None, ""
    reasons = []
    for pod in sorted(candidates, key=lambda p: p.id):
        why = _unusable(pod, require_running)
        if not why:
            return pod, ""
        reasons.append(why)
    return None, ", ".join(sorted(set(reasons)))


def _unusable(pod: Pod, require_running: bool) -> str:
    if pod.host_network:
        return "hostNetwork (pod policies do not apply to it)"
    if require_running and pod.phase != "Running":
        return f"not Running ({pod.phase or 'no phase'})"
    if require_running and not pod.ips:
        return "no pod IP"
    return ""


def _resolve(pods: Sequence[Pod], text: str, flag: str) -> set[str]:
    found = {p.id for p in pods if p.id == text or p.workload_id == text}
    if not found:
        raise PlanError(f"{flag} {text}: no such pod or workload (write pods as namespace/name, workloads as "
                        "namespace/Kind/name, e.g. shop-api/Deployment/cart)")
    return found


def _class_name(cls) -> str:
    names = sorted(p.id for p in cls.pods)
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more like it"


def _selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _published_anyway(services, namespace: str, labels: Mapping[str, str]) -> str | None:
    for svc in services:
        if svc.namespace == namespace and svc.publish_not_ready_addresses and _selects(svc.selector, labels):
            return svc.id
    return None


def _service_matches(services, pod: Pod, labels: Mapping[str, str]) -> list[str]:
    return [f"the probe pod for {pod.id} matches the selector of Service {svc.id}; its readiness probe always "
            "fails, so it is never a ready endpoint" for svc in services
            if svc.namespace == pod.namespace and _selects(svc.selector, labels)]


def _service_target_ports(state) -> dict[str, list[tuple[str, str, int]]]:
    out: dict[str, list[tuple[str, str, int]]] = {}
    for spb in service_backends(state):
        for backend in spb.backends:
            if backend.pod is None or backend.target_port is None:
                continue
            entry = (spb.label, backend.protocol, backend.target_port)
            ports = out.setdefault(backend.pod.id, [])
            if entry not in ports:
                ports.append(entry)
    return out
