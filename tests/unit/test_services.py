"""Services: backends, target ports per backend, and reachability through Services (worked out by hand)."""

from __future__ import annotations

from auditor.analysis import analyze
from auditor.engine.services import reachability, service_backends
from auditor.sources.manifests import build_state


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(namespace, name, labels, ip, ports=(), ready=True, ips=None):
    status = {"podIP": ip, "phase": "Running",
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ips:
        status["podIPs"] = [{"ip": a} for a in ips]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [
                {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}]},
            "status": status}


def service(namespace, name, selector, ports, cluster_ip="10.96.0.20", **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": dict({"selector": selector, "clusterIP": cluster_ip, "ports": ports}, **spec)}


def allow_ingress(namespace, name, selector, from_labels, port):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": from_labels}}],
                                  "ports": [{"port": port}]}]}}


def run(objects, level="pod"):
    analysis = analyze(build_state([(o, "test") for o in objects]))
    return {(r.client, r.service, r.port.port): r for r in reachability(analysis, level)}, analysis


def test_named_target_port_resolves_per_backend():
    # Two backends map "http" to 8080 and 9090. The policy allows only 8080 on app=web, so the client reaches
    # web-1 (8080) but not web-2 (9090): "some", and exactly which.
    objects = [ns("x"),
               pod("x", "client", {"app": "client"}, "10.0.0.1"),
               pod("x", "web-1", {"app": "web"}, "10.0.0.2", [("http", 8080, "TCP")]),
               pod("x", "web-2", {"app": "web"}, "10.0.0.3", [("http", 9090, "TCP")]),
               service("x", "web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": "http"}]),
               allow_ingress("x", "web-8080", {"app": "web"}, {"app": "client"}, 8080)]
    results, analysis = run(objects)
    backends = {b.id: b.target_port for spb in service_backends(analysis.state) for b in spb.backends}
    assert backends == {"x/web-1": 8080, "x/web-2": 9090}
    r = results[("x/client", "x/web", 80)]
    assert r.status == "some" and r.reachable == ["x/web-1"] and r.unreachable == ["x/web-2"]


def test_backend_without_the_named_port_is_reported():
    objects = [ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
               pod("x", "web-1", {"app": "web"}, "10.0.0.2", [("http", 8080, "TCP")]),
               pod("x", "web-2", {"app": "web"}, "10.0.0.3", [("metrics", 9090, "TCP")]),
               service("x", "web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": "http"}])]
    results, _ = run(objects)
    r = results[("x/client", "x/web", 80)]
    # No policy: web-1 reachable on 8080; web-2 has no port named http: kube-proxy has no endpoint port there.
    assert r.status == "all" and r.reachable == ["x/web-1"] and r.missing_port == ["x/web-2"]


def test_selector_matching_nothing_has_no_backends():
    objects = [ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
               service("x", "ghost", {"app": "nothing-has-this"}, [{"port": 80}])]
    results, _ = run(objects)
    assert results[("x/client", "x/ghost", 80)].status == "no-backends"


def test_headless_service_backends_are_its_pods():
    objects = [ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
               pod("x", "db-0", {"app": "db"}, "10.0.0.5", [("pg", 5432, "TCP")]),
               service("x", "db", {"app": "db"}, [{"name": "pg", "port": 5432, "targetPort": "pg"}],
                       cluster_ip="None"),
               allow_ingress("x", "db", {"app": "db"}, {"app": "other"}, 5432)]
    results, analysis = run(objects)
    assert analysis.state.services[0].headless
    # Ingress of db admits only app=other: the client reaches no backend.
    assert results[("x/client", "x/db", 5432)].status == "none"


def test_endpointslice_not_ready_endpoints_are_not_served():
    # Live shape: the slice gives the target port (8443) and readiness; the not-ready backend is listed apart.
    objects = [ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
               pod("x", "api-1", {"app": "api"}, "10.0.0.2"), pod("x", "api-2", {"app": "api"}, "10.0.0.3"),
               service("x", "api", {"app": "api"}, [{"name": "https", "port": 443, "targetPort": 8443}]),
               {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "api-abc", "namespace": "x", "labels": {"kubernetes.io/service-name": "api"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": True},
                               "targetRef": {"kind": "Pod", "name": "api-1", "namespace": "x"}},
                              {"addresses": ["10.0.0.3"], "conditions": {"ready": False},
                               "targetRef": {"kind": "Pod", "name": "api-2", "namespace": "x"}}],
                "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]},
               allow_ingress("x", "api", {"app": "api"}, {"app": "client"}, 8443)]
    results, _ = run(objects)
    r = results[("x/client", "x/api", 443)]
    assert r.status == "all" and r.reachable == ["x/api-1"] and r.not_ready == ["x/api-2"]


