"""The live source against a real kube-apiserver: same answers as manifests, RBAC, paging.

No kubelet or controllers run here, so the tests create every object themselves (Pods, their status through the
status subresource, ReplicaSets, EndpointSlices) exactly as the controllers would leave them.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from auditor.analysis import analyze
from auditor.cli import main
from auditor.report.json_matrix import matrix_document
from auditor.sources import live
from auditor.sources.manifests import build_state

REPO = Path(__file__).resolve().parents[2]

PLURALS = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "Pod"): ("/api/v1", "pods", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("apps/v1", "ReplicaSet"): ("/apis/apps/v1", "replicasets", True),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("/apis/discovery.k8s.io/v1", "endpointslices", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    ("crd.projectcalico.org/v1", "GlobalNetworkPolicy"): ("/apis/crd.projectcalico.org/v1",
                                                          "globalnetworkpolicies", False),
    ("crd.projectcalico.org/v1", "Tier"): ("/apis/crd.projectcalico.org/v1", "tiers", False),
    ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"): ("/apis/policy.networking.k8s.io/v1alpha1",
                                                                  "adminnetworkpolicies", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("/apis/rbac.authorization.k8s.io/v1",
                                                             "clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    ("batch/v1", "CronJob"): ("/apis/batch/v1", "cronjobs", True),
    ("networking.k8s.io/v1", "Ingress"): ("/apis/networking.k8s.io/v1", "ingresses", True),
    ("networking.k8s.io/v1", "IngressClass"): ("/apis/networking.k8s.io/v1", "ingressclasses", False),
    ("gateway.networking.k8s.io/v1", "GatewayClass"): ("/apis/gateway.networking.k8s.io/v1", "gatewayclasses", False),
    ("gateway.networking.k8s.io/v1", "Gateway"): ("/apis/gateway.networking.k8s.io/v1", "gateways", True),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): ("/apis/gateway.networking.k8s.io/v1", "httproutes", True),
    ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"): ("/apis/gateway.networking.k8s.io/v1alpha2", "tcproutes",
                                                          True),
}


def collection(obj: dict) -> str:
    prefix, plural, namespaced = PLURALS[(obj["apiVersion"], obj["kind"])]
    if namespaced:
        return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}"
    return f"{prefix}/{plural}"


def create(server, obj: dict) -> dict:
    body = {k: v for k, v in obj.items() if k != "status"}
    status, created = server.request("POST", collection(obj), body)
    assert status == 201, f"creating {obj['kind']} {obj['metadata']['name']}: {status} {created}"
    if obj["kind"] == "Pod" and "status" in obj:
        path = f"{collection(obj)}/{obj['metadata']['name']}/status"
        status, _ = server.request("PATCH", path, {"status": obj["status"]},
                                   content_type="application/merge-patch+json")
        assert status == 200, f"status of pod {obj['metadata']['name']}: {status}"
    return created


OWNER_UID = "5b0e8b63-0000-4000-8000-000000000001"


def cluster_objects() -> list[dict]:
    """A small cluster touching every source path: workloads via ReplicaSets, a Service with its EndpointSlice,
    Kubernetes, Calico (crd.projectcalico.org/v1) and AdminNetworkPolicy objects."""
    def ns(name, **labels):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}

    def pod(namespace, name, labels, ip, ports=(), owner=None):
        meta = {"name": name, "namespace": namespace, "labels": labels}
        if owner:
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                        "uid": OWNER_UID, "controller": True}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "c", "image": "registry.example/app:1", "ports": [
                    {"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports]}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                           "conditions": [{"type": "Ready", "status": "True"}]}}

    return [
        ns("lx", team="a"), ns("ly", team="b"),
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-7d77fb55cc", "namespace": "lx", "ownerReferences": [
             {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": OWNER_UID, "controller": True}]},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": "registry.example/app:1"}]}}}},
        pod("lx", "web-7d77fb55cc-x2x9q", {"app": "web", "pod-template-hash": "7d77fb55cc"}, "10.244.1.10",
            [("http", 8080)], owner=("ReplicaSet", "web-7d77fb55cc")),
        pod("lx", "db-0", {"app": "db"}, "10.244.1.20", [("postgres", 5432)], owner=("StatefulSet", "db")),
        pod("ly", "client", {"app": "client"}, "10.244.2.10"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "lx"},
         "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-abcde", "namespace": "lx", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": ["10.244.1.10"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "web-7d77fb55cc-x2x9q", "namespace": "lx"}}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny", "namespace": "lx"}, "spec": {"podSelector": {}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "web-from-ly", "namespace": "lx"},
         "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}],
                               "ports": [{"port": "http"}]}],
                  "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]},
                             {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "db-from-web", "namespace": "lx"},
         "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "Tier", "metadata": {"name": "security"},
         "spec": {"order": 100, "defaultAction": "Pass"}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
         "metadata": {"name": "security.no-ssh"},
         "spec": {"tier": "security", "order": 10, "selector": "all()", "types": ["Ingress"],
                  "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [22]}},
                              {"action": "Pass"}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
         "metadata": {"name": "ly-no-egress-9999"},
         "spec": {"priority": 5, "subject": {"namespaces": {"matchLabels": {"team": "b"}}},
                  "egress": [{"action": "Deny", "to": [{"namespaces": {}}],
                              "ports": [{"portNumber": {"protocol": "TCP", "port": 9999}}]}]}},
    ]


@pytest.fixture(scope="module")
def fresh_cluster():
    """A server of our own, so other tests' objects do not change the answers compared here."""
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([CRD_DIR])
        objects = cluster_objects()
        for obj in objects:
            create(server, obj)
        yield server, objects
    finally:
        server.stop()


