"""The probe plan: which pods stand in for which classes, and which ports tell the most (worked out by hand)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from auditor.analysis import analyze
from auditor.cli import main
from auditor.model import ContainerPort, Pod
from auditor.probe.plan import (
    ALLOWED,
    DENIED,
    DNS_QUERY,
    NOT_PROBED,
    TCP_CONNECT,
    UNKNOWN,
    PlanError,
    PlanOptions,
    build_plan,
    pick_ports,
    probe_labels,
    probe_method,
)
from auditor.sets.ports import NONE, PortSet
from auditor.sources.manifests import build_state


def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(namespace, name, labels, ip=None, ports=(), phase="Running", host_network=False, sa=None):
    spec = {"containers": [{"name": "c", "image": "i", "ports": [
        {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}]}
    if host_network:
        spec["hostNetwork"] = True
    if sa:
        spec["serviceAccountName"] = sa
    status = {"phase": phase}
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec, "status": status}


def cluster(extra=()):
    """x/a is isolated for ingress: only app=b may open its named port http (8080). x/b is not isolated.
    x/h runs in the host network; x/p is still Pending."""
    return [
        ns("x"),
        pod("x", "a", {"app": "a", "pod-template-hash": "abc"}, "10.0.1.1", [("http", 8080, "TCP")], sa="a-sa"),
        pod("x", "b", {"app": "b"}, "10.0.1.2"),
        pod("x", "h", {"app": "h"}, "192.168.0.5", host_network=True),
        pod("x", "p", {"app": "c"}, phase="Pending"),
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "a-in", "namespace": "x"},
         "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                               "ports": [{"port": "http"}]}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-a", "namespace": "x"},
         "spec": {"selector": {"app": "a"}, "clusterIP": "10.96.0.10",
                  "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}},
        *extra,
    ]


def plan_for(objects, **options):
    return build_plan(analyze(build_state([(o, "test") for o in objects])), PlanOptions(**options))


def rows(plan):
    return [(p.source, p.destination, p.protocol, p.port, p.predicted) for p in plan.probes]


def test_one_probe_pod_per_class_and_the_most_telling_ports():
    plan = plan_for(cluster())
    # Sources and destinations: a and b. h is hostNetwork (policies do not apply), p is not running.
    assert [s.pod.id for s in plan.sources] == ["x/a", "x/b"]
    # Round-robin over the pairs in diagonal order, (a,a) (b,b) (a,b) (b,a), so that the first probes start from
    # every source: first every pair's first probe, then the rest.
    assert rows(plan) == [
        # a -> a: a's ingress admits only app=b, so a's own port is denied; it is also svc-a's target port.
        ("x/a", "x/a", "TCP", 8080, DENIED),
        # b -> b: b is not isolated; b declares no port, so the lowest TCP port stands for "everything".
        ("x/b", "x/b", "TCP", 1, ALLOWED),
        # a -> b: likewise.
        ("x/a", "x/b", "TCP", 1, ALLOWED),
        # b -> a: http (8080) is allowed; every other port is denied, the lowest stands for them.
        ("x/b", "x/a", "TCP", 8080, ALLOWED),
        ("x/b", "x/a", "TCP", 1, DENIED),
    ]
    first = plan.probes[0]
    assert first.why == ("a port predicted denied: declared container port http/TCP",
                         "target port of Service x/svc-a:web")
    assert first.ip == "10.0.1.1" and first.method == TCP_CONNECT
    assert [p.id for p in plan.probes] == ["p0", "p1", "p2", "p3", "p4"]
    assert any("x/h" in s and "hostNetwork" in s for s in plan.skipped)
    assert any("x/p" in s and "not Running" in s for s in plan.skipped)


def test_max_probes_keeps_the_first_probe_of_each_pair():
    plan = plan_for(cluster(), max_probes=3)
    assert rows(plan) == [("x/a", "x/a", "TCP", 8080, DENIED), ("x/b", "x/b", "TCP", 1, ALLOWED),
                          ("x/a", "x/b", "TCP", 1, ALLOWED)]
    assert plan.left_out == 2  # b -> a: 8080 allowed and 1 denied


def test_a_limit_on_thousands_of_pairs_spreads_over_sources_and_counts_the_rest_as_a_lower_bound(monkeypatch):
    from auditor.probe import plan as plan_module
    monkeypatch.setattr(plan_module, "EXACT_PAIRS", 3)  # 4 pairs: past the exact count, as at 10,000 classes
    plan = plan_for(cluster(), max_probes=2)
    assert rows(plan) == [("x/a", "x/a", "TCP", 8080, DENIED), ("x/b", "x/b", "TCP", 1, ALLOWED)]
    # Looked at: the two pairs that got a probe (one probe each). Not looked at: 2 pairs, at least 1 probe each.
    assert (plan.left_out, plan.left_out_exact) == (2, False)


def test_probe_labels_copy_what_policies_read_and_never_controller_labels():
    plan = plan_for(cluster())
    source = plan.sources[0]
    # pod-template-hash would make the ReplicaSet adopt the probe pod; no policy reads it.
    assert dict(source.labels) == {"app": "a"}
    assert source.pod.service_account == "a-sa"
    # When the label keys policies read are unknown, every label stays except the controller ones.
    raw = Pod("x", "a", labels={"app": "a", "tier": "web", "pod-template-hash": "abc", "job-name": "j"})
    assert probe_labels(raw, None) == {"app": "a", "tier": "web"}
    assert probe_labels(raw, frozenset({"app", "pod-template-hash"})) == {"app": "a", "pod-template-hash": "abc"}


def test_namespaces_limit_where_probe_pods_are_created():
    extra = [ns("y"), pod("y", "c", {"app": "c"}, "10.0.2.1")]
    plan = plan_for(cluster(extra), namespaces=("y",))
    assert [s.pod.id for s in plan.sources] == ["y/c"]
    # Destinations stay everywhere: c (not isolated either way) may open anything on a, b and itself, except
    # a's ingress, which admits only app=b.
    assert sorted(rows(plan)) == sorted([
        ("y/c", "x/a", "TCP", 8080, DENIED),
        ("y/c", "x/b", "TCP", 1, ALLOWED),
        ("y/c", "y/c", "TCP", 1, ALLOWED),
    ])


def test_from_and_to_take_pods_and_workloads():
    plan = plan_for(cluster(), source="x/b", destination="x/a")
    assert rows(plan) == [("x/b", "x/a", "TCP", 8080, ALLOWED), ("x/b", "x/a", "TCP", 1, DENIED)]
    extra = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "x"},
              "spec": {"selector": {"matchLabels": {"app": "b"}},
                       "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [
                           {"name": "c", "image": "i"}]}}}}]
    objects = cluster()
    objects[2]["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                  "name": "web-5d9c", "uid": "u", "controller": True}]
    objects[2]["metadata"]["labels"]["pod-template-hash"] = "5d9c"
    plan = plan_for(objects + extra, source="x/Deployment/web", destination="x/a")
    assert {p.source for p in plan.probes} == {"x/b"}
    with pytest.raises(PlanError, match="--from x/nope"):
        plan_for(cluster(), source="x/nope")
    with pytest.raises(PlanError, match="--to"):
        plan_for(cluster(), destination="x/Deployment/nope")


def test_a_source_whose_probe_a_service_would_publish_is_skipped():
    # publishNotReadyAddresses puts even never-Ready pods into DNS: clients could be sent to the probe.
    extra = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b-peers", "namespace": "x"},
              "spec": {"selector": {"app": "b"}, "clusterIP": "None", "publishNotReadyAddresses": True,
                       "ports": [{"port": 7000}]}}]
    plan = plan_for(cluster(extra))
    assert [s.pod.id for s in plan.sources] == ["x/a"]
    assert any("x/b" in s and "x/b-peers" in s for s in plan.skipped)
    # A plain Service selecting the probe's labels is only a note: the failing readiness probe keeps it out.
    assert any("x/svc-a" in n for n in plan_for(cluster()).notes)


def test_dry_run_on_manifests_plans_pods_without_ips():
    objects = [ns("x"), pod("x", "a", {"app": "a"}, phase=None), pod("x", "b", {"app": "b"}, phase=None)]
    assert plan_for(objects).probes == []  # a live run needs running pods
    plan = plan_for(objects, require_running=False)
    # No policy reads a label, so a and b are one class: one probe pod (as a, first by name) and one target.
    assert rows(plan) == [("x/a", "x/a", "TCP", 1, ALLOWED)]
    assert plan.probes[0].ip == ""


def test_probe_method():
    dns = Pod("k", "dns", container_ports=(ContainerPort(53, "UDP", "dns"), ContainerPort(5353, "UDP", "dns-alt"),
                                           ContainerPort(9000, "UDP", "syslog")))
    assert probe_method("TCP", 80, dns) == TCP_CONNECT
    assert probe_method("UDP", 53, dns) == DNS_QUERY
    assert probe_method("UDP", 5353, dns) == DNS_QUERY  # a declared DNS port on another number
    assert probe_method("UDP", 9000, dns) == NOT_PROBED  # no reply can be expected
    assert probe_method("SCTP", 9000, dns) == NOT_PROBED


def test_pick_ports_with_unknown_and_declared_ports():
    dst = Pod("x", "d", container_ports=(ContainerPort(443, "TCP", "https"), ContainerPort(80, "TCP", "http")))
    allowed = PortSet.ports("TCP", 80)
    unknown = PortSet.ports("TCP", 443)
    picks = pick_ports(allowed, unknown, dst)
    # allowed: declared 80; denied: no declared port is denied, so the lowest denied TCP port (1); unknown: 443.
    assert [(p, n, v) for p, n, v, _ in picks] == [("TCP", 80, ALLOWED), ("TCP", 1, DENIED), ("TCP", 443, UNKNOWN)]


def test_pick_ports_prefers_testable_ports_and_adds_service_ports():
    dst = Pod("x", "d", container_ports=(ContainerPort(9000, "UDP", "syslog"), ContainerPort(53, "UDP", "dns")))
    allowed = PortSet.ports("UDP", 1, 65535)  # all UDP allowed, all TCP denied
    picks = pick_ports(allowed, NONE, dst, [("x/svc:syslog", "UDP", 9000)])
    # allowed: 9000/UDP cannot be probed, 53/UDP can (DNS); denied: the lowest TCP port; then the Service port.
    assert [(p, n, v) for p, n, v, _ in picks] == [("UDP", 53, ALLOWED), ("TCP", 1, DENIED), ("UDP", 9000, ALLOWED)]


def test_cli_dry_run_prints_the_plan_and_the_pods(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump_all(cluster()))
    result = CliRunner().invoke(main, ["verify", "-f", str(path), "--dry-run", "-o", "json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "netaudit/v1" and doc["kind"] == "VerificationPlan"
    # From manifests, pods need not run: the Pending x/p is a third class (app=c), so 3 x 3 pairs, each with one
    # probe except b -> a (allowed http and a denied port): 10 probes from 3 probe pods.
    assert len(doc["probes"]) == 10
    assert ("x/p", "x/a", 8080, "denied") in {(p["from"], p["to"], p["port"], p["predicted"]) for p in doc["probes"]}
    assert [p["metadata"]["namespace"] for p in doc["pods"]] == ["x", "x", "x"]
    table = CliRunner().invoke(main, ["verify", "-f", str(path), "--dry-run", "-q", "--max-probes", "2"])
    assert table.exit_code == 0 and "8 more left out by --max-probes" in table.stdout


def test_cli_verify_needs_the_live_cluster_unless_dry_run(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump_all(cluster()))
    result = CliRunner().invoke(main, ["verify", "-f", str(path)])
    assert result.exit_code == 2 and "--dry-run" in result.output
    result = CliRunner().invoke(main, ["verify", "-f", str(path), "--dry-run", "--from", "x/nope"])
    assert result.exit_code == 2 and "no such pod or workload" in result.output
    result = CliRunner().invoke(main, ["verify", "-f", str(path), "--dry-run", "--node-selector", "zone"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