def test_dual_stack_and_ipv6_backends():
    # An IPv6 ipBlock allow on the backend's ingress: the dual-stack client's IPv6 address is inside it, the
    # IPv4-only client is not.
    objects = [ns("x"),
               pod("x", "v6client", {"app": "c6"}, "10.0.0.1", ips=["10.0.0.1", "fd00::1"]),
               pod("x", "v4client", {"app": "c4"}, "10.0.0.2"),
               pod("x", "web", {"app": "web"}, "fd00::10", [("http", 80, "TCP")], ips=["fd00::10"]),
               service("x", "web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": "http"}],
                       cluster_ip="fd00:96::10", ipFamilies=["IPv6"]),
               {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "web", "namespace": "x"},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"ipBlock": {"cidr": "fd00::/64"}}], "ports": [{"port": 80}]}]}}]
    results, _ = run(objects)
    assert results[("x/v6client", "x/web", 80)].status == "all"
    assert results[("x/v4client", "x/web", 80)].status == "none"


def test_external_name_service_is_reported_without_backends():
    objects = [ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "x"},
                "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432}]}}]
    results, _ = run(objects)
    assert results[("x/client", "x/ext", 5432)].status == "no-backends"


def test_explain_service_port_per_backend():
    from auditor.engine.services import explain_service
    objects = [ns("x"),
               pod("x", "client", {"app": "client"}, "10.0.0.1"),
               pod("x", "web-1", {"app": "web"}, "10.0.0.2", [("http", 8080, "TCP")]),
               pod("x", "web-2", {"app": "web"}, "10.0.0.3", [("http", 9090, "TCP")]),
               pod("x", "web-3", {"app": "web"}, "10.0.0.4", [("http", 8080, "TCP")], ready=False),
               service("x", "web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": "http"}]),
               allow_ingress("x", "web-8080", {"app": "web"}, {"app": "client"}, 8080)]
    _, analysis = run(objects)
    sexp = explain_service(analysis, "x/client", "svc:x/web:http")
    rows = {b: (t, e.verdict if e else note) for b, t, e, note in sexp.backends}
    # Worked out by hand: web-1's http is 8080 (allowed), web-2's is 9090 (not allowed), web-3 is not ready.
    assert rows["x/web-1"] == (8080, "allowed") and rows["x/web-2"] == (9090, "denied")
    assert rows["x/web-3"][1].startswith("not ready")
    assert sexp.status == "some"
    assert explain_service(analysis, "x/client", "svc:x/web:80").status == "some"  # by number too


def test_explain_service_cli(tmp_path):
    import yaml
    from click.testing import CliRunner

    from auditor.cli import main
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump_all([
        ns("x"), pod("x", "client", {"app": "client"}, "10.0.0.1"),
        pod("x", "web-1", {"app": "web"}, "10.0.0.2", [("http", 8080, "TCP")]),
        service("x", "web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": "http"}])]))
    ok = CliRunner().invoke(main, ["explain", "x/client", "svc:x/web:http", "-f", str(path), "-q"])
    assert ok.exit_code == 0 and ok.output.startswith("x/client -> Service x/web port 80/TCP (http): all backends")
    missing = CliRunner().invoke(main, ["explain", "x/client", "svc:x/web:https", "-f", str(path), "-q"])
    assert missing.exit_code == 2 and "it has x/web:http" in missing.output
    both = CliRunner().invoke(main, ["explain", "x/client", "svc:x/web:http", "--port", "80", "-f", str(path)])
    assert both.exit_code == 2
    no_port = CliRunner().invoke(main, ["explain", "x/client", "x/web-1", "-f", str(path)])
    assert no_port.exit_code == 2 and "--port" in no_port.output
