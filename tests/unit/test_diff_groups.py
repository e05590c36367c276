"""The grouped diff equals a pair-by-pair comparison of the two matrices (worked out here from the pair views)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.engine.diff import diff_analyses
from auditor.sets.ports import NONE, PORT_PROTOCOLS, PortSet
from auditor.sources.manifests import build_state
from tests.strategies import clusters, network_policies

VISIBLE = PortSet({p: PortSet.all().get(p) for p in PORT_PROTOCOLS})


def _brute(old, new, level):
    old_view, new_view = old.matrix_view(level), new.matrix_view(level)
    common = {e.id for e in old_view.endpoints} & {e.id for e in new_view.endpoints}
    before = {(c.src, c.dst): c for c in old_view.connections}
    after = {(c.src, c.dst): c for c in new_view.connections}
    out = {}
    for key in set(before) | set(after):
        if not set(key) <= common:
            continue
        b, a = before.get(key), after.get(key)
        b_allowed, a_allowed = (b.allowed if b else NONE), (a.allowed if a else NONE)
        b_unknown, a_unknown = (b.unknown if b else NONE), (a.unknown if a else NONE)
        # Allowed before and unknown now is newly unknown, not newly denied.
        change = ((a_allowed - b_allowed) & VISIBLE, (b_allowed - a_allowed - a_unknown) & VISIBLE,
                  (a_unknown - b_unknown) & VISIBLE)
        if any(change):
            out[key] = change
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_pods=8, max_policies=4), st.data(), st.sampled_from(["pod", "workload", "namespace"]))
def test_grouped_diff_equals_the_pairwise_diff(objects, data, level):
    change = data.draw(st.sampled_from(["add", "remove", "both"]))
    after = list(objects)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    if change in ("remove", "both") and policies:
        after.remove(data.draw(st.sampled_from(policies)))
    if change in ("add", "both"):
        after.append(data.draw(network_policies(99)))
    old = analyze(build_state([(o, "old") for o in objects]))
    new = analyze(build_state([(o, "new") for o in after]))
    diff = diff_analyses(old, new, level)
    got = {(c.src, c.dst): (c.opened, c.closed, c.unknown_now) for c in diff.pair_changes()}
    assert got == _brute(old, new, level)
    # Change blocks never overlap: each changed pair is in exactly one block (or one self entry).
    covered = [(a, b) for blk in diff.blocks for a in blk.src.members for b in blk.dst.members if a != b]
    covered += [(a, a) for s in diff.self_changes for a in s.group.members]
    assert len(covered) == len(set(covered)) == len(got)
