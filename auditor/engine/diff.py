"""What changed between two matrices: flows newly allowed, newly denied, newly unknown.

Compared at one level (workload by default: pod names churn with every rollout, workloads do not). A flow whose
endpoints exist on only one side is reported apart, as an endpoint that appeared or disappeared, so a new
Deployment's flows do not drown the policy changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sets.ports import NONE, PortSet
from .matrix import MatrixView


@dataclass
class FlowChange:
    src: str
    dst: str
    opened: PortSet  # allowed now, not before
    closed: PortSet  # allowed before, not now
    unknown_now: PortSet  # unknown now, known before
    before: PortSet = NONE
    after: PortSet = NONE


@dataclass
class MatrixDiff:
    level: str
    changes: list[FlowChange] = field(default_factory=list)
    added_endpoints: list[str] = field(default_factory=list)
    removed_endpoints: list[str] = field(default_factory=list)
    protocols: tuple[str, ...] = ()

    @property
    def newly_allowed(self) -> list[FlowChange]:
        return [c for c in self.changes if c.opened]

    @property
    def newly_denied(self) -> list[FlowChange]:
        return [c for c in self.changes if c.closed]


def diff_views(old: MatrixView, new: MatrixView) -> MatrixDiff:
    protocols = tuple(dict.fromkeys(old.protocols + new.protocols))
    old_ids = {e.id for e in old.endpoints}
    new_ids = {e.id for e in new.endpoints}
    old_conns = {(c.src, c.dst): c for c in old.connections}
    new_conns = {(c.src, c.dst): c for c in new.connections}
    result = MatrixDiff(new.level, protocols=protocols,
                        added_endpoints=sorted(new_ids - old_ids), removed_endpoints=sorted(old_ids - new_ids))
    for key in sorted(set(old_conns) | set(new_conns)):
        src, dst = key
        if not ({src, dst} <= old_ids and {src, dst} <= new_ids):
            continue  # a flow of an endpoint that exists on one side only: reported as that endpoint
        before = old_conns.get(key)
        after = new_conns.get(key)
        allowed_before = before.allowed if before else NONE
        allowed_after = after.allowed if after else NONE
        unknown_before = before.unknown if before else NONE
        unknown_after = after.unknown if after else NONE
        change = FlowChange(src, dst, opened=allowed_after - allowed_before, closed=allowed_before - allowed_after,
                            unknown_now=unknown_after - unknown_before - allowed_before,
                            before=allowed_before, after=allowed_after)
        # Only the protocols the output shows count (ICMP changes count only where some policy names ICMP).
        visible = PortSet({p: PortSet.all().get(p) for p in protocols})
        change.opened &= visible
        change.closed &= visible
        change.unknown_now &= visible
        if change.opened or change.closed or change.unknown_now:
            result.changes.append(change)
    return result
