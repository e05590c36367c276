"""Services, EndpointSlices and DNS read from a real kube-apiserver (issue: Services, EndpointSlices and DNS).

The objects are created as the controllers would leave them (no kubelet or endpoint controller runs): CoreDNS
pods with status, the kube-dns Service, its EndpointSlice, and the CoreDNS ConfigMap with a custom domain.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_live_source import create  # noqa: E402  (tests/integration is on sys.path via conftest)

from auditor.cli import main

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes corp.internal in-addr.arpa ip6.arpa {
       pods verified
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def _pod(namespace, name, labels, ip, ports=(), ready=True):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "registry.example/app:1", "ports": [
                {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _slice(namespace, name, service, endpoints, ports):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}
                          for pod, ip, ready in endpoints],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}


@pytest.fixture(scope="module")
def dns_cluster():
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([CRD_DIR])
        dns_ports = [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
        objects = [
            # kube-system exists on every API server already.
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
             "data": {"Corefile": COREFILE}},
            _pod("kube-system", "coredns-a", {"k8s-app": "kube-dns"}, "10.244.0.5", dns_ports),
            _pod("kube-system", "coredns-b", {"k8s-app": "kube-dns"}, "10.244.0.6", dns_ports),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}},
            _slice("kube-system", "kube-dns-1", "kube-dns", [("coredns-a", "10.244.0.5", True),
                                                             ("coredns-b", "10.244.0.6", True)], dns_ports),
            _pod("app", "api-1", {"app": "api"}, "10.244.1.11", [("http", 8080, "TCP")]),
            _pod("app", "api-2", {"app": "api"}, "10.244.1.12", [("http", 8080, "TCP")], ready=False),
            _pod("app", "web", {"app": "web"}, "10.244.1.20"),
            _pod("app", "batch", {"app": "batch"}, "10.244.1.30"),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "app"},
             "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
            _slice("app", "api-1", "api", [("api-1", "10.244.1.11", True), ("api-2", "10.244.1.12", False)],
                   [("http", 8080, "TCP")]),
            # batch: default-deny egress with no DNS exception -> cannot resolve names.
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "batch-no-egress", "namespace": "app"},
             "spec": {"podSelector": {"matchLabels": {"app": "batch"}}, "policyTypes": ["Egress"]}},
            # api admits only web on 8080.
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "api-from-web", "namespace": "app"},
             "spec": {"podSelector": {"matchLabels": {"app": "api"}},
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                   "ports": [{"port": "http"}]}]}},
        ]
        for obj in objects:
            create(server, obj)
        yield server
    finally:
        server.stop()


def _run(server, *args):
    result = CliRunner().invoke(main, list(args) + ["--kubeconfig", server.kubeconfig, "--context", server.context,
                                                    "-q"])
    assert "Traceback" not in result.output, result.output
    return result


def test_service_level_from_endpointslices(dns_cluster):
    result = _run(dns_cluster, "matrix", "--level", "service", "--clients", "pod", "-o", "json")
    assert result.exit_code == 0, result.output
    rows = {(r["from"], r["service"], r["port"], r["protocol"]): r for r in json.loads(result.stdout)["reachability"]}
    # web reaches the one ready api backend (api-2 is not ready: kube-proxy sends it nothing).
    web = rows[("app/web", "app/api", 80, "TCP")]
    assert web["status"] == "all" and web["reachable"] == ["app/api-1"] and web["notReady"] == ["app/api-2"]
    assert rows[("app/batch", "app/api", 80, "TCP")]["status"] == "none"  # batch's egress is denied
    # Every pod reaches both CoreDNS pods except batch.
    assert rows[("app/web", "kube-system/kube-dns", 53, "UDP")]["status"] == "all"
    assert rows[("app/batch", "kube-system/kube-dns", 53, "UDP")]["status"] == "none"


def test_dns_reads_the_corefile_and_reports_the_blocked_pod(dns_cluster):
    result = _run(dns_cluster, "dns", "-o", "json")
    doc = json.loads(result.stdout)
    assert doc["domain"] == "corp.internal" and doc["podsMode"] == "verified"
    assert doc["path"]["kind"] == "coredns"
    blocked = [f for f in doc["findings"] if f["code"] == "dns-blocked"]
    assert [f["objects"][0] for f in blocked] == ["app/Pod/batch"]
    assert "NetworkPolicy app/batch-no-egress" in blocked[0]["objects"]
    names = {(r["name"], r["type"], r["value"]) for r in doc["records"]}
    assert ("kube-dns.kube-system.svc.corp.internal", "A", "10.96.0.10") in names
    assert ("_http._tcp.api.app.svc.corp.internal", "SRV", "0 100 80 api.app.svc.corp.internal.") in names
    assert ("10-244-1-20.app.pod.corp.internal", "A", "10.244.1.20") in names  # pods verified: records exist
