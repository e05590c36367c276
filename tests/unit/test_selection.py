"""The class index answers every matcher exactly as the matcher itself does, class by class (three-valued)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.engine.evaluate import Evaluator
from auditor.engine.selection import ClassIndex, mask_of, select
from auditor.policy.ir import AllOf, AnyOf
from auditor.sources.manifests import build_state, load_manifests
from tests.strategies import clusters

CASES = sorted((Path(__file__).parents[1] / "conformance").rglob("*.yaml"))


def _matchers(policies):
    """Every matcher the policies use, parts of AnyOf/AllOf included."""
    todo = []
    for policy in policies.policies:
        todo.append(policy.selector)
        for direction in ("ingress", "egress"):
            for rule in policy.rules(direction) or ():
                todo.extend((rule.peer, rule.local))
    seen = []
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.append(m)
        todo.extend(getattr(m, "options", ()) if isinstance(m, AnyOf) else getattr(m, "parts", ())
                    if isinstance(m, AllOf) else ())
    return seen


def _check(analysis) -> int:
    """Compares the index with `match` on every (matcher, class); returns how many fast paths it compared."""
    uni = analysis.universe
    evaluator = Evaluator(uni, analysis.policies)
    index = ClassIndex(uni)
    compared = 0
    for matcher in _matchers(analysis.policies):
        fast = select(index, matcher, evaluator.mask)
        if fast is None:
            continue
        compared += 1
        yes = mask_of(c.index for c in uni.classes if matcher.match(c.info) is True)
        maybe = mask_of(c.index for c in uni.classes if matcher.match(c.info) is None)
        assert fast == (yes, maybe), f"{matcher.describe()}: index {fast} != match {(yes, maybe)}"
    return compared


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_pods=8, max_policies=5), st.sets(st.sampled_from(["x", "y", "z"])))
def test_index_equals_match_on_random_clusters(objects, unread_namespaces):
    # Dropping some Namespace objects leaves their labels unknown: namespace selectors then answer "maybe".
    kept = [o for o in objects if not (o["kind"] == "Namespace" and o["metadata"]["name"] in unread_namespaces)]
    _check(analyze(build_state([(o, "generated") for o in kept])))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_index_equals_match_on_conformance_cases(path):
    case = yaml.safe_load(path.read_text())
    if not isinstance(case, dict) or "expect" not in case:
        pytest.skip("not a case")
    if "manifests" in case:
        state = load_manifests([str((path.parent / case["manifests"]).resolve())])
    else:
        state = build_state([(o, f"{path.name}#{i}") for i, o in enumerate(case["objects"])])
    _check(analyze(state))


def test_the_index_is_used_for_kubernetes_selectors():
    # Without this, the equality tests above could pass by never taking a fast path.
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"team": "a"}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}},
         "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x"},
         "spec": {"podSelector": {"matchLabels": {"app": "a"}},
                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}},
                                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.1.0/24"]}}]}]}},
    ]
    assert _check(analyze(build_state([(o, "t") for o in objects]))) >= 4