def test_live_matrix_equals_manifest_matrix(fresh_cluster):
    server, objects = fresh_cluster
    state = live.load_live(kubeconfig=server.kubeconfig, context=server.context)
    assert state.unreadable == []
    live_doc = matrix_document(analyze(state).matrix_view("pod"))
    manifest_doc = matrix_document(analyze(build_state([(copy.deepcopy(o), "manifest") for o in objects]))
                                   .matrix_view("pod"))
    assert live_doc["endpoints"] == manifest_doc["endpoints"]
    assert live_doc["connections"] == manifest_doc["connections"]

    workloads = {e["id"]: e["workload"] for e in live_doc["endpoints"] if e["kind"] == "Pod"}
    assert workloads == {"lx/web-7d77fb55cc-x2x9q": "Deployment/web", "lx/db-0": "StatefulSet/db",
                         "ly/client": "Pod/client"}
    conns = {(c["from"], c["to"]): c for c in live_doc["connections"]}
    # Worked out by hand: ly/client reaches web only on its named port http (8080) -- the Calico tier denies 22
    # first, but 8080 is not 22 -- and web reaches db only on 5432; db is reachable from nothing else.
    assert conns[("ly/client", "lx/web-7d77fb55cc-x2x9q")]["allowed"] == [
        {"protocol": "TCP", "ports": [[8080, 8080]]}]
    assert conns[("lx/web-7d77fb55cc-x2x9q", "lx/db-0")]["allowed"] == [{"protocol": "TCP", "ports": [[5432, 5432]]}]
    assert ("ly/client", "lx/db-0") not in conns


