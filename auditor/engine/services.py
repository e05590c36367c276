"""Connectivity the way applications use it: through Services.

Policy sees a Service connection after DNAT, on the backend pod and its target port (docs/semantics.md SVC-S1), so a
client reaches a Service port through a backend exactly when the pod-level matrix allows client -> backend on the
backend's target port. This module finds each Service's backends and target ports and summarizes, for every client
and Service port, whether all, some or none of the backends are reachable.

Backends come from EndpointSlices when the cluster has them (live): the slice's port numbers are the resolved
target ports, and `conditions.ready` says whether kube-proxy sends traffic there. Without slices (manifests), they
come from the Service's selector, and a named targetPort is resolved on each backend's container ports, so two
backends may map one name to different numbers, or one backend may not have it at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Sequence

from ..model import ClusterState, Pod, Service, ServicePort
from ..sets.ports import NONE, PortSet
from .matrix import endpoint_id

ALL_REACHABLE, SOME, NONE_REACHABLE, NO_BACKENDS, UNKNOWN = "all", "some", "none", "no-backends", "unknown"


@dataclass(frozen=True)
class Backend:
    """One endpoint of a Service port: a pod (or a bare address) and the port traffic lands on."""

    pod: Pod | None
    address: str | None
    ready: bool
    protocol: str
    target_port: int | None  # None: the backend has no port of that name

    @property
    def id(self) -> str:
        return self.pod.id if self.pod is not None else f"ip:{self.address}"


@dataclass
class ServicePortBackends:
    service: Service
    port: ServicePort
    backends: list[Backend]
    source: str  # "endpointslices" | "selector" | "none"

    @property
    def label(self) -> str:
        name = self.port.name or str(self.port.port)
        return f"{self.service.namespace}/{self.service.name}:{name}"


@dataclass
class Reachability:
    client: str
    service: str  # namespace/name
    port: ServicePort
    status: str
    reachable: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    missing_port: list[str] = field(default_factory=list)


def service_backends(state: ClusterState) -> list[ServicePortBackends]:
    """Every (Service, port) with its backends. ExternalName Services have none (they are a DNS alias)."""
    pods_by_id = {p.id: p for p in state.pods}
    pods_by_ip = {ip: p for p in state.pods for ip in p.ips if not p.host_network}
    slices_by_service: dict[tuple[str, str], list] = {}
    for eps in state.endpoint_slices:
        if eps.service:
            slices_by_service.setdefault((eps.namespace, eps.service), []).append(eps)
    out = []
    for svc in state.services:
        for port in svc.ports:
            if svc.type == "ExternalName":
                out.append(ServicePortBackends(svc, port, [], "none"))
                continue
            slices = slices_by_service.get((svc.namespace, svc.name))
            if slices:
                out.append(ServicePortBackends(svc, port, _from_slices(port, slices, pods_by_id, pods_by_ip),
                                               "endpointslices"))
            elif svc.selector:
                out.append(ServicePortBackends(svc, port, _from_selector(svc, port, state.pods), "selector"))
            else:
                out.append(ServicePortBackends(svc, port, [], "none"))
    return out


def _from_slices(port: ServicePort, slices, pods_by_id, pods_by_ip) -> list[Backend]:
    backends = []
    for eps in slices:
        match = next((p for p in eps.ports if (p.name or None) == (port.name or None) and p.protocol == port.protocol),
                     None)
        for ep in eps.endpoints:
            ready = ep.ready is not False  # nil means unknown, which consumers treat as ready (EndpointConditions)
            pod = pods_by_id.get(ep.target_pod) if ep.target_pod else None
            for address in ep.addresses:
                owner = pod or pods_by_ip.get(address)
                backends.append(Backend(owner, None if owner else address, ready, port.protocol,
                                        match.port if match else None))
                if owner is not None:
                    break  # one pod, several addresses (dual-stack slices are separate): count it once
    return backends


def _from_selector(svc: Service, port: ServicePort, pods: Sequence[Pod]) -> list[Backend]:
    backends = []
    for pod in pods:
        if pod.namespace != svc.namespace or pod.host_network and not pod.ips:
            continue
        if not all(pod.labels.get(k) == v for k, v in svc.selector.items()):
            continue
        ready = pod.ready is not False
        backends.append(Backend(pod, None, ready, port.protocol, resolve_target_port(port, pod)))
    return backends


def resolve_target_port(port: ServicePort, pod: Pod) -> int | None:
    """targetPort as kube-proxy resolves it for one backend: a number as is, a name on the pod's containers."""
    target = port.target_port if port.target_port is not None else port.port
    if isinstance(target, int):
        return target
    for cp in pod.container_ports:
        if cp.name == target and cp.protocol == port.protocol and not cp.init_container:
            return cp.port
    return None


class FlowIndex:
    """Allowed/unknown port sets between two endpoint classes, answered from the class matrix's blocks.

    Blocks are indexed by destination class, lazily: callers ask about a few destinations (Service backends, DNS
    servers, a sample pair) from many sources, and a block's source mask answers any source with one bit test.
    """

    def __init__(self, analysis):
        self.analysis = analysis
        self.blocks = analysis.matrix.blocks
        self.by_dst: dict[int, list] = {}

    def covering(self, dst: int) -> list:
        found = self.by_dst.get(dst)
        if found is None:
            found = self.by_dst[dst] = [b for b in self.blocks if b.dst_mask >> dst & 1]
        return found

    def sets(self, src: int, dst: int) -> tuple[PortSet, PortSet, frozenset]:
        """(allowed, unknown, reasons) of one class pair: the union of the blocks that cover it."""
        allowed = unknown = NONE
        reasons: frozenset = frozenset()
        for block in self.covering(dst):
            if block.src_mask >> src & 1:
                allowed = allowed | block.allowed
                unknown = unknown | block.unknown
                reasons = reasons | block.reasons
        unknown = unknown - allowed
        return allowed, unknown, reasons if unknown else frozenset()

    def reached_from(self, sources: int, dst: int, probe: PortSet) -> bool:
        """Whether some class in `sources` may (allowed or unknown) open `probe` on `dst`."""
        return any(block.src_mask & sources and probe & (block.allowed | block.unknown)
                   for block in self.covering(dst))


