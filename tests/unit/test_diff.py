"""`diff`: two states, and what-if with --with/--without (answers worked out by hand)."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from auditor.cli import main

BASE = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "x"},
     "spec": {"template": {"metadata": {"labels": {"app": "a"}},
                           "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b", "namespace": "x"},
     "spec": {"template": {"metadata": {"labels": {"app": "b"}},
                           "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "x"},
     "spec": {"podSelector": {}}},
]
ALLOW_B_TO_A = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "a-from-b", "namespace": "x"},
                "spec": {"podSelector": {"matchLabels": {"app": "a"}},
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                                      "ports": [{"port": 80}]}]}}


def write(tmp_path, name, objects):
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


def run(*args):
    result = CliRunner().invoke(main, list(args) + ["-q"])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_what_if_adding_an_allow(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    change = write(tmp_path, "change.yaml", [ALLOW_B_TO_A])
    result = run("diff", "-f", base, "--with", change, "-o", "json")
    assert result.exit_code == 1  # something is newly allowed
    doc = json.loads(result.stdout)
    # x is default-deny for ingress: the new policy opens exactly b -> a on 80/TCP, nothing else.
    assert doc["newlyAllowed"] == [{"from": "x/Deployment/b", "to": "x/Deployment/a",
                                    "opened": [{"protocol": "TCP", "ports": [[80, 80]]}]}]
    assert doc["newlyDenied"] == [] and doc["newlyUnknown"] == []


def test_what_if_removing_a_policy(tmp_path):
    base = write(tmp_path, "base.yaml", BASE + [ALLOW_B_TO_A])
    result = run("diff", "-f", base, "--without", "NetworkPolicy/x/a-from-b", "-o", "json")
    assert result.exit_code == 0  # only closes
    doc = json.loads(result.stdout)
    assert doc["newlyDenied"] == [{"from": "x/Deployment/b", "to": "x/Deployment/a",
                                   "closed": [{"protocol": "TCP", "ports": [[80, 80]]}]}]
    assert doc["newlyAllowed"] == []


def test_what_if_changing_a_workloads_labels(tmp_path):
    # b's new template carries app=a-client... no: it drops app=b, so the allow stops matching it.
    base = write(tmp_path, "base.yaml", BASE + [ALLOW_B_TO_A])
    relabel = dict(BASE[2])
    relabel = json.loads(json.dumps(relabel))
    relabel["spec"]["template"]["metadata"]["labels"] = {"app": "b2"}
    change = write(tmp_path, "change.yaml", [relabel])
    doc = json.loads(run("diff", "-f", base, "--with", change, "-o", "json").stdout)
    assert [(c["from"], c["to"]) for c in doc["newlyDenied"]] == [("x/Deployment/b", "x/Deployment/a")]


def test_two_snapshots(tmp_path):
    before = str(tmp_path / "before.json")
    after = str(tmp_path / "after.json")
    assert run("snapshot", "-f", write(tmp_path, "b.yaml", BASE), "-o", before).exit_code == 0
    assert run("snapshot", "-f", write(tmp_path, "a.yaml", BASE + [ALLOW_B_TO_A]), "-o", after).exit_code == 0
    result = run("diff", before, after)
    assert result.exit_code == 1
    assert "NEWLY ALLOWED (1)" in result.output and "x/Deployment/b" in result.output
    assert run("diff", after, after).output.strip() == "no change in connectivity"


def test_diff_usage_errors(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    assert run("diff", "-f", base).exit_code == 2
    missing = run("diff", "-f", base, "--without", "NetworkPolicy/x/nope")
    assert missing.exit_code == 2 and "no such object" in missing.output
    bad = run("diff", "-f", base, "--without", "nope")
    assert bad.exit_code == 2 and "KIND/NAMESPACE/NAME" in bad.output


def test_allowed_then_unknown_is_newly_unknown_not_newly_denied(tmp_path):
    # The new version of a-from-b names its peer with an operator that does not exist: whether b still reaches a on
    # 80/TCP is unknown now. Nobody knows it is closed, so it is newly unknown, and not newly denied.
    broken = json.loads(json.dumps(ALLOW_B_TO_A))
    broken["spec"]["ingress"][0]["from"] = [{"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "Matches", "values": ["b"]}]}}]
    base = write(tmp_path, "base.yaml", BASE + [ALLOW_B_TO_A])
    doc = json.loads(run("diff", "-f", base, "--with", write(tmp_path, "change.yaml", [broken]), "-o", "json").stdout)
    assert doc["newlyDenied"] == []
    assert [(c["from"], c["to"], c["unknown"]) for c in doc["newlyUnknown"]] == [
        ("x/Deployment/b", "x/Deployment/a", [{"protocol": "TCP", "ports": [[80, 80]]}])]
