"""The kind binary accepts kind-configs/calico.yaml: with a stand-in `docker` that answers only `info` and `ps`,
kind validates the config and gets as far as pulling the node image (where the real Docker engine would take
over), while a broken config is rejected by kind's own validation. Runs when kind is installed (`make kind-bin`,
which `make test` runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STUB = """#!/bin/sh
if [ "$1" = "ps" ]; then exit 0; fi
if [ "$1" = "info" ]; then
  echo '{"CgroupDriver":"systemd","CgroupVersion":"2","ServerVersion":"28.2.2",'\
'"SecurityOptions":["name=seccomp,profile=builtin","name=cgroupns"],"MemoryLimit":true,"PidsLimit":true}'
  exit 0
fi
echo "stub docker: no engine here" >&2
exit 1
"""


def _kind() -> str | None:
    for candidate in (os.environ.get("KIND_BIN_DIR", ""), str(REPO / ".cache" / "bin"),
                      os.path.expanduser("~/.cache/netaudit/bin")):
        path = Path(candidate) / "kind"
        if candidate and path.exists():
            return str(path)
    return shutil.which("kind")


@pytest.fixture
def kind(tmp_path):
    binary = _kind()
    if binary is None:
        pytest.skip("kind is not installed (make kind-bin)")
    stub = tmp_path / "bin" / "docker"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    env = dict(os.environ, PATH=f"{stub.parent}:{os.environ['PATH']}", HOME=str(tmp_path))

    def run(config: Path) -> str:
        result = subprocess.run([binary, "create", "cluster", "--name", "netaudit-validate", "--config", str(config),
                                 "--retain=false"], capture_output=True, text=True, env=env, timeout=120)
        return result.stdout + result.stderr
    return run


def test_kind_accepts_the_config(kind):
    output = kind(REPO / "kind-configs" / "calico.yaml")
    assert "Ensuring node image" in output and "invalid" not in output.lower(), output


def test_kind_rejects_a_broken_config(kind, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {podSubnet: notacidr}\n")
    assert "invalid pod subnet" in kind(bad)
