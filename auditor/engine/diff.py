"""What changed between two analyses: flows newly allowed, newly denied, newly unknown.

Compared at one level (workload by default: pod names churn with every rollout, workloads do not). A flow whose
endpoints exist on only one side is reported apart, as an endpoint that appeared or disappeared, so a new
Deployment's flows do not drown the policy changes.

The comparison works on the grouped matrices, never on pair lists: each side's connections are rectangles (a group
of sources times a group of destinations, with the union of the rectangles that cover a pair). Sources are split by
which rectangles they start on, on each side; a part whose rectangles are the same on both sides did not change and
costs nothing more. The others are split by their destination rectangles, and each piece is compared once. The
result is a short list of disjoint change blocks, which `pair_changes` expands when someone wants pairs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from ..sets.ports import NONE, PortSet
from .describe import Describer
from .groups import EndpointGroup, GroupedView
from .matrix import level_map


@dataclass
class FlowChange:
    src: str
    dst: str
    opened: PortSet  # allowed now, not before
    closed: PortSet  # allowed before, denied now
    unknown_now: PortSet  # unknown now, known (allowed or denied) before
    before: PortSet = NONE
    after: PortSet = NONE


@dataclass
class ChangeBlock:
    """Every pair (a in src, b in dst, a != b) changed exactly like this; blocks never overlap."""

    src: EndpointGroup
    dst: EndpointGroup
    opened: PortSet
    closed: PortSet
    unknown_now: PortSet
    before: PortSet
    after: PortSet


@dataclass
class SelfChange:
    """Each member of `group` changed like this toward itself (between two of its own pods)."""

    group: EndpointGroup
    opened: PortSet
    closed: PortSet
    unknown_now: PortSet
    before: PortSet
    after: PortSet


@dataclass
class MatrixDiff:
    level: str
    blocks: list[ChangeBlock] = field(default_factory=list)
    self_changes: list[SelfChange] = field(default_factory=list)
    added_endpoints: list[str] = field(default_factory=list)
    removed_endpoints: list[str] = field(default_factory=list)
    protocols: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.blocks or self.self_changes)

    @property
    def opens(self) -> bool:
        return any(b.opened for b in self.blocks) or any(s.opened for s in self.self_changes)

    @property
    def groups(self) -> list[EndpointGroup]:
        found: dict[str, EndpointGroup] = {}
        for block in self.blocks:
            found.setdefault(block.src.id, block.src)
            found.setdefault(block.dst.id, block.dst)
        for change in self.self_changes:
            found.setdefault(change.group.id, change.group)
        return sorted(found.values(), key=lambda g: int(g.id[1:]))

    def pair_bound(self) -> int:
        return sum(len(b.src.members) * len(b.dst.members) for b in self.blocks) + sum(
            len(s.group.members) for s in self.self_changes)

    def pair_changes(self) -> Iterator[FlowChange]:
        """Every changed pair, sorted by (source, destination): one source row in memory at a time."""
        by_src: dict[str, list[ChangeBlock]] = {}
        for block in self.blocks:
            for src in block.src.members:
                by_src.setdefault(src, []).append(block)
        selfs = {m: s for s in self.self_changes for m in s.group.members}
        for src in sorted(set(by_src) | set(selfs)):
            row = [(dst, b) for b in by_src.get(src, ()) for dst in b.dst.members if dst != src]
            if src in selfs:
                row.append((src, selfs[src]))
            for dst, change in sorted(row, key=lambda item: item[0]):
                yield FlowChange(src, dst, change.opened, change.closed, change.unknown_now, change.before,
                                 change.after)

    @property
    def newly_allowed(self) -> list[FlowChange]:
        return [c for c in self.pair_changes() if c.opened]

    @property
    def newly_denied(self) -> list[FlowChange]:
        return [c for c in self.pair_changes() if c.closed]


def diff_analyses(old, new, level: str = "workload", namespaces: Sequence[str] = ()) -> MatrixDiff:
    old_view, new_view = old.grouped_view(level, namespaces), new.grouped_view(level, namespaces)
    protocols = tuple(dict.fromkeys(old_view.protocols + new_view.protocols))
    old_ids = {e.id for e in old_view.endpoints}
    new_ids = {e.id for e in new_view.endpoints}
    result = MatrixDiff(level, protocols=protocols, added_endpoints=sorted(new_ids - old_ids),
                        removed_endpoints=sorted(old_ids - new_ids))
    common = sorted(old_ids & new_ids)
    bit = {ep: i for i, ep in enumerate(common)}
    visible = PortSet({p: PortSet.all().get(p) for p in protocols})
    old_side, new_side = _Side(old_view, bit), _Side(new_view, bit)

    # Sources by the groups they start connections from, on each side.
    signature: dict[str, tuple[list, list]] = {}
    for number, side in enumerate((old_side, new_side)):
        for group_id, group in side.groups.items():
            if group_id not in side.by_src:
                continue
            for member in group.members:
                if member in bit:
                    signature.setdefault(member, ([], []))[number].append(group_id)
    parts: dict[tuple, int] = {}
    for member, (old_groups, new_groups) in signature.items():
        key = (tuple(old_groups), tuple(new_groups))
        parts[key] = parts.get(key, 0) | 1 << bit[member]

    # Rectangles both sides have, with the same sources, destinations and sets, cover the same pairs the same way:
    # only pairs some other rectangle covers can have changed. Their destinations bound every row's work.
    old_rects, new_rects = Counter(old_side.rectangles()), Counter(new_side.rectangles())
    changed_src = changed_dst = 0
    for rect in (old_rects - new_rects) + (new_rects - old_rects):
        changed_src |= rect[0]
        changed_dst |= rect[1]

    changes: dict[tuple, int] = {}  # (dst mask, values) -> src mask
    for (old_groups, new_groups), src_mask in parts.items():
        if not src_mask & changed_src:
            continue
        old_row = old_side.row(old_groups, changed_dst)
        new_row = new_side.row(new_groups, changed_dst)
        old_count, new_count = Counter(old_row), Counter(new_row)
        if old_count == new_count:
            continue
        # Destinations outside every rectangle the two rows do not share are covered by the same rectangles on both
        # sides: only the others can have changed, and only rectangles reaching them matter there.
        changed = 0
        for rect in (old_count - new_count) + (new_count - old_count):
            changed |= rect[0]
        old_near = [r for r in old_row if r[0] & changed]
        new_near = [r for r in new_row if r[0] & changed]
        for dst_mask in _refine([r[0] & changed for r in old_near + new_near], changed):
            before, before_unknown = _value(old_near, dst_mask)
            after, after_unknown = _value(new_near, dst_mask)
            values = _change(before, before_unknown, after, after_unknown, visible)
            if values is not None:
                key = (dst_mask, values)
                changes[key] = changes.get(key, 0) | src_mask

    old_self, new_self = old_side.self_values(), new_side.self_values()
    self_changes: dict[tuple, list[str]] = {}
    for member in sorted(set(old_self) | set(new_self)):
        if member not in bit:
            continue
        before, before_unknown = old_self.get(member, (NONE, NONE))
        after, after_unknown = new_self.get(member, (NONE, NONE))
        values = _change(before, before_unknown, after, after_unknown, visible)
        if values is not None:
            self_changes.setdefault(values, []).append(member)

    groups = _DiffGroups(new, level, common)
    for (dst_mask, values), src_mask in changes.items():
        result.blocks.append(ChangeBlock(groups.of(src_mask), groups.of(dst_mask), *values))
    for values, members in self_changes.items():
        result.self_changes.append(SelfChange(groups.of_members(tuple(members)), *values))
    result.blocks.sort(key=lambda b: (b.src.members, b.dst.members))
    groups.number(result)
    return result


class _Side:
    """One side's connections as rectangles over the common endpoints."""

    def __init__(self, view: GroupedView, bit: dict[str, int]):
        self.groups = view.group_by_id
        self.bit = bit
        self.masks: dict[str, int] = {}
        self.by_src: dict[str, list] = {}
        for conn in view.connections:
            self.by_src.setdefault(conn.src, []).append((conn.dst, conn.allowed, conn.unknown))
        self.view = view

    def mask(self, group_id: str) -> int:
        cached = self.masks.get(group_id)
        if cached is None:
            cached = 0
            for member in self.groups[group_id].members:
                if member in self.bit:
                    cached |= 1 << self.bit[member]
            self.masks[group_id] = cached
        return cached

    def row(self, src_groups: tuple[str, ...], within: int) -> list[tuple[int, PortSet, PortSet]]:
        """The rectangles the sources of these groups start, those reaching `within`."""
        out = []
        for group_id in src_groups:
            for dst, allowed, unknown in self.by_src.get(group_id, ()):
                mask = self.mask(dst)
                if mask & within:
                    out.append((mask, allowed, unknown))
        return out

    def rectangles(self) -> list[tuple[int, int, PortSet, PortSet]]:
        return [(self.mask(src), self.mask(dst), allowed, unknown) for src, conns in self.by_src.items()
                for dst, allowed, unknown in conns if self.mask(src) and self.mask(dst)]

    def self_values(self) -> dict[str, tuple[PortSet, PortSet]]:
        out = {}
        for entry in self.view.self_connections:
            for member in self.groups[entry.group].members:
                out[member] = (entry.allowed, entry.unknown)
        return out


