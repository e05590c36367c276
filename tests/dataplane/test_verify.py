"""`netaudit verify`, unchanged (its CLI, in a subprocess), against Felix's real dataplane on the local Calico node.

Its probe pods are scheduled, wired and run by the node agent (busybox `sh` and `nc`, as user 65534, in their own
network namespaces); their logs come back through the API server's pod log endpoint; they are deleted at the end.
On the demo shop and on conformance cases every probe must match the prediction. Then the dataplane is broken
behind netaudit's back (an nftables rule in the node's namespace drops one allowed flow) and verify must report
exactly that flow as a false-deny.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.calico_node import netns

from .cluster import load_case, to_node

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
NETAUDIT = str(Path(sys.executable).parent / "netaudit")
VERIFY_CASES = [
    "demo/shop",
    "kubernetes/default-deny-all",
    "kubernetes/cross-namespace-needs-both-sides",
    "kubernetes/ingress-namespaceselector-by-label",
    "kubernetes/named-port-ingress",
    "kubernetes/egress-ipblock-except-pod-ip",
    "calico/deny-before-k8s-np",
    "calico/gnp-namespace-selector",
    "calico/selector-ops-string-match",
]


def verify(node, *args: str) -> tuple[int, dict, str]:
    proc = subprocess.run([NETAUDIT, "verify", "--kubeconfig", node.kubeconfig, "-o", "json", "--probe-timeout", "1",
                           "--tries", "2", "--max-probes", "1000", "--timeout", "60", *args],
                          capture_output=True, text=True, timeout=600)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = {}
    return proc.returncode, doc, proc.stderr


def _table(doc: dict) -> str:
    return "\n".join(f"  {p['from']} -> {p['to']} {p['port']}/{p['protocol']}: predicted {p['predicted']}, "
                     f"observed {p['observed']} ({p['result']}) => {p['verdict']}" for p in doc.get("probes", []))


@pytest.mark.parametrize("name", VERIFY_CASES)
def test_verify_matches_on_felix(name: str, calico_node, applier):
    path = CONFORMANCE / f"{name}.yaml"
    case = to_node(load_case(path), path)
    applier.apply(case)
    applier.wait_ready(case)
    code, doc, err = verify(calico_node)
    assert doc, f"verify printed no report (exit {code}):\n{err[-3000:]}"
    summary = doc["summary"]
    assert code == 0, f"verify exit {code}: {summary}\n{_table(doc)}\n{err[-2000:]}"
    assert summary["false-allow"] == 0 and summary["false-deny"] == 0
    assert summary["match"] > 0, (f"nothing was checked: {summary}\n{doc['warnings']}\n{_table(doc)[:3000]}\n"
                                  f"{err[-2000:]}")
    # Every probe the script could run reported a result: nothing missing, nothing failed.
    ran = [p for p in doc["probes"] if p["observed"] != "not probed"]
    assert ran and all(p["observed"] in ("open", "blocked") for p in ran), _table(doc)
    assert not [w for w in doc["warnings"] if "probe run" in w or "log ends" in w], doc["warnings"]
    # verify deleted its probe pods, and the agent tore them down.
    status, pods = calico_node.request("GET", "/api/v1/pods?labelSelector=netaudit.dev%2Fprobe%3Dtrue")
    assert status == 200 and not pods["items"], [p["metadata"]["name"] for p in pods["items"]]


BREAK_CASE = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    *({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n, "namespace": "shop", "labels": {"app": n}},
       "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]},
       "status": {"podIP": ip}} for n, ip in (("web", "10.7.0.1"), ("api", "10.7.0.2"), ("db", "10.7.0.3"))),
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "api", "namespace": "shop"},
     "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
              "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080}]}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
     "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
              "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 8080}]}]}},
]


def test_verify_reports_a_flow_the_dataplane_drops(calico_node, applier, tmp_path):
    """shop/web -> shop/api 8080 is allowed by policy; an nftables rule netaudit cannot see drops it."""
    if shutil.which("nft") is None:
        pytest.skip("nft (Debian's nftables) is missing: `make test-deps` installs it")
    case = to_node({"name": "break", "objects": BREAK_CASE}, tmp_path / "break.yaml")
    applier.apply(case)
    applier.wait_ready(case)
    code, doc, err = verify(calico_node)
    assert code == 0 and doc["summary"]["match"] > 0, f"before breaking: exit {code}\n{_table(doc)}\n{err[-2000:]}"
    # Before Felix's filter chains (priority 0), in a table of our own that Felix never rewrites.
    rules = ("add table ip netaudit_break\n"
             "add chain ip netaudit_break forward { type filter hook forward priority -10; }\n"
             "add rule ip netaudit_break forward ip daddr 10.7.0.2 tcp dport 8080 drop\n")
    subprocess.run([*netns.exec_prefix(calico_node.node_netns), "nft", "-f", "-"], input=rules, text=True,
                   check=True, capture_output=True)
    try:
        code, doc, err = verify(calico_node)
    finally:
        subprocess.run([*netns.exec_prefix(calico_node.node_netns), "nft", "delete", "table", "ip", "netaudit_break"],
                       capture_output=True)
    assert code == 1, f"verify exit {code} (1 = a mismatch was found)\n{_table(doc)}\n{err[-2000:]}"
    mismatches = [(p["from"], p["to"], p["port"], p["protocol"], p["verdict"]) for p in doc["probes"]
                  if p["verdict"] in ("false-allow", "false-deny")]
    assert mismatches == [("shop/web", "shop/api", 8080, "TCP", "false-deny")], _table(doc)
    assert doc["summary"]["false-deny"] == 1 and doc["summary"]["false-allow"] == 0