def test_live_cli_reads_the_cluster(fresh_cluster):
    server, _ = fresh_cluster
    result = CliRunner().invoke(main, ["matrix", "--kubeconfig", server.kubeconfig, "--context", server.context,
                                       "-o", "json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"lx/db-0", "ly/client"} <= {e["id"] for e in doc["endpoints"]}


def test_snapshot_of_live_cluster_round_trips(fresh_cluster, tmp_path):
    server, _ = fresh_cluster
    snap = tmp_path / "cluster.json"
    args = ["--kubeconfig", server.kubeconfig, "--context", server.context, "-q"]
    assert CliRunner().invoke(main, ["snapshot", "-o", str(snap)] + args).exit_code == 0
    direct = json.loads(CliRunner().invoke(main, ["matrix", "-o", "json"] + args).stdout)
    offline = json.loads(CliRunner().invoke(main, ["matrix", "-o", "json", "--snapshot", str(snap), "-q"]).stdout)
    assert direct["connections"] == offline["connections"]


def rbac_objects() -> list[dict]:
    with open(REPO / "deploy" / "rbac.yaml") as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


def wait_for(predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_rbac_least_privilege_role_reads_everything(fresh_cluster):
    server, _ = fresh_cluster
    for obj in rbac_objects():
        if (obj["apiVersion"], obj["kind"]) == ("v1", "Namespace"):
            create(server, obj)
    for obj in rbac_objects():
        if (obj["apiVersion"], obj["kind"]) != ("v1", "Namespace"):
            create(server, obj)
    kubeconfig = server.service_account_kubeconfig("netaudit", "netaudit")

    def clean_run():
        result = CliRunner().invoke(main, ["matrix", "--kubeconfig", str(kubeconfig), "-o", "json"])
        return result if result.exit_code == 0 and not any(
            w["code"] == "forbidden" for w in json.loads(result.stdout)["warnings"]) else None
    assert wait_for(lambda: clean_run() is not None), "the read-only ClusterRole should read everything"

    # Remove the NetworkPolicy rule: one warning naming the resource and the permission; verdicts become unknown.
    status, role = server.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/netaudit-reader")
    assert status == 200
    role["rules"] = [r for r in role["rules"] if "networkpolicies" not in r["resources"]
                     or r["apiGroups"] != ["networking.k8s.io"]]
    status, _ = server.request("PUT", "/apis/rbac.authorization.k8s.io/v1/clusterroles/netaudit-reader", role)
    assert status == 200

    def forbidden_run():
        result = CliRunner().invoke(main, ["matrix", "--kubeconfig", str(kubeconfig), "-o", "json"])
        if result.exit_code != 0:
            return None
        doc = json.loads(result.stdout)
        hits = [w for w in doc["warnings"] if w["code"] == "forbidden"]
        return (result, doc, hits) if hits else None
    found = []
    assert wait_for(lambda: found.append(forbidden_run()) or found[-1] is not None)
    result, doc, hits = found[-1]
    assert "Traceback" not in result.output
    assert len(hits) == 1 and "networkpolicies.networking.k8s.io" in hits[0]["message"]
    assert "deploy/rbac.yaml" in hits[0]["message"]
    conns = {(c["from"], c["to"]): c for c in doc["connections"]}
    # Without the NetworkPolicies, web's ingress is unknown except what Calico decides for sure (22 denied first).
    web = conns[("ly/client", "lx/web-7d77fb55cc-x2x9q")]
    assert web["unknown"] and web["allowed"] == []


def test_pagination_reads_every_page(apiserver):
    for obj in [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "paging"}}]:
        create(apiserver, obj)
    for i in range(23):
        create(apiserver, {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": f"p{i:02d}", "namespace": "paging", "labels": {"i": str(i)}},
                           "spec": {"containers": [{"name": "c", "image": "i"}]}})
    calls = []
    original = live._raw_get

    def counting(client, path, query):
        calls.append((path, dict(query)))
        return original(client, path, query)
    live._raw_get = counting
    try:
        state = live.load_live(kubeconfig=apiserver.kubeconfig, context=apiserver.context, page_size=5)
    finally:
        live._raw_get = original
    assert sorted(p.name for p in state.pods if p.namespace == "paging") == [f"p{i:02d}" for i in range(23)]
    pod_pages = [q for path, q in calls if path == "/api/v1/pods"]
    assert len(pod_pages) >= 5 and all(q["limit"] == "5" for q in pod_pages)
    assert sum(1 for q in pod_pages if "continue" in q) == len(pod_pages) - 1


def test_namespace_scoped_user_reads_its_namespace_with_dash_n(fresh_cluster):
    # A user who may list only in lx (a Role, no ClusterRole): `matrix -n lx` lists lx namespace by namespace,
    # says what it could not read, and still shows lx's pods; cluster-scoped policy kinds it cannot read make
    # the verdicts unknown rather than allowed.
    server, _ = fresh_cluster
    create(server, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": "scoped-reader", "namespace": "lx"},
                    "rules": [{"apiGroups": ["", "apps", "batch", "discovery.k8s.io", "networking.k8s.io"],
                               "resources": ["pods", "services", "serviceaccounts", "replicasets", "jobs",
                                             "endpointslices", "networkpolicies"], "verbs": ["list"]}]})
    create(server, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "scoped-reader", "namespace": "lx"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "scoped-reader"},
                    "subjects": [{"kind": "ServiceAccount", "name": "scoped", "namespace": "lx"}]})
    kubeconfig = server.service_account_kubeconfig("lx", "scoped")

    def scoped_run():
        result = CliRunner().invoke(main, ["matrix", "--kubeconfig", str(kubeconfig), "-n", "lx", "-o", "json"])
        if result.exit_code != 0:
            return None
        doc = json.loads(result.stdout)
        return (result, doc) if {"lx/db-0", "lx/web-7d77fb55cc-x2x9q"} <= {e["id"] for e in doc["endpoints"]} \
            else None
    found = []
    assert wait_for(lambda: found.append(scoped_run()) or found[-1] is not None)
    result, doc = found[-1]
    assert "Traceback" not in result.output
    codes = {w["code"] for w in doc["warnings"]}
    assert "partial-read" in codes and "forbidden" in codes
    assert not any(e["id"].startswith("ly/") for e in doc["endpoints"])
    conns = {(c["from"], c["to"]): c for c in doc["connections"]}
    # The Calico tier and the AdminNetworkPolicies could not be read: web -> db is unknown, not silently allowed.
    web_db = conns[("lx/web-7d77fb55cc-x2x9q", "lx/db-0")]
    assert web_db["unknown"] and web_db["allowed"] == []