def _refine(masks: list[int], everything: int) -> list[int]:
    """The pieces of `everything` that the masks cut it into, keeping only pieces some mask covers."""
    parts = [everything]
    covered = 0
    for mask in dict.fromkeys(masks):
        covered |= mask
        parts = [piece for part in parts for piece in (part & mask, part & ~mask) if piece]
    return [p for p in parts if p & covered]


def _value(row, dst_mask: int) -> tuple[PortSet, PortSet]:
    allowed = unknown = NONE
    for mask, a, u in row:
        if mask & dst_mask:
            allowed = allowed | a
            unknown = unknown | u
    return allowed, unknown - allowed


def _change(before, before_unknown, after, after_unknown, visible) -> tuple | None:
    """(opened, closed, unknown_now, before, after), or None when nothing the output shows changed.

    A port allowed before and unknown now is newly unknown, not newly denied: nobody knows it is closed."""
    opened = (after - before) & visible
    closed = (before - after - after_unknown) & visible
    unknown_now = (after_unknown - before_unknown) & visible
    if not (opened or closed or unknown_now):
        return None
    return opened, closed, unknown_now, before, after


class _DiffGroups:
    """Endpoint sets of the diff as groups with an exact description (from the new analysis)."""

    def __init__(self, analysis, level: str, common: list[str]):
        self.common = common
        self.lm = level_map(analysis, level)
        self.describer = Describer(analysis, self.lm)
        self.found: dict[tuple[str, ...], EndpointGroup] = {}

    def of(self, mask: int) -> EndpointGroup:
        members = []
        while mask:
            low = mask & -mask
            members.append(self.common[low.bit_length() - 1])
            mask ^= low
        return self.of_members(tuple(sorted(members)))

    def of_members(self, members: tuple[str, ...]) -> EndpointGroup:
        group = self.found.get(members)
        if group is None:
            classes = 0
            for member in members:
                for c in self.lm.classes.get(member, ()):
                    classes |= 1 << c
            group = EndpointGroup("", members, self.describer.describe(classes, members))
            self.found[members] = group
        return group

    def number(self, diff: MatrixDiff) -> None:
        seen: list[EndpointGroup] = []
        for block in diff.blocks:
            for group in (block.src, block.dst):
                if not group.id:
                    group.id = f"g{len(seen)}"
                    seen.append(group)
        for change in diff.self_changes:
            if not change.group.id:
                change.group.id = f"g{len(seen)}"
                seen.append(change.group)
