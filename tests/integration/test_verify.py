"""`netaudit verify` against a real kube-apiserver: the probe pods it creates, and that it never leaves them behind.

No scheduler or kubelet runs here, so probe pods stay Pending forever: exactly the case of a cluster where no node
can run them. The namespace enforces the restricted Pod Security Standard, so the API server's own PodSecurity
admission checks every probe pod.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_live_source import create

from auditor.cli import main
from auditor.model import Pod
from auditor.probe.plan import Plan, PlannedProbe, ProbeSource
from auditor.probe.podspec import probe_pods as probe_pod_manifests

REPO = Path(__file__).resolve().parents[2]
NS = "vfy"
PROBES = "netaudit.dev/probe=true"


def compliant_pod(name, labels, ip, port, sa="default"):
    """A running pod that the restricted Pod Security Standard admits (the namespace enforces it)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"serviceAccountName": sa,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "c", "image": "registry.example/app:1",
                                     "ports": [{"name": "p", "containerPort": port}],
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


@pytest.fixture(scope="module")
def cluster(apiserver):
    """A server of our own: cluster-wide policies other tests leave behind would change the plan checked here.
    (`apiserver` only for its check that the binaries are built, and its skip when they are not.)"""
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([CRD_DIR])
        _populate(server)
        yield server
    finally:
        server.stop()


def _populate(server):
    create(server, {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": NS, "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                                           "pod-security.kubernetes.io/enforce-version": "latest"}}})
    create(server, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web-sa", "namespace": NS}})
    create(server, compliant_pod("web-1", {"app": "web", "pod-template-hash": "7d77fb55cc"}, "10.244.9.10", 8080,
                                    sa="web-sa"))
    create(server, compliant_pod("db-1", {"app": "db"}, "10.244.9.11", 5432))
    create(server, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": "db-from-web", "namespace": NS},
                       "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                             "ports": [{"port": 5432}]}]}})


def probe_pods(server, namespace=None):
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    status, body = server.request("GET", f"{path}?labelSelector={PROBES}")
    assert status == 200, body
    return body["items"]


def args(server, *more):
    return ["verify", "--kubeconfig", server.kubeconfig, "--context", server.context, "-n", NS, *more]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return None


def test_the_namespace_really_enforces_restricted(cluster):
    """The control: a root pod is rejected here, so the probe pods below pass the API server's own check."""
    status, body = cluster.request("POST", f"/api/v1/namespaces/{NS}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": "i", "securityContext": {"runAsUser": 0}}]}})
    assert status == 403 and "violates PodSecurity" in body["message"]


