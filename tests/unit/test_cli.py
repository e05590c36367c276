"""Every command, output format and exit code of the CLI, run through click's CliRunner."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import main

BASIC = """
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.1.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
    ports: [{port: http}]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_help_lists_commands_and_exit_codes():
    result = run("--help")
    assert result.exit_code == 0
    for word in ("matrix", "explain", "Exit codes"):
        assert word in result.output


def test_matrix_table(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("matrix", "-f", path)
    assert result.exit_code == 0, result.output
    assert "8080/TCP" in result.output  # b -> a on the named port only
    assert "x/a" in result.output and "x/b" in result.output


def test_matrix_json_contract(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("matrix", "-f", path, "-o", "json", "-q")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "netaudit/v1" and doc["kind"] == "ConnectivityMatrix" and doc["level"] == "pod"
    pods = {e["id"]: e for e in doc["endpoints"] if e["kind"] == "Pod"}
    assert pods["x/a"] == {"id": "x/a", "kind": "Pod", "namespace": "x", "name": "a", "workload": "Pod/a",
                           "ips": ["10.0.1.1"], "labels": {"app": "a"}}
    conns = {(c["from"], c["to"]): c for c in doc["connections"]}
    # Worked out by hand: a is isolated for ingress and admits only b on its named port http = 8080/TCP.
    assert conns[("x/b", "x/a")] == {"from": "x/b", "to": "x/a",
                                     "allowed": [{"protocol": "TCP", "ports": [[8080, 8080]]}], "unknown": []}
    # b is not isolated: a reaches it on everything.
    assert conns[("x/a", "x/b")]["allowed"] == [{"protocol": p, "ports": [[1, 65535]]} for p in ("TCP", "UDP", "SCTP")]
    assert ("x/a", "x/a") not in conns and ("x/b", "x/b") not in conns  # self pairs omitted
    external = [e for e in doc["endpoints"] if e["kind"] == "External"]
    assert external == [{"id": "cidr:0.0.0.0/0", "kind": "External", "cidr": "0.0.0.0/0", "except": []}]
    assert ("cidr:0.0.0.0/0", "x/a") not in conns  # a's ingress admits only b


@pytest.mark.parametrize("level,ids", [("workload", {"x/Pod/a", "x/Pod/b"}), ("namespace", {"x"})])
def test_matrix_levels(tmp_path, level, ids):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("matrix", "-f", path, "-o", "json", "--level", level)
    doc = json.loads(result.stdout)
    assert doc["level"] == level
    assert {e["id"] for e in doc["endpoints"] if e["kind"] != "External"} == ids


def test_matrix_list_view_and_namespace_filter(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("matrix", "-f", path, "--view", "list", "-n", "x")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == ["FROM", "TO", "ALLOWED"]


def test_explain_text_and_json(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("explain", "x/b", "x/a", "--port", "8080/TCP", "-f", path)
    assert result.exit_code == 0
    assert result.output.startswith("x/b -> x/a on 8080/TCP: ALLOWED")
    assert "NetworkPolicy x/a-in spec.ingress[0]" in result.output
    denied = run("explain", "x/b", "x/a", "--port", "80", "-f", path, "-o", "json")
    doc = json.loads(denied.stdout)
    assert doc["verdict"] == "denied" and doc["ingress"]["verdict"] == "denied"
    assert doc["egress"]["verdict"] == "allowed"


@pytest.mark.parametrize("args,message", [
    (["explain", "x/b", "x/a", "--port", "http"], "--port"),
    (["explain", "x/b", "x/nope", "--port", "80"], "no pod, workload or address 'x/nope'"),
    (["matrix", "--level", "cluster"], "cluster"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run(*args, "-f", path)
    assert result.exit_code == 2
    assert message in result.output


def test_missing_path_exits_2(tmp_path):
    result = run("matrix", "-f", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_nothing_usable_exits_2(tmp_path):
    path = write(tmp_path, "bad.yaml", "kind: [unclosed\n")
    result = run("matrix", "-f", path)
    assert result.exit_code == 2
    assert "bad.yaml:1: invalid YAML" in result.output  # the file has one line: the error is on it
    assert "nothing usable" in result.output


def test_bad_document_does_not_hide_the_rest(tmp_path):
    write(tmp_path, "good.yaml", BASIC)
    write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: c\n")
    write(tmp_path, "other.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    result = run("matrix", "-f", str(tmp_path), "-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    codes = {w["code"] for w in doc["warnings"]}
    assert {"invalid-yaml", "unknown-kind"} <= codes
    assert any("Widget" in w["message"] for w in doc["warnings"])
    assert {"x/a", "x/b"} <= {e["id"] for e in doc["endpoints"]}


def test_broken_policy_field_makes_verdicts_unknown(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: app, operator: Inn, values: [c]}]}}]
""")
    result = run("matrix", "-f", path, "-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    warning = next(w for w in doc["warnings"] if w["code"] == "invalid-field")
    assert "NetworkPolicy x/broken" in warning["message"]
    assert "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator" in warning["message"]
    conns = {(c["from"], c["to"]): c for c in doc["connections"]}
    # b -> a: 8080/TCP surely allowed by a-in; every other port depends on the broken peer: unknown, not denied.
    b_to_a = conns[("x/b", "x/a")]
    assert b_to_a["allowed"] == [{"protocol": "TCP", "ports": [[8080, 8080]]}]
    assert b_to_a["unknown"] and all("Inn" in u["reason"] for u in b_to_a["unknown"])
    assert b_to_a["unknown"][0]["ports"] == [[1, 8079], [8081, 65535]]


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "netaudit" in result.output


def test_snapshot_round_trip(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    snap = str(tmp_path / "cluster.json")
    result = run("snapshot", "-f", path, "-o", snap)
    assert result.exit_code == 0, result.output
    direct = json.loads(run("matrix", "-f", path, "-o", "json").stdout)
    via_snapshot = json.loads(run("matrix", "--snapshot", snap, "-o", "json").stdout)
    assert direct["connections"] == via_snapshot["connections"]
    assert direct["endpoints"] == via_snapshot["endpoints"]


def test_snapshot_from_the_future_is_refused(tmp_path):
    snap = tmp_path / "future.json"
    snap.write_text(json.dumps({"apiVersion": "netaudit/v1", "kind": "ClusterSnapshot", "version": 99,
                                "producer": "netaudit 9.0", "state": {}}))
    result = run("matrix", "--snapshot", str(snap))
    assert result.exit_code == 2
    assert "newer netaudit" in result.output and "upgrade" in result.output


def test_snapshot_not_a_snapshot(tmp_path):
    snap = tmp_path / "x.json"
    snap.write_text("{\"kind\": \"Pod\"}")
    result = run("matrix", "--snapshot", str(snap))
    assert result.exit_code == 2 and "not a netaudit snapshot" in result.output


def test_unreachable_cluster_is_one_line_exit_2(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(GOOD_KUBECONFIG)  # valid, pointing at a port where nothing listens
    import auditor.sources.live as live
    original = live.Reader.__init__

    def fast(self, client, **kw):  # no backoff sleeps in a unit test
        original(self, client, **kw)
        self.sleep = lambda s: None
    live.Reader.__init__ = fast
    try:
        result = run("matrix", "--kubeconfig", str(kubeconfig))
    finally:
        live.Reader.__init__ = original
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot reach the API server at https://127.0.0.1:1")
    assert len(result.output.strip().splitlines()) == 1


GOOD_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
"""

BAD_KUBECONFIGS = {
    # file content (None: no file) -> what the one error line says
    "missing": (None, "--kubeconfig {path}: no such file"),
    "broken-yaml": ("apiVersion: v1\nclusters: [\n", "kubeconfig {path} is not valid YAML at line 3: expected the "
                                                      "node content"),
    "a-string": ("just a string\n", "kubeconfig {path} is not a kubeconfig: expected a map with clusters, users and "
                                    "contexts, found a str"),
    "a-list": ("- a\n- b\n", "kubeconfig {path} is not a kubeconfig: expected a map with clusters, users and "
                             "contexts, found a list"),
    "empty": ("", "kubeconfig {path} defines no context"),
    "no-contexts": ("apiVersion: v1\nkind: Config\n", "kubeconfig {path} defines no context"),
    "no-current-context": (GOOD_KUBECONFIG.replace("current-context: ctx\n", ""),
                           "kubeconfig {path} sets no current-context: pass --context NAME (contexts: ctx)"),
    "current-context-undefined": (GOOD_KUBECONFIG.replace("current-context: ctx", "current-context: gone"),
                                  "kubeconfig {path}: current-context 'gone' is not defined (contexts: ctx)"),
    "cluster-missing": (GOOD_KUBECONFIG.replace("clusters: [{name: c,", "clusters: [{name: other,"),
                        "kubeconfig {path}: context 'ctx' uses cluster 'c', which is not defined (clusters: other)"),
    "user-missing": (GOOD_KUBECONFIG.replace("users: [{name: u,", "users: [{name: other,"),
                     "kubeconfig {path}: context 'ctx' uses user 'u', which is not defined (users: other)"),
    "no-server": (GOOD_KUBECONFIG.replace('{server: "https://127.0.0.1:1"}', "{}"),
                  "kubeconfig {path}: cluster 'c' has no server URL (https://...)"),
    "contexts-not-a-list": ("contexts: {ctx: {}}\n", "kubeconfig {path}: contexts must be a list of {{name, context}}"),
}


@pytest.mark.parametrize("case", sorted(BAD_KUBECONFIGS))
def test_every_unreadable_kubeconfig_is_one_line_exit_2(tmp_path, monkeypatch, case):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    content, expected = BAD_KUBECONFIGS[case]
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_text(content)
    for command in ("matrix", "check", "verify"):
        result = run(command, "--kubeconfig", str(path))
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith("error: " + expected.format(path=path)), (command, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_context_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    path = tmp_path / "kubeconfig"
    path.write_text(GOOD_KUBECONFIG)
    result = run("matrix", "--kubeconfig", str(path), "--context", "nope")
    assert result.exit_code == 2
    assert result.output == f"error: context 'nope' is not in kubeconfig {path} (contexts: ctx)\n"


def test_no_kubeconfig_hints_name_options_that_work(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    matrix = run("matrix")
    assert matrix.exit_code == 2 and "or read manifests with -f PATH" in matrix.output
    verify = run("verify")
    assert verify.exit_code == 2 and "netaudit verify --dry-run -f PATH" in verify.output
    # ... and the hint is true: verify --dry-run -f plans from manifests without a cluster.
    manifests = write(tmp_path, "basic.yaml", BASIC)
    assert run("verify", "--dry-run", "-f", manifests).exit_code == 0
    assert "-f" in run("verify", "--dry-run").output
    cleanup = run("verify", "--cleanup")
    assert cleanup.exit_code == 2 and "-f" not in cleanup.output  # cleanup needs the cluster: no -f to offer


def test_kubeconfig_lists_as_kubectl_merges_them(tmp_path, monkeypatch):
    # KUBECONFIG lists files; missing ones are skipped, and a later file can supply the cluster.
    first = tmp_path / "a"
    first.write_text(GOOD_KUBECONFIG.replace('clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n',
                                             ""))
    second = tmp_path / "b"
    second.write_text('clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\n')
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{first}:{second}")
    from auditor.sources.live import check_kubeconfig
    check_kubeconfig([str(first), str(second)], None)  # no error: the cluster comes from the second file
    second.write_text("clusters: [\n")
    result = run("matrix")
    assert result.exit_code == 2 and result.output.startswith(f"error: kubeconfig {second} is not valid YAML")


def test_namespace_filter_keeps_the_other_end_of_each_flow(tmp_path):
    # Regression: with -n the other namespace's endpoints were dropped while their connections stayed,
    # and the list view failed on them.
    path = write(tmp_path, "two.yaml", BASIC + """
---
apiVersion: v1
kind: Namespace
metadata: {name: y}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: y, labels: {app: c}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.2.1}
""")
    result = run("matrix", "-f", path, "-n", "y", "--view", "list", "-q")
    assert result.exit_code == 0 and "y/c" in result.output
    doc = json.loads(run("matrix", "-f", path, "-n", "y", "-o", "json", "-q").stdout)
    ids = {e["id"] for e in doc["endpoints"]}
    assert all(c["from"] in ids and c["to"] in ids for c in doc["connections"])
    assert any(c["from"] == "y/c" for c in doc["connections"])


def test_report_store_needs_the_live_cluster(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("report", "-f", path, "--store", "configmap:netaudit/baseline", "-q")
    assert result.exit_code == 2 and "--store works on the live cluster" in result.output


def test_no_progress_text_when_not_a_terminal(tmp_path):
    path = write(tmp_path, "basic.yaml", BASIC)
    result = run("matrix", "-f", path, "-o", "json", "-q")
    assert "netaudit: reading" not in result.stderr and "\x1b[K" not in result.stderr


def test_quiet_hides_warnings_but_never_errors(tmp_path):
    write(tmp_path, "good.yaml", BASIC)
    write(tmp_path, "widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")  # a warning
    write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [c\n")  # an error
    loud = CliRunner().invoke(main, ["matrix", "-f", str(tmp_path)])
    quiet = CliRunner().invoke(main, ["matrix", "-f", str(tmp_path), "-q"])
    assert loud.exit_code == quiet.exit_code == 0
    assert "warning: " in loud.stderr and "Widget" in loud.stderr
    assert "error: " in loud.stderr and "broken.yaml:3: invalid YAML" in loud.stderr
    assert quiet.stderr.splitlines() == [line for line in loud.stderr.splitlines() if line.startswith("error: ")]
    assert quiet.stderr.count("error: ") == 1
