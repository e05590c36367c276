"""Bad input is reported, and costs nothing else: random wrong-typed values anywhere in real manifests (the demo and
conformance cases) must never raise (through loading, analysis, findings and DNS), and:

- every error alert names the object it is about (its file and line), and only damaged objects get errors;
- every undamaged object of the same input is read (pods, workloads, Services, Namespaces, policies);
- a damaged object is either read (what could not be read of it is dropped with an error) or, when it cannot even
  be told apart (kind, name, namespace), skipped with an error or an unknown-kind warning that names it: never
  lost silently.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.dns.names import DnsSettings, dns_records
from auditor.findings import run_checks
from auditor.sources.documents import CLUSTER_SCOPED_POLICY_KINDS, POLICY_KINDS, WORKLOAD_KINDS
from auditor.sources.manifests import build_state

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [d for f in sorted((ROOT / "examples" / "shop").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
          if d]
for case_file in sorted((ROOT / "tests" / "conformance").glob("*/*.yaml"))[::6]:
    CORPUS += yaml.safe_load(case_file.read_text()).get("objects", [])
WRONG = [None, 1, -5, 70000, "x", "", [], {}, [1, "a"], {"a": 1}, True, "80", "10.0.0.0/33", "!!", "a ==", 1.5]


def _errors_alone(obj) -> bool:
    analysis = analyze(build_state([(copy.deepcopy(obj), "alone.yaml:1")]))
    return any(a.severity == "error" for a in analysis.alerts)


# Some conformance cases are about broken input (a selector that does not parse): those objects are damaged already.
BROKEN = {i for i, obj in enumerate(CORPUS) if _errors_alone(obj)}
WORKLOAD_VERSIONS = ("apps/v1", "batch/v1", "v1", "batch/v1beta1", "extensions/v1beta1", "apps/v1beta2")


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
    """(objects, indices of the damaged ones)."""
    chosen = draw(st.lists(st.sampled_from(range(len(CORPUS))), min_size=1, max_size=10, unique=True))
    objects, damaged = [], set()
    for index in chosen:
        if index in BROKEN:
            damaged.add(len(objects))
        obj = copy.deepcopy(CORPUS[index])
        paths = list(_paths(obj))
        for _ in range(draw(st.integers(0, 3)) if paths else 0):
            path = draw(st.sampled_from(paths))
            target = obj
            try:
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = copy.deepcopy(draw(st.sampled_from(WRONG)))
                damaged.add(len(objects))
            except (KeyError, IndexError, TypeError):
                pass
        objects.append(obj)
    return objects, damaged


def _where(i: int) -> str:
    return f"damaged.yaml:{i + 1}"


def _identity(obj) -> tuple | None:
    """(kind, apiVersion, namespace, name) when the object can be told apart, else None."""
    if not isinstance(obj, dict):
        return None
    kind, version, meta = obj.get("kind"), obj.get("apiVersion") or "", obj.get("metadata") or {}
    if not isinstance(kind, str) or not kind or not isinstance(version, str) or not isinstance(meta, dict):
        return None
    name, namespace = meta.get("name"), meta.get("namespace") or None
    if not isinstance(name, str) or not name or namespace is not None and not isinstance(namespace, str):
        return None
    return kind, version, namespace, name


def _read(state, obj) -> bool | None:
    """Whether the object is in the state (None: a kind the check does not follow)."""
    kind, version, namespace, name = _identity(obj)
    ns = namespace or "default"
    group = version.split("/", 1)[0] if "/" in version else ""
    if kind == "Namespace" and version == "v1":
        return name in state.namespaces
    if kind == "Pod" and version == "v1":
        status = obj.get("status")
        if isinstance(status, dict) and status.get("phase") in ("Succeeded", "Failed"):
            return None  # finished pods are not endpoints
        return f"{ns}/{name}" in {p.id for p in state.pods}
    if kind in WORKLOAD_KINDS and version in WORKLOAD_VERSIONS:
        if obj["metadata"].get("ownerReferences"):
            return None  # its owner stands for it
        return any(p.workload_id == f"{ns}/{kind}/{name}" for p in state.pods)
    if kind == "Service" and version == "v1":
        return (ns, name) in {(s.namespace, s.name) for s in state.services}
    if kind in POLICY_KINDS.get(group, ()):
        scoped = None if kind in CLUSTER_SCOPED_POLICY_KINDS else ns
        return (kind, scoped, name) in {(p.kind, p.namespace, p.name) for p in state.policies}
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged_inputs())
def test_damaged_manifests_are_reported_and_cost_nothing_else(case):
    objects, damaged = case
    state = build_state([(o, _where(i)) for i, o in enumerate(objects)])
    analysis = analyze(state)
    analysis.matrix_view("pod")
    analysis.matrix_view("workload")
    run_checks(analysis)
    dns_records(state, DnsSettings())

    errors = [a for a in analysis.alerts if a.severity == "error"]
    damaged_places = {_where(i) for i in damaged}
    for alert in errors:
        place = alert.message.split(": ", 1)[0]
        assert place in damaged_places, f"an error about undamaged input: {alert.message}"
        assert alert.object, f"an error that names no object: {alert.message}"

    for i, obj in enumerate(objects):
        named = [a for a in analysis.alerts if a.message.startswith(_where(i) + ":")]
        if _identity(obj) is None:
            assert i in damaged
            unnamed_policy = any(p.name == f"<unnamed at {_where(i)}>" for p in state.policies)
            assert unnamed_policy or any(a.severity == "error" for a in named), \
                f"object {i} skipped silently: {obj!r:.300}"
            continue
        read = _read(state, obj)
        if read is None or read:
            continue
        assert i in damaged, f"undamaged object {i} was not read: {_identity(obj)}"
        assert any(a.severity == "error" or a.code == "unknown-kind" for a in named), \
            f"damaged object {i} ({_identity(obj)}) was lost without an error naming it"


def test_the_corpus_is_read_whole():
    clean = [o for i, o in enumerate(CORPUS) if i not in BROKEN]
    assert len(clean) > 100 and len(BROKEN) < len(CORPUS) // 10
    state = build_state([(copy.deepcopy(o), _where(i)) for i, o in enumerate(clean)])
    assert not [a.message for a in state.alerts if a.severity == "error"]
    assert all(_read(state, o) in (True, None) for o in clean)


def test_a_tier_that_is_not_a_name_is_reported_not_raised():
    # Found by the fuzz test above: `spec.tier: 1` next to a named tier made the tier sort compare str with int.
    policies = [{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name},
                 "spec": {"tier": tier, "selector": "app == 'web'", "types": ["Ingress"],
                          "ingress": [{"action": "Allow"}]}} for name, tier in (("a.p", 1), ("b.p", "b"))]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "x", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}}
    analysis = analyze(build_state([(o, "t.yaml") for o in policies + [pod]]))
    assert any("spec.tier: 1 is not a tier name" in a.message for a in analysis.alerts)
