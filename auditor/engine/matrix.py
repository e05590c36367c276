"""Expand the class-level matrix into endpoints and connections at the level the user asked for.

Aggregation is part of computing, not of rendering, so it lives here: at workload and namespace level a connection
allows what *some* pod pair of the two groups allows (the union), and is unknown where some pair is unknown and no
pair is allowed. A pod never connects to itself (DESIGN.md), so a workload or namespace connects to itself only
through two different pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..model import Pod
from ..sets.ports import PortSet

LEVELS = ("pod", "workload", "namespace")


@dataclass
class MatrixEndpoint:
    id: str
    kind: str  # "Pod", "Workload", "Namespace", "External"
    namespace: str | None = None
    name: str | None = None
    workload: str | None = None
    ips: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)
    cidr: str | None = None
    excepts: tuple[str, ...] = ()
    pods: int = 0


@dataclass
class Connection:
    src: str
    dst: str
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str] = frozenset()


@dataclass
class MatrixView:
    level: str
    endpoints: list[MatrixEndpoint]
    connections: list[Connection]
    protocols: tuple[str, ...]
    alerts: list


def endpoint_id(pod: Pod, level: str) -> str:
    if level == "pod":
        return pod.id
    if level == "workload":
        return pod.workload_id
    return pod.namespace


def expand(analysis, level: str, namespaces: Sequence[str] = ()) -> MatrixView:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    uni = analysis.universe
    wanted = set(namespaces)

    def shown(pod: Pod) -> bool:
        return not wanted or pod.namespace in wanted

    endpoints: dict[str, MatrixEndpoint] = {}
    members: list[dict[str, int]] = []  # per class: endpoint id -> number of its pods in the class
    for cls in uni.classes:
        counts: dict[str, int] = {}
        if cls.region is not None:
            ep_id = cls.region.id
            counts[ep_id] = 1
            endpoints.setdefault(ep_id, MatrixEndpoint(ep_id, "External", cidr=str(cls.region.cidr),
                                                       excepts=tuple(str(e) for e in cls.region.excepts)))
        for pod in cls.pods:
            ep_id = endpoint_id(pod, level)
            counts[ep_id] = counts.get(ep_id, 0) + 1
            if ep_id not in endpoints:
                endpoints[ep_id] = _endpoint(pod, level, analysis)
            if level != "pod":
                endpoints[ep_id].pods += 1
        members.append(counts)

    pairs: dict[tuple[str, str], list] = {}
    for block in analysis.matrix.blocks:
        for s in uni.indices(block.src_mask):
            src_counts = members[s]
            for t in uni.indices(block.dst_mask):
                dst_counts = members[t]
                for src_id, src_n in src_counts.items():
                    for dst_id in dst_counts:
                        if src_id == dst_id and s == t:
                            if level == "pod" or src_n < 2:
                                continue  # only the pod itself: self traffic never crosses policy
                        key = (src_id, dst_id)
                        entry = pairs.get(key)
                        if entry is None:
                            pairs[key] = [block.allowed, block.unknown, block.reasons]
                        else:
                            entry[0] = entry[0] | block.allowed
                            entry[1] = entry[1] | block.unknown
                            entry[2] = entry[2] | block.reasons

    connections = []
    for (src_id, dst_id), (allowed, unknown, reasons) in pairs.items():
        if wanted and not (_in(endpoints[src_id], wanted) or _in(endpoints[dst_id], wanted)):
            continue
        unknown = unknown - allowed
        if not allowed and not unknown:
            continue
        connections.append(Connection(src_id, dst_id, allowed, unknown, reasons if unknown else frozenset()))
    connections.sort(key=lambda c: (c.src, c.dst))
    referenced = {c.src for c in connections} | {c.dst for c in connections}
    shown_endpoints = [e for e in endpoints.values()
                       if e.kind == "External" or not wanted or _in(e, wanted) or e.id in referenced]
    shown_endpoints.sort(key=lambda e: (e.kind == "External", e.id))
    return MatrixView(level, shown_endpoints, connections, analysis.protocols, analysis.alerts)


def _in(endpoint: MatrixEndpoint, wanted: set[str]) -> bool:
    return not wanted or (endpoint.namespace in wanted)


def _endpoint(pod: Pod, level: str, analysis) -> MatrixEndpoint:
    if level == "pod":
        return MatrixEndpoint(pod.id, "Pod", pod.namespace, pod.name, pod.workload or f"Pod/{pod.name}",
                              tuple(pod.ips), dict(pod.labels))
    if level == "workload":
        kind, _, name = (pod.workload or f"Pod/{pod.name}").partition("/")
        return MatrixEndpoint(pod.workload_id, kind, pod.namespace, name, pod.workload or f"Pod/{pod.name}")
    ns = analysis.state.namespaces.get(pod.namespace)
    return MatrixEndpoint(pod.namespace, "Namespace", pod.namespace, pod.namespace,
                          labels=dict(ns.labels) if ns else {})
