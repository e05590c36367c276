"""The e2e DNS checks (tests/e2e/dns_checks.py), run offline on the same scenario plus what kind runs in
kube-system: the assertions the live test makes hold here, and fail when the DNS exception is taken away."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import main
from tests.e2e.dns_checks import check_dns_exception

E2E = Path(__file__).resolve().parents[1] / "e2e"


def _run(paths, *args) -> dict:
    sources = [a for p in paths for a in ("-f", str(p))]
    result = CliRunner().invoke(main, list(args) + sources + ["-o", "json", "-q", "-n", "y"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _documents(paths):
    return (_run(paths, "matrix"), _run(paths, "dns", "--no-records"), _run(paths, "check", "--fail-on", "never"))


def test_the_dns_exception_of_y_works_offline():
    check_dns_exception(*_documents([E2E / "scenario", E2E / "offline"]), "y")


def test_the_checks_fail_without_the_dns_exception(tmp_path):
    scenario = tmp_path / "scenario"
    shutil.copytree(E2E / "scenario", scenario)
    policies = scenario / "20-policies.yaml"
    docs = policies.read_text().split("\n---\n")
    policies.write_text("\n---\n".join(d for d in docs if "name: allow-dns," not in d))
    assert len(policies.read_text().split("\n---\n")) == len(docs) - 1
    with pytest.raises(AssertionError, match="cannot reach .* at all"):
        check_dns_exception(*_documents([scenario, E2E / "offline"]), "y")
