"""Bad input never raises: random wrong-typed values anywhere in real manifests (the demo and conformance cases)
must give alerts (and unknown verdicts), never an exception, through loading, analysis, findings and DNS."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.dns.names import DnsSettings, dns_records
from auditor.findings import run_checks
from auditor.sources.manifests import build_state

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [d for f in sorted((ROOT / "examples" / "shop").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
          if d]
for case_file in sorted((ROOT / "tests" / "conformance").glob("*/*.yaml"))[::6]:
    CORPUS += yaml.safe_load(case_file.read_text()).get("objects", [])
WRONG = [None, 1, -5, 70000, "x", "", [], {}, [1, "a"], {"a": 1}, True, "80", "10.0.0.0/33", "!!", "a ==", 1.5]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(value, prefix + (i,))


@st.composite
def damaged_inputs(draw):
    chosen = draw(st.lists(st.sampled_from(range(len(CORPUS))), min_size=1, max_size=10, unique=True))
    objects = []
    for index in chosen:
        obj = copy.deepcopy(CORPUS[index])
        paths = list(_paths(obj))
        for _ in range(draw(st.integers(0, 3)) if paths else 0):
            path = draw(st.sampled_from(paths))
            target = obj
            try:
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = copy.deepcopy(draw(st.sampled_from(WRONG)))
            except (KeyError, IndexError, TypeError):
                pass
        objects.append(obj)
    return objects


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged_inputs())
def test_damaged_manifests_never_raise(objects):
    state = build_state([(o, "damaged.yaml") for o in objects])
    analysis = analyze(state)
    analysis.matrix_view("pod")
    analysis.matrix_view("workload")
    run_checks(analysis)
    dns_records(state, DnsSettings())


def test_a_tier_that_is_not_a_name_is_reported_not_raised():
    # Found by the fuzz test above: `spec.tier: 1` next to a named tier made the tier sort compare str with int.
    policies = [{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name},
                 "spec": {"tier": tier, "selector": "app == 'web'", "types": ["Ingress"],
                          "ingress": [{"action": "Allow"}]}} for name, tier in (("a.p", 1), ("b.p", "b"))]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "x", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}}
    analysis = analyze(build_state([(o, "t.yaml") for o in policies + [pod]]))
    assert any("spec.tier: 1 is not a tier name" in a.message for a in analysis.alerts)
