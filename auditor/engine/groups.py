"""The grouped form of the matrix: groups of endpoints, and connections between groups. Exact and small.

A block of the class matrix says "every class in S may open these ports on every class in D". Mapped to the level's
endpoints, S and D become groups, and the block a connection between them, so the output grows with blocks, not
with pairs: 10,000 pods and no policy is one connection from "all 10,000 pods" to itself.

Meaning (DESIGN.md, `matrix -o json --grouped`): a pair (a in `from`, b in `to`, a != b) has the union of the
`allowed` sets of the connections that cover it, and the union of their `unknown` sets minus what is allowed; pairs
no connection covers have nothing. At workload and namespace level an endpoint holds several pods and may reach
itself (through two different pods): those pairs are `self` entries, one group and its sets. Expanding both gives
exactly the pair document (tests/unit/test_groups.py checks it on every conformance case and random clusters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..sets.ports import NONE, PortSet
from .describe import Describer
from .matrix import LevelMap, MatrixEndpoint, level_map, shown_endpoints


@dataclass
class EndpointGroup:
    id: str
    members: tuple[str, ...]  # endpoint ids, sorted
    description: str


@dataclass
class GroupConnection:
    src: str  # group id
    dst: str  # group id
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str] = frozenset()
    # The class blocks it was made from, as (src mask, dst mask, block): what explains a sample pair.
    parts: list = field(default_factory=list, compare=False, repr=False)


@dataclass
class SelfConnection:
    """Each member of `group` reaches itself (one of its pods another) with these sets."""

    group: str
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str] = frozenset()


@dataclass
class GroupedView:
    level: str
    endpoints: list[MatrixEndpoint]
    groups: list[EndpointGroup]
    connections: list[GroupConnection]
    self_connections: list[SelfConnection]
    protocols: tuple[str, ...]
    alerts: list = field(default_factory=list)

    @property
    def group_by_id(self) -> dict[str, EndpointGroup]:
        return {g.id: g for g in self.groups}

    def pair_bound(self) -> int:
        """At most this many pairs the view stands for (cheap: from group sizes, without expanding)."""
        sizes = {g.id: len(g.members) for g in self.groups}
        return sum(sizes[c.src] * sizes[c.dst] for c in self.connections) + sum(
            sizes[s.group] for s in self.self_connections)


def grouped_view(analysis, level: str, namespaces: Sequence[str] = ()) -> GroupedView:
    lm = level_map(analysis, level)
    uni = analysis.universe
    wanted = set(namespaces)
    shown_mask = uni.all_mask
    if wanted:
        shown_mask = 0
        for ns in wanted:
            shown_mask |= uni.by_namespace.get(ns, 0)
    builder = _Groups(analysis, lm)
    conns: dict[tuple[str, str], list] = {}
    for block in analysis.matrix.blocks:
        parts = [(block.src_mask, block.dst_mask)]
        if wanted:  # only pairs with an end in the namespaces: (shown, any) and (not shown, shown)
            parts = [(block.src_mask & shown_mask, block.dst_mask),
                     (block.src_mask & ~shown_mask, block.dst_mask & shown_mask)]
        for src_mask, dst_mask in parts:
            if not src_mask or not dst_mask:
                continue
            src, dst = builder.group(src_mask), builder.group(dst_mask)
            if src is None or dst is None:
                continue
            if src.members == dst.members and len(src.members) == 1:
                continue  # one endpoint to itself: only self pairs, which `self` entries carry
            key = (src.id, dst.id)
            entry = conns.get(key)
            if entry is None:
                conns[key] = [block.allowed, block.unknown, block.reasons, [(src_mask, dst_mask, block)]]
            else:
                entry[0] = entry[0] | block.allowed
                entry[1] = entry[1] | block.unknown
                entry[2] = entry[2] | block.reasons
                entry[3].append((src_mask, dst_mask, block))
    connections = [GroupConnection(s, d, a, u, r if u else frozenset(), parts)
                   for (s, d), (a, u, r, parts) in conns.items() if a or u]
    selfs = _self_connections(analysis, lm, builder, shown_mask) if level != "pod" else []
    groups = builder.used(connections, selfs)
    order = {g.id: i for i, g in enumerate(groups)}
    connections.sort(key=lambda c: (order[c.src], order[c.dst]))
    endpoints = shown_endpoints(lm, wanted, None)
    if wanted:
        listed = {e.id for e in endpoints}
        extra = {m for g in groups for m in g.members} - listed
        endpoints = [e for e in lm.sorted_endpoints() if e.id in listed or e.id in extra]
    return GroupedView(level, endpoints, groups, connections, selfs, analysis.protocols, analysis.alerts)


class _Groups:
    """Class masks -> endpoint groups, deduplicated by members, described once."""

    def __init__(self, analysis, lm: LevelMap):
        self.lm = lm
        self.uni = analysis.universe
        self.describer = Describer(analysis, lm)
        self.by_mask: dict[int, EndpointGroup | None] = {}
        self.by_members: dict[tuple[str, ...], EndpointGroup] = {}

    def group(self, mask: int) -> EndpointGroup | None:
        if mask in self.by_mask:
            return self.by_mask[mask]
        members: set[str] = set()
        for c in self.uni.indices(mask):
            members.update(self.lm.members[c])
        group = self.of_members(tuple(sorted(members)), mask) if members else None
        self.by_mask[mask] = group
        return group

    def of_members(self, members: tuple[str, ...], mask: int | None) -> EndpointGroup:
        group = self.by_members.get(members)
        if group is None:
            if mask is None:
                mask = 0
                for ep_id in members:
                    for c in self.lm.classes[ep_id]:
                        mask |= 1 << c
            group = EndpointGroup(f"t{len(self.by_members)}", members, self.describer.describe(mask, members))
            self.by_members[members] = group
        return group

    def used(self, connections, selfs) -> list[EndpointGroup]:
        """The groups referenced, numbered g0, g1, ... in a stable order (larger groups first, then by members)."""
        ids = {c.src for c in connections} | {c.dst for c in connections} | {s.group for s in selfs}
        chosen = [g for g in self.by_members.values() if g.id in ids]
        chosen.sort(key=lambda g: (-len(g.members), g.members))
        renames = {}
        for number, group in enumerate(chosen):
            renames[group.id] = f"g{number}"
            group.id = f"g{number}"
        for conn in connections:
            conn.src, conn.dst = renames[conn.src], renames[conn.dst]
        for entry in selfs:
            entry.group = renames[entry.group]
        return chosen


def _self_connections(analysis, lm: LevelMap, builder: _Groups, shown_mask: int) -> list[SelfConnection]:
    """At workload and namespace level: what each endpoint allows between two of its own pods.

    An endpoint whose pods are all in one class reaches itself through that class's own blocks, when it has two
    pods there; one spread over several classes is checked against each block's masks.
    """
    uni = analysis.universe
    blocks = analysis.matrix.blocks
    single: dict[int, list[str]] = {}  # class -> endpoints with >= 2 pods, all in that class
    spread: list[str] = []
    for ep_id, classes in lm.classes.items():
        if lm.endpoints[ep_id].external:
            continue
        if len(classes) == 1:
            if lm.members[classes[0]][ep_id] >= 2 and shown_mask >> classes[0] & 1:
                single.setdefault(classes[0], []).append(ep_id)
        elif any(shown_mask >> c & 1 for c in classes):
            spread.append(ep_id)
    values: dict[str, list] = {}

    def add(ep_id: str, block) -> None:
        entry = values.get(ep_id)
        if entry is None:
            values[ep_id] = [block.allowed, block.unknown, block.reasons]
        else:
            entry[0] = entry[0] | block.allowed
            entry[1] = entry[1] | block.unknown
            entry[2] = entry[2] | block.reasons

    for block in blocks:
        both = block.src_mask & block.dst_mask
        if single and both:
            for c in uni.indices(both):
                for ep_id in single.get(c, ()):
                    add(ep_id, block)
        for ep_id in spread:
            own = 0
            for c in lm.classes[ep_id]:
                own |= 1 << c
            src, dst = block.src_mask & own, block.dst_mask & own
            if not src or not dst:
                continue
            if src == dst and src & (src - 1) == 0:  # one class on both sides: needs two pods in it
                if lm.members[src.bit_length() - 1][ep_id] < 2:
                    continue
            add(ep_id, block)
    by_value: dict[tuple, list[str]] = {}
    for ep_id, (allowed, unknown, reasons) in values.items():
        unknown = unknown - allowed if unknown else NONE
        if allowed or unknown:
            by_value.setdefault((allowed, unknown, reasons if unknown else frozenset()), []).append(ep_id)
    out = []
    for (allowed, unknown, reasons), ep_ids in by_value.items():
        group = builder.of_members(tuple(sorted(ep_ids)), None)
        out.append(SelfConnection(group.id, allowed, unknown, reasons))
    return out
