"""End to end on kind + Calico (make kind-up e2e): netaudit's prediction against the real dataplane.

Skipped with the reason when Docker, kind, kubectl or the kind cluster is missing, which is always the case on
machines without a Docker engine; `make kind-up e2e` runs it where Docker is available.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.dns_checks import check_dns_exception

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "e2e" / "scenario"
CONTEXT = os.environ.get("NETAUDIT_E2E_CONTEXT", "kind-netaudit")
NETAUDIT = [str(REPO / ".venv" / "bin" / "netaudit")] if (REPO / ".venv" / "bin" / "netaudit").exists() \
    else ["netaudit"]

pytestmark = pytest.mark.e2e


def _missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine answers (docker info failed)"
    if shutil.which("kubectl") is None:
        return "no kubectl"
    if subprocess.run(["kubectl", "--context", CONTEXT, "get", "nodes"], capture_output=True).returncode != 0:
        return f"no cluster at kubectl context {CONTEXT}: run `make kind-up`"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = _missing()
    if reason:
        pytest.skip(f"kind + Calico e2e: {reason}")
    kubectl = ["kubectl", "--context", CONTEXT]
    subprocess.run(kubectl + ["apply", "-f", str(SCENARIO)], check=True)
    for ns in "xyz":
        subprocess.run(kubectl + ["-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=300s"],
                       check=True)
    yield kubectl
    subprocess.run(kubectl + ["delete", "-f", str(SCENARIO), "--wait=false"], check=False)


def netaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(NETAUDIT + list(args) + ["--context", CONTEXT], capture_output=True, text=True)


def test_live_matrix_equals_offline_prediction(cluster):
    live = json.loads(netaudit("matrix", "-o", "json", "-q", "-n", "x", "-n", "y", "-n", "z").stdout)
    offline = subprocess.run(NETAUDIT + ["matrix", "-f", str(SCENARIO), "-o", "json", "-q"], capture_output=True,
                             text=True)
    offline_doc = json.loads(offline.stdout)
    pods = {f"{n}/{p}" for n in "xyz" for p in "abc"}

    def pod_pairs(doc):
        return {(c["from"], c["to"]): c["allowed"] for c in doc["connections"]
                if c["from"] in pods and c["to"] in pods}
    assert pod_pairs(live) == pod_pairs(offline_doc)


def test_the_dns_exception_of_y_works(cluster):
    """y's default-deny egress keeps its DNS exception: y's pods reach the real CoreDNS pods on 53/UDP and 53/TCP
    and nothing else (the assertions, worked out by hand, are in dns_checks.py; tests/unit/test_e2e_offline.py runs
    them on the same scenario offline)."""
    matrix = json.loads(netaudit("matrix", "-o", "json", "-q", "-n", "y").stdout)
    dns = json.loads(netaudit("dns", "-o", "json", "-q", "-n", "y", "--no-records").stdout)
    check = json.loads(netaudit("check", "-o", "json", "-q", "--fail-on", "never", "-n", "y").stdout)
    check_dns_exception(matrix, dns, check, "y")


def test_verify_finds_no_mismatch(cluster):
    result = netaudit("verify", "-n", "x", "-n", "y", "-n", "z", "-o", "json", "--timeout", "240")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["false-allow"] == 0 and summary["false-deny"] == 0, json.dumps(report, indent=2)[:4000]
    assert summary["match"] > 0  # something was really probed
