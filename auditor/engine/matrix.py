"""From the class matrix to endpoints at the level the user asked for: pods, workloads or namespaces.

Aggregation is part of computing, not of rendering, so it lives here: at workload and namespace level a connection
allows what *some* pod pair of the two endpoints allows (the union), and is unknown where some pair is unknown and no
pair is allowed. A pod never connects to itself (DESIGN.md), so a workload or namespace connects to itself only
through two different pods.

Pairs are quadratic in endpoints even when the analysis is tiny (2,000 pods and no policy: 3 blocks, 4 million
pairs), so `iter_connections` yields them one source row at a time, in (source, destination) order, holding one
row in memory; `expand` materializes them for small views and tests. The grouped form (groups.py) never expands.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from ..model import Pod
from ..sets.ports import NONE, PortSet

LEVELS = ("pod", "workload", "namespace")


@dataclass
class MatrixEndpoint:
    id: str
    kind: str  # "Pod", "Workload" kinds (Deployment, ...), "Namespace", "External"
    namespace: str | None = None
    name: str | None = None
    workload: str | None = None
    ips: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)
    cidr: str | None = None
    excepts: tuple[str, ...] = ()
    pods: int = 0

    @property
    def external(self) -> bool:
        return self.kind == "External"


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


@dataclass
class LevelMap:
    """Which endpoints (at one level) each class holds, and how many of their pods."""

    level: str
    endpoints: dict[str, MatrixEndpoint]  # every endpoint, by id
    members: list[dict[str, int]]  # per class index: endpoint id -> number of its pods in the class
    classes: dict[str, list[int]]  # endpoint id -> its class indices

    def sorted_endpoints(self) -> list[MatrixEndpoint]:
        """Cluster endpoints by id, then external ones: the order of every output."""
        return sorted(self.endpoints.values(), key=lambda e: (e.external, e.id))


def endpoint_id(pod: Pod, level: str) -> str:
    if level == "pod":
        return pod.id
    if level == "workload":
        return pod.workload_id
    return pod.namespace


def level_map(analysis, level: str) -> LevelMap:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    cached = analysis.__dict__.setdefault("_level_maps", {}).get(level)
    if cached is not None:
        return cached
    uni = analysis.universe
    endpoints: dict[str, MatrixEndpoint] = {}
    members: list[dict[str, int]] = []
    classes: dict[str, list[int]] = {}
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
        for ep_id in counts:
            classes.setdefault(ep_id, []).append(cls.index)
        members.append(counts)
    result = LevelMap(level, endpoints, members, classes)
    analysis.__dict__["_level_maps"][level] = result
    return result


def in_namespaces(endpoint: MatrixEndpoint, wanted: set[str]) -> bool:
    return not wanted or endpoint.namespace in wanted


def iter_connections(analysis, level: str, namespaces: Sequence[str] = ()) -> Iterator[Connection]:
    """Every connection of the view, sorted by (source id, destination id), computed one source row at a time.

    A pair's sets are the union of the blocks that cover it (unknown minus allowed); with `namespaces`, only pairs
    with an end in one of them. Memory holds one row; time is the number of pairs the blocks cover.
    """
    for src, dst, allowed, unknown, reasons in iter_pairs(analysis, level, namespaces):
        yield Connection(src, dst, allowed, unknown, reasons)


def iter_pairs(analysis, level: str, namespaces: Sequence[str] = ()) -> Iterator[tuple]:
    """`iter_connections` as plain tuples (src, dst, allowed, unknown, reasons): what streamed outputs read."""
    for src_id, runs, pairs in iter_rows(analysis, level, namespaces):
        if runs is None:
            yield from pairs
            continue
        streams = [[(dst_id, run) for dst_id, _ in run.targets if dst_id != run.skip] for run in runs]
        for dst_id, run in (heapq.merge(*streams, key=lambda item: item[0]) if len(streams) > 1 else streams[0]):
            yield src_id, dst_id, run.allowed, run.unknown, run.reasons


@dataclass
class RowRun:
    """A whole row with one value: the destinations of one block (sorted), less `skip` (the source itself)."""

    targets: list  # (dst id, dst class), sorted by id; shared between rows: never modify
    skip: str | None
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str]

    def __iter__(self):
        return iter((self.targets, self.skip, self.allowed, self.unknown, self.reasons))


def iter_rows(analysis, level: str, namespaces: Sequence[str] = ()) -> Iterator[tuple]:
    """One item per source, in id order: (src id, [RowRun, ...], None) when the blocks that cover the source's
    class reach disjoint destinations (most sources of a dense cluster: each block's destinations as they are,
    already sorted, with one value), else (src id, None, [pairs]) with the union of the blocks that cover it,
    sorted by destination."""
    lm = level_map(analysis, level)
    uni = analysis.universe
    wanted = set(namespaces)
    blocks = analysis.matrix.blocks
    by_src_class: list[list[int]] = [[] for _ in uni.classes]
    for number, block in enumerate(blocks):
        for s in uni.indices(block.src_mask):
            by_src_class[s].append(number)
    targets: dict[int, list[tuple[str, int]]] = {}  # block -> (dst id, dst class), sorted by id

    def targets_of(number: int) -> list[tuple[str, int]]:
        found = targets.get(number)
        if found is None:
            found = sorted((dst_id, t) for t in uni.indices(blocks[number].dst_mask) for dst_id in lm.members[t])
            targets[number] = found
        return found

    shown = {ep_id: in_namespaces(ep, wanted) for ep_id, ep in lm.endpoints.items()} if wanted else None
    # Blocks that reach disjoint classes reach disjoint endpoints only when no endpoint spans two classes (always
    # at pod level; at workload level unless a workload's pods differ; rarely at namespace level).
    one_class_each = level == "pod" or all(len(c) == 1 for c in lm.classes.values())
    for src_id in sorted(lm.endpoints):
        src_shown = shown is None or shown[src_id]
        covering = [(number, s) for s in lm.classes[src_id] for number in by_src_class[s]]
        if src_shown and one_class_each and _disjoint(blocks[n].dst_mask for n, _ in covering):
            runs = []
            for number, s in covering:
                block = blocks[number]
                unknown = block.unknown - block.allowed if block.unknown else NONE
                if not block.allowed and not unknown:
                    continue
                # Only the pod itself: self traffic never crosses policy (a workload reaches itself only through
                # two pods).
                skip = src_id if level == "pod" or lm.members[s][src_id] < 2 else None
                runs.append(RowRun(targets_of(number), skip, block.allowed, unknown,
                                   block.reasons if unknown else frozenset()))
            if runs:
                yield src_id, runs, None
            continue
        row: dict[str, list] = {}
        for number, s in covering:
            block = blocks[number]
            skip_self = level == "pod" or lm.members[s][src_id] < 2
            for dst_id, t in targets_of(number):
                if skip_self and t == s and dst_id == src_id:
                    continue
                if not src_shown and not shown[dst_id]:
                    continue
                entry = row.get(dst_id)
                if entry is None:
                    row[dst_id] = [block.allowed, block.unknown, block.reasons]
                elif entry[0] is not block.allowed or entry[1] is not block.unknown:
                    entry[0] = entry[0] | block.allowed
                    entry[1] = entry[1] | block.unknown
                    entry[2] = entry[2] | block.reasons
        pairs = []
        for dst_id in sorted(row):
            allowed, unknown, reasons = row[dst_id]
            unknown = unknown - allowed if unknown else NONE
            if allowed or unknown:
                pairs.append((src_id, dst_id, allowed, unknown, reasons if unknown else frozenset()))
        if pairs:
            yield src_id, None, pairs


def _disjoint(masks) -> bool:
    seen = 0
    for mask in masks:
        if seen & mask:
            return False
        seen |= mask
    return True


def expand(analysis, level: str, namespaces: Sequence[str] = ()) -> MatrixView:
    """The whole pair view in memory: for small clusters, tests and explain-sized questions."""
    lm = level_map(analysis, level)
    wanted = set(namespaces)
    connections = list(iter_connections(analysis, level, namespaces))
    return MatrixView(level, shown_endpoints(lm, wanted, connections), connections, analysis.protocols,
                      analysis.alerts)


def shown_endpoints(lm: LevelMap, wanted: set[str], connections=None) -> list[MatrixEndpoint]:
    """The endpoints a view lists: with -n, those of the namespaces (and external ones), plus the other end of
    every connection shown when `connections` are given."""
    if not wanted:
        return lm.sorted_endpoints()
    referenced = set()
    for conn in connections or ():
        referenced.add(conn.src)
        referenced.add(conn.dst)
    return [e for e in lm.sorted_endpoints() if e.external or in_namespaces(e, wanted) or e.id in referenced]


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