def reachability(analysis, level: str = "workload", namespaces: Sequence[str] = ()) -> list[Reachability]:
    """For every client (pod, workload or namespace) and Service port: which ready backends it can reach.

    `namespaces` keeps the rows whose client or Service is in one of them.
    """
    uni = analysis.universe
    index = FlowIndex(analysis)
    wanted = set(namespaces)
    clients: dict[str, list[int]] = {}
    for cls in uni.classes[:uni.pod_count]:
        for pod in cls.pods:
            if pod.host_network:
                continue
            ids = clients.setdefault(endpoint_id(pod, level), [])
            if cls.index not in ids:
                ids.append(cls.index)
    out = []
    for spb in service_backends(analysis.state):
        svc_id = f"{spb.service.namespace}/{spb.service.name}"
        for client, classes in sorted(clients.items()):
            # -n keeps a row when the client or the Service is in one of the namespaces.
            if wanted and spb.service.namespace not in wanted and client.split("/", 1)[0] not in wanted:
                continue
            result = Reachability(client, svc_id, spb.port, NO_BACKENDS)
            for backend in spb.backends:
                if not backend.ready:
                    result.not_ready.append(backend.id)
                    continue
                if backend.target_port is None:
                    result.missing_port.append(backend.id)
                    continue
                dst = backend_class(uni, backend)
                probe = PortSet.ports(backend.protocol, backend.target_port)
                verdict = "denied"
                for src in classes:
                    if backend.pod is not None and src == dst and _only_self(analysis, client, backend, level):
                        verdict = "allowed"  # a pod reaching itself through its own Service: no policy applies
                        break
                    allowed, unknown, _ = index.sets(src, dst)
                    if probe <= allowed:
                        verdict = "allowed"
                        break
                    if probe & unknown:
                        verdict = "unknown"
                {"allowed": result.reachable, "denied": result.unreachable,
                 "unknown": result.unknown}[verdict].append(backend.id)
            result.status = _status(result)
            out.append(result)
    return out


def _only_self(analysis, client: str, backend: Backend, level: str) -> bool:
    return level == "pod" and backend.pod is not None and backend.pod.id == client


def backend_class(uni, backend: Backend) -> int:
    if backend.pod is not None:
        return uni.class_of_pod[backend.pod.id]
    return uni.region_class(str(ipaddress.ip_address(backend.address))).index


def _status(r: Reachability) -> str:
    serving = len(r.reachable) + len(r.unreachable) + len(r.unknown)
    if serving == 0:
        return NO_BACKENDS
    if r.unknown and not r.unreachable and not r.reachable:
        return UNKNOWN
    if r.unknown:
        return UNKNOWN if not r.reachable else SOME
    if not r.unreachable:
        return ALL_REACHABLE
    return SOME if r.reachable else NONE_REACHABLE


@dataclass
class ServiceExplanation:
    client: str
    service: str
    port: ServicePort
    status: str
    backends: list  # (backend id, target port or None, Explanation or None, note)


class ServiceNotFound(LookupError):
    pass


def explain_service(analysis, client: str, target: str) -> ServiceExplanation:
    """`explain CLIENT svc:NS/NAME:PORT`: the Service port's ready backends, each explained on its target port."""
    from .explain import explain
    spec = target[4:] if target.startswith("svc:") else target
    svc_id, _, port_text = spec.rpartition(":")
    if not svc_id or "/" not in svc_id:
        raise ServiceNotFound(f"{target!r}: write svc:NAMESPACE/NAME:PORT (port number or name)")
    matches = [spb for spb in service_backends(analysis.state)
               if f"{spb.service.namespace}/{spb.service.name}" == svc_id
               and (str(spb.port.port) == port_text or spb.port.name == port_text)]
    if not matches:
        known = sorted({f"{s.namespace}/{s.name}:{p.name or p.port}" for s in analysis.state.services for p in s.ports
                        if f"{s.namespace}/{s.name}" == svc_id})
        hint = f" (it has {', '.join(known)})" if known else " (no such Service)"
        raise ServiceNotFound(f"no Service port {svc_id}:{port_text}{hint}")
    spb = matches[0]
    rows = []
    reached = denied = unknown = 0
    for backend in spb.backends:
        if not backend.ready:
            rows.append((backend.id, backend.target_port, None, "not ready: kube-proxy sends it nothing"))
            continue
        if backend.target_port is None:
            rows.append((backend.id, None, None, f"declares no port named {spb.port.target_port!r}"))
            continue
        exp = explain(analysis, client, backend.id, backend.protocol, backend.target_port)
        reached += exp.verdict == "allowed"
        denied += exp.verdict == "denied"
        unknown += exp.verdict == "unknown"
        rows.append((backend.id, backend.target_port, exp, ""))
    total = reached + denied + unknown
    status = (NO_BACKENDS if total == 0 else UNKNOWN if unknown and not (reached and denied)
              else ALL_REACHABLE if reached == total else NONE_REACHABLE if denied == total else SOME)
    return ServiceExplanation(client, svc_id, spb.port, status, rows)