def test_dry_run_plans_with_the_real_pod_ips_and_creates_nothing(cluster):
    result = CliRunner().invoke(main, args(cluster, "--to", f"{NS}/db-1", "--dry-run", "-o", "json", "-q"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # db admits app=web on 5432 only: web -> db gets 5432 (declared, allowed) and the lowest denied port (1);
    # db -> db gets 5432, denied (db is not app=web).
    assert {(p["from"], p["to"], p["ip"], p["port"], p["predicted"]) for p in doc["probes"]} == {
        (f"{NS}/web-1", f"{NS}/db-1", "10.244.9.11", 5432, "allowed"),
        (f"{NS}/web-1", f"{NS}/db-1", "10.244.9.11", 1, "denied"),
        (f"{NS}/db-1", f"{NS}/db-1", "10.244.9.11", 5432, "denied"),
    }
    assert sorted(p["metadata"]["annotations"]["netaudit.dev/source-pod"] for p in doc["pods"]) == [
        f"{NS}/db-1", f"{NS}/web-1"]
    assert probe_pods(cluster) == []


def test_without_a_kubelet_verify_times_out_cleanly_and_deletes_its_pods(cluster):
    result = CliRunner().invoke(main, args(cluster, "--timeout", "2", "-q"))
    assert result.exit_code == 2, result.output
    # Two source classes (web, db), so two probe pods; the API server admitted both (restricted), no node ran them.
    assert result.stderr.strip() == ("error: probe pods did not start within 2s: 2 Pending (no node ran them); "
                                     "deleted them")
    assert "Traceback" not in result.output
    assert probe_pods(cluster) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_nothing_behind(cluster, sig):
    netaudit = Path(sys.executable).with_name("netaudit")
    proc = subprocess.Popen([str(netaudit), *args(cluster, "--timeout", "300")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        pods = wait_for(lambda: (lambda found: found if len(found) == 2 else None)(probe_pods(cluster, NS)))
        assert pods, "verify should have created two probe pods"
        by_source = {p["metadata"]["annotations"]["netaudit.dev/source-pod"]: p for p in pods}
        assert set(by_source) == {f"{NS}/web-1", f"{NS}/db-1"}
        web = by_source[f"{NS}/web-1"]
        run_id = web["metadata"]["labels"]["netaudit.dev/run"]
        # The source pod's namespace, policy-relevant labels (pod-template-hash is not one) and service account.
        assert web["metadata"]["namespace"] == NS
        assert web["metadata"]["labels"] == {"app": "web", "netaudit.dev/probe": "true", "netaudit.dev/run": run_id}
        assert web["spec"]["serviceAccountName"] == "web-sa"
        assert by_source[f"{NS}/db-1"]["spec"]["serviceAccountName"] == "default"
        assert web["spec"]["automountServiceAccountToken"] is False
        assert web["spec"]["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                                  "seccompProfile": {"type": "RuntimeDefault"}}
        container = web["spec"]["containers"][0]
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                                "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                                "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
        assert container["readinessProbe"]["exec"]["command"] == ["false"]
        assert web["status"]["phase"] == "Pending"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, stderr
    assert f"interrupted ({signal.Signals(sig).name}): deleted them" in stderr
    assert "Traceback" not in stderr
    assert probe_pods(cluster) == []


def test_cleanup_removes_leftovers_of_any_run_and_nothing_else(cluster):
    def leftover(run_id):
        """The probe pod a killed run (kill -9: no handler runs) would leave."""
        source = ProbeSource(0, Pod(NS, "web-1", service_account="web-sa"), {"app": "web"}, frozenset())
        probe = PlannedProbe("p0", f"{NS}/web-1", 0, f"{NS}/db-1", 1, "10.244.9.11", "TCP", 5432, "allowed", (),
                             "tcp")
        return probe_pod_manifests(Plan([source], [probe]), run_id)[0]

    for run_id in ("0000aaaa", "0000bbbb"):
        create(cluster, leftover(run_id))
    # Look-alikes that are not probe pods: same run label, or the probe label with another value.
    bystander = compliant_pod("bystander", {"netaudit.dev/run": "0000aaaa"}, "10.244.9.12", 80)
    other = compliant_pod("not-a-probe", {"netaudit.dev/probe": "false"}, "10.244.9.13", 80)
    for obj in (bystander, other):
        create(cluster, obj)
    assert len(probe_pods(cluster)) == 2

    result = CliRunner().invoke(main, ["verify", "--cleanup", "--kubeconfig", cluster.kubeconfig,
                                       "--context", cluster.context])
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == [f"deleted pod {NS}/netaudit-probe-0000aaaa-0",
                                                  f"deleted pod {NS}/netaudit-probe-0000bbbb-0"]
    assert probe_pods(cluster) == []
    for name in ("bystander", "not-a-probe"):
        status, _ = cluster.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}")
        assert status == 200, f"{name} must not be touched"
        cluster.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{name}")

    again = CliRunner().invoke(main, ["verify", "--cleanup", "--kubeconfig", cluster.kubeconfig,
                                      "--context", cluster.context])
    assert again.exit_code == 0 and again.stdout == "" and "no probe pod left behind" in again.stderr


def _renamed(doc: dict, suffix: str) -> dict:
    """The same RBAC object under a name of its own, so it cannot collide with other tests' copies."""
    doc = copy.deepcopy(doc)
    doc["metadata"]["name"] += suffix
    if "roleRef" in doc:
        doc["roleRef"]["name"] += suffix
    return doc


def test_the_probe_rbac_is_enough(cluster):
    """deploy/rbac.yaml + deploy/rbac-probe.yaml (a RoleBinding in the namespace): the run gets as far as a
    kubelet would take it, and cleans up, with no permission error."""
    docs = [d for name in ("rbac.yaml", "rbac-probe.yaml")
            for d in yaml.safe_load_all((REPO / "deploy" / name).read_text()) if d]
    kubeconfig = cluster.service_account_kubeconfig("netaudit", "netaudit")
    paths = {"ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
             "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
             "RoleBinding": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings"}
    for doc in docs:
        if doc["kind"] in paths:
            doc = _renamed(doc, "-verify-test")
            doc["metadata"].pop("namespace", None)
            status, body = cluster.request("POST", paths[doc["kind"]], doc)
            assert status in (201, 409), body

    def run():
        result = CliRunner().invoke(main, ["verify", "--kubeconfig", kubeconfig, "-n", NS, "--timeout", "2", "-q"])
        return result if "did not start" in result.stderr else None
    result = wait_for(run, timeout=30)  # RBAC takes effect once the authorizer's cache has the new bindings
    assert result is not None, "the probe RBAC should allow creating, watching and deleting probe pods"
    assert result.exit_code == 2 and "deleted them" in result.stderr and "403" not in result.stderr
    assert probe_pods(cluster) == []
