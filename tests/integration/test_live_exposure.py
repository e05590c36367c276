"""`netaudit exposure` on a real kube-apiserver: Ingresses and Gateway API objects read live give the same answer as
the same objects read from manifests; the least-privilege role reads them; a role without the Gateway API says what
it could not read; a cluster without the Gateway API CRDs says so once, as a note.

The expected paths are worked out from the objects below: shop/web admits only the edge namespace on 8080, so the
ingress controller (in edge) reaches it, the Gateway's pods (in infra) do not, and neither do outside clients
through the NodePort with externalTrafficPolicy Local (they keep their own address).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_live_source import create, rbac_objects, wait_for

from auditor.analysis import analyze
from auditor.cli import main
from auditor.engine.paths import exposure_with_paths
from auditor.report.exposure import exposure_document
from auditor.sources import live
from auditor.sources.manifests import build_state

REPO = Path(__file__).resolve().parents[2]
GW = "gateway.networking.k8s.io"


def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(namespace, name, labels, ip, ports=()):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "registry.example/app:1", "ports": [
                {"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def svc(namespace, name, selector, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": dict({"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}, **spec)}


def objects() -> list[dict]:
    nginx = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
    return [
        ns("shop"), ns("edge"), ns("infra"),
        pod("edge", "controller", nginx, "10.244.9.1", [("http", 80)]),
        pod("infra", "gw", {"gateway.networking.k8s.io/gateway-name": "public"}, "10.244.8.1"),
        pod("shop", "web", {"app": "web"}, "10.244.1.1", [("http", 8080)]),
        svc("edge", "controller", {"app.kubernetes.io/name": "ingress-nginx"}, type="LoadBalancer"),
        svc("shop", "web", {"app": "web"}),
        svc("shop", "web-np", {"app": "web"}, type="NodePort", externalTrafficPolicy="Local"),
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
         "spec": {"controller": "k8s.io/ingress-nginx"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [
             {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "example"},
         "spec": {"controllerName": "example.com/gateway-controller"}},
        {"apiVersion": f"{GW}/v1", "kind": "Gateway", "metadata": {"name": "public", "namespace": "infra"},
         "spec": {"gatewayClassName": "example", "listeners": [
             {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
             {"name": "tcp", "port": 5000, "protocol": "TCP", "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
        {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": {"name": "web-route", "namespace": "shop"},
         "spec": {"parentRefs": [{"name": "public", "namespace": "infra"}],
                  "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}},
        {"apiVersion": f"{GW}/v1alpha2", "kind": "TCPRoute", "metadata": {"name": "raw", "namespace": "shop"},
         "spec": {"parentRefs": [{"name": "public", "namespace": "infra", "sectionName": "tcp"}],
                  "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [
             {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}],
              "ports": [{"port": 8080}]}]}},
    ]


@pytest.fixture(scope="module")
def cluster():
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([CRD_DIR])
        for obj in objects():
            create(server, obj)
        yield server
    finally:
        server.stop()


def paths_of(document: dict) -> dict[tuple, str]:
    return {(e["endpoint"], e["peer"]["via"], e["peer"]["object"], e["peer"].get("route")): e["verdict"]
            for e in document["exposure"] if e["peer"]["kind"] == "Path"}


def test_live_exposure_equals_manifest_exposure(cluster):
    state = live.load_live(kubeconfig=cluster.kubeconfig, context=cluster.context)
    assert state.unreadable == []
    assert len(state.ingresses) == 1 and len(state.gateways) == 1 and len(state.routes) == 2
    live_doc = exposure_document(exposure_with_paths(analyze(state), "pod"))
    manifest_doc = exposure_document(exposure_with_paths(
        analyze(build_state([(copy.deepcopy(o), "manifest") for o in objects()])), "pod"))
    assert live_doc["exposure"] == manifest_doc["exposure"]
    assert paths_of(live_doc) == {
        ("shop/web", "Ingress", "shop/web", None): "allowed",
        ("shop/web", "Gateway", "infra/public", "HTTPRoute shop/web-route"): "denied",
        ("shop/web", "Gateway", "infra/public", "TCPRoute shop/raw"): "denied",
        ("shop/web", "NodePort", "shop/web-np", None): "denied",
        ("edge/controller", "LoadBalancer", "edge/controller", None): "allowed",
    }


def test_least_privilege_role_reads_ingresses_and_gateways(cluster):
    rbac = rbac_objects()
    for obj in rbac:
        if obj["kind"] == "Namespace":
            create(cluster, obj)
    for obj in rbac:
        if obj["kind"] != "Namespace":
            create(cluster, obj)
    kubeconfig = str(cluster.service_account_kubeconfig("netaudit", "netaudit"))

    def run():
        result = CliRunner().invoke(main, ["exposure", "--kubeconfig", kubeconfig, "-o", "json", "--level", "pod"])
        return json.loads(result.stdout) if result.exit_code == 0 else None
    found = []
    assert wait_for(lambda: found.append(run()) or (found[-1] is not None and not any(
        w["code"] in ("forbidden", "exposure-unknown") for w in found[-1]["warnings"])))
    assert ("shop/web", "Gateway", "infra/public", "TCPRoute shop/raw") in paths_of(found[-1])

    # Without the Gateway API rule: said once per resource, and the exposure through Gateways is unknown, not absent.
    status, role = cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/netaudit-reader")
    assert status == 200
    role["rules"] = [r for r in role["rules"] if r["apiGroups"] != [GW]]
    status, _ = cluster.request("PUT", "/apis/rbac.authorization.k8s.io/v1/clusterroles/netaudit-reader", role)
    assert status == 200
    found.clear()
    assert wait_for(lambda: found.append(run()) or (found[-1] is not None and any(
        w["code"] == "exposure-unknown" for w in found[-1]["warnings"])))
    doc = found[-1]
    forbidden = [w for w in doc["warnings"] if w["code"] == "forbidden"]
    assert forbidden and all(GW in w["message"] for w in forbidden)
    assert any("paths through Gateways are unknown" in w["message"] for w in doc["warnings"])
    paths = paths_of(doc)
    assert ("shop/web", "Ingress", "shop/web", None) in paths
    assert not any(via == "Gateway" for _, via, _, _ in paths)


def test_cluster_without_gateway_api_says_so_once():
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([p for p in sorted(CRD_DIR.glob("*.yaml")) if not p.name.startswith(GW)])
        for obj in objects():
            if not obj["apiVersion"].startswith(GW):
                create(server, obj)
        result = CliRunner().invoke(main, ["exposure", "--kubeconfig", server.kubeconfig, "--context",
                                           server.context, "-o", "json", "--level", "pod"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        notes = [w for w in doc["warnings"] if w["code"] == "gateway-api-missing"]
        assert len(notes) == 1 and not any(w["code"] in ("forbidden", "exposure-unknown") for w in doc["warnings"])
        assert paths_of(doc)[("shop/web", "Ingress", "shop/web", None)] == "allowed"
        assert "Traceback" not in result.output
    finally:
        server.stop()
