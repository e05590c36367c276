"""The CronJob path end to end on the real API server: deploy/cronjob.yaml's RBAC, two runs of
`netaudit report --store configmap:netaudit/netaudit-baseline` as its ServiceAccount with a policy change between
them: the second run reports the drift and exits 1; the stored ConfigMap round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_live_source import collection, create

from auditor.cli import main

REPO = Path(__file__).resolve().parents[2]


def _pod(ns, name, labels, ip):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


ALLOW_WEB = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "api-from-web", "namespace": "shop"},
             "spec": {"podSelector": {"matchLabels": {"app": "api"}},
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                   "ports": [{"port": "http"}]}]}}


@pytest.fixture(scope="module")
def audited_cluster():
    from apiserver import LocalApiServer
    from conftest import CRD_DIR
    server = LocalApiServer()
    try:
        server.start()
        server.apply_crds([CRD_DIR])
        for doc in (d for d in yaml.safe_load_all((REPO / "deploy" / "cronjob.yaml").read_text()) if d):
            if doc["kind"] == "Namespace":
                create(server, doc)
                continue
            status, body = server.request("POST", collection(doc), doc)
            assert status == 201, body
        create(server, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        create(server, _pod("shop", "web", {"app": "web"}, "10.244.1.1"))
        create(server, _pod("shop", "api", {"app": "api"}, "10.244.1.2"))
        create(server, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "default-deny", "namespace": "shop"}, "spec": {"podSelector": {}}})
        yield server, server.service_account_kubeconfig("netaudit", "netaudit")
    finally:
        server.stop()


def _run(kubeconfig):
    return CliRunner().invoke(main, ["report", "--kubeconfig", str(kubeconfig), "--store",
                                     "configmap:netaudit/netaudit-baseline", "-o", "markdown", "--fail-on", "high",
                                     "-q"])


def test_two_runs_report_drift_and_store_the_snapshot(audited_cluster):
    server, kubeconfig = audited_cluster
    first = _run(kubeconfig)
    assert first.exit_code == 0, first.output
    assert "first run: no baseline yet" in first.stderr
    status, cm = server.request("GET", "/api/v1/namespaces/netaudit/configmaps/netaudit-baseline")
    assert status == 200 and "snapshot.json.gz" in cm["binaryData"]

    second_same = _run(kubeconfig)
    assert second_same.exit_code == 0, second_same.output
    assert "drift: 0 newly allowed, 0 newly denied" in second_same.stderr

    create(server, ALLOW_WEB)  # opens web -> api on 8080: newly allowed
    third = _run(kubeconfig)
    assert third.exit_code == 1, third.output
    assert "drift: 1 newly allowed" in third.stderr
    assert "shop/Pod/web" in third.stdout and "8080" in third.stdout

    fourth = _run(kubeconfig)  # the change is now the baseline
    assert fourth.exit_code == 0 and "drift: 0 newly allowed" in fourth.stderr
