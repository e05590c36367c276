"""Analyses do not leak into each other, and explain agrees with the matrix on every conformance case."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auditor.analysis import analyze
from auditor.engine.explain import explain
from auditor.sets.ports import PortSet
from auditor.sources.manifests import build_state, load_manifests

CASES = sorted((Path(__file__).resolve().parents[1] / "conformance").rglob("*.yaml"))


def _calico_cluster(team_label: str):
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mon", "labels": {"team": team_label}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "prom", "namespace": "mon", "labels": {"a": "p"}},
         "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "app", "labels": {"a": "api"}},
         "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.2"}},
        {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "m", "namespace": "app"},
         "spec": {"selector": "all()", "ingress": [{"action": "Allow", "source": {
             "namespaceSelector": "team == 'platform'"}}, {"action": "Deny"}]}},
    ]


def _allowed(objects, src, dst):
    view = analyze(build_state([(o, "t") for o in objects])).matrix_view("pod")
    return next((c.allowed for c in view.connections if (c.src, c.dst) == (src, dst)), PortSet.empty())


def test_same_names_different_labels_in_sequence():
    # Regression: a cache of Calico identities keyed by endpoint class outlived its analysis, so a namespace with
    # the same name but other labels in the next analysis was judged with the old labels.
    assert _allowed(_calico_cluster("platform"), "mon/prom", "app/api") == PortSet.all()
    assert _allowed(_calico_cluster("other"), "mon/prom", "app/api") == PortSet.empty()
    assert _allowed(_calico_cluster("platform"), "mon/prom", "app/api") == PortSet.all()


def _case_state(path: Path):
    case = yaml.safe_load(path.read_text())
    if "manifests" in case:
        return case, load_manifests([str((path.parent / case["manifests"]).resolve())])
    return case, build_state([(o, path.name) for o in case["objects"]])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_explain_agrees_with_matrix_on_every_case(path):
    try:
        case, state = _case_state(path)
    except yaml.YAMLError:
        pytest.skip("case file does not parse (reported by the conformance test)")
    from auditor.analysis import AnalyzeOptions
    analysis = analyze(state, AnalyzeOptions(**(case.get("options") or {})))
    view = analysis.matrix_view("pod")
    by_pair = {(c.src, c.dst): c for c in view.connections}
    pods = [e.id for e in view.endpoints if e.kind == "Pod"][:8]
    probes = [("TCP", 80), ("TCP", 81), ("UDP", 53), ("TCP", 9090), ("TCP", 8080), ("SCTP", 80)]
    for src in pods:
        for dst in pods:
            if src == dst:
                continue
            conn = by_pair.get((src, dst))
            for proto, port in probes:
                one = PortSet.ports(proto, port)
                want = ("allowed" if conn and one <= conn.allowed else
                        "unknown" if conn and one & conn.unknown else "denied")
                got = explain(analysis, src, dst, proto, port).verdict
                assert got == want, f"{case['name']}: {src} -> {dst} {port}/{proto}: explain {got}, matrix {want}"


def test_maybe_match_whose_outcomes_agree_is_decided():
    # An ANP egress Allow to a `nodes` peer (node IPs unknown) may or may not match 203.0.113.9:6443. If it matches:
    # Allow. If not: the admin tier passes, no NetworkPolicy or BANP applies, the namespace profile allows. Every
    # possibility allows, so the verdict is allowed, not unknown. A Deny there would make it unknown.
    def cluster(action):
        return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"},
                 "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}},
                {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
                 "metadata": {"name": "n"},
                 "spec": {"priority": 1, "subject": {"namespaces": {}},
                          "egress": [{"action": action, "to": [{"nodes": {}}],
                                      "ports": [{"portNumber": {"protocol": "TCP", "port": 6443}}]}]}}]
    for action, want in (("Allow", "allowed"), ("Deny", "unknown")):
        analysis = analyze(build_state([(o, "t") for o in cluster(action)]))
        assert explain(analysis, "x/a", "ip:203.0.113.9", "TCP", 6443).verdict == want
        view = analysis.matrix_view("pod")
        conn = next(c for c in view.connections if c.src == "x/a" and c.dst.startswith("cidr:"))
        probe = PortSet.ports("TCP", 6443)
        got = "allowed" if probe <= conn.allowed else "unknown" if probe & conn.unknown else "denied"
        assert got == want, action


def test_raw_crd_without_types_applies_to_both_directions():
    # felix/calc/policy_sorter.go: "Back compatibility: no Types means Ingress and Egress"; nothing defaults a
    # crd.projectcalico.org/v1 object applied raw. The same spec written as projectcalico.org/v3 is defaulted to
    # [Ingress] (CAL-C9): only then does egress stay open.
    def cluster(api_version):
        return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x", "labels": {"a": "a"}},
                 "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.1"}},
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "x", "labels": {"a": "b"}},
                 "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.0.0.2"}},
                {"apiVersion": api_version, "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x"},
                 "spec": {"selector": "a == 'a'", "ingress": [{"action": "Allow"}]}}]
    assert _allowed(cluster("projectcalico.org/v3"), "x/a", "x/b") == PortSet.all()
    assert _allowed(cluster("crd.projectcalico.org/v1"), "x/a", "x/b") == PortSet.empty()
