"""Files that no command here runs end to end: the workflows parse and call what they say, the kind config is the
one the README describes. (kind itself is exercised by tests/integration/test_kind_config.py when installed.)"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_workflows_parse_and_run_the_make_targets():
    ci = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    e2e = yaml.safe_load((REPO / ".github/workflows/e2e.yml").read_text())
    ci_steps = [s.get("run", "") for s in ci["jobs"]["test"]["steps"]]
    assert "bash .ci/run" in ci_steps
    e2e_steps = [s.get("run", "") for s in e2e["jobs"]["kind-calico"]["steps"]]
    assert "make kind-up" in e2e_steps and "make e2e" in e2e_steps and "make kind-down" in e2e_steps


def test_kind_config():
    config = yaml.safe_load((REPO / "kind-configs/calico.yaml").read_text())
    assert config["networking"]["disableDefaultCNI"] is True
    assert config["networking"]["podSubnet"] == "192.168.0.0/16"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
