"""Fixtures for the dataplane tests: one local Calico node (tools/calico_node) shared by the whole session.

    calico_node   session-scoped CalicoNode: etcd, kube-apiserver, Felix and the node agent in network namespaces
    applier       a cluster.Applier on it, reset after each test (the node is shared: each test removes its objects)

Every test here gets the `dataplane` and `integration` markers (so the fast `not integration` runs leave them out).
They skip, with the reason, where a node cannot run: not root, no network namespaces, or iptables/ipset/busybox
missing (`make test-deps` installs them). Binaries not built (`make apiserver calico-felix`) fail the tests,
as in tests/integration, unless NETAUDIT_SKIP_INTEGRATION=1.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tools.calico_node.node import CalicoNode, NodeError, unavailable

from .cluster import Applier

HERE = Path(__file__).resolve().parent
NOT_BUILT = ("not built", "run `make")
SUMMARY: dict = {"cases": 0, "probes": 0, "skipped": [], "seconds": 0.0, "unstable": [], "felix": "", "per_case": {}}
REPORT_ENV = "NETAUDIT_DATAPLANE_REPORT"  # a file to write the per-case counts to (JSON)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(getattr(item, "path", None) or item.fspath)).resolve()
        if HERE in path.parents:
            item.add_marker(pytest.mark.dataplane)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def calico_node(tmp_path_factory):
    reason = unavailable()
    if reason:
        if any(s in reason for s in NOT_BUILT) and os.environ.get("NETAUDIT_SKIP_INTEGRATION") != "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(f"no local Calico node: {reason}")
    node = CalicoNode(tmp_path_factory.mktemp("calico-node"))
    failure = None
    try:
        try:
            node.start()
        except NodeError as e:
            failure = f"the local Calico node did not start: {e}"
        if failure:
            pytest.fail(failure, pytrace=False)
        SUMMARY["felix"] = node.felix_version
        yield node
    finally:
        node.stop()


@pytest.fixture
def applier(calico_node):
    applier = Applier(calico_node)
    try:
        yield applier
    finally:
        applier.reset()


def pytest_terminal_summary(terminalreporter):
    if not SUMMARY["cases"]:
        return
    tr = terminalreporter
    tr.write_sep("-", "dataplane: netaudit vs Felix")
    tr.write_line(f"Felix {SUMMARY['felix']}: {SUMMARY['cases']} cases on the node, {SUMMARY['probes']} probes, "
                  f"{SUMMARY['seconds']:.1f}s in the differential cases")
    for line in SUMMARY["unstable"]:
        tr.write_line(f"unstable (did not repeat): {line}")
    offline = SUMMARY.get("offline", {})
    differing = {name: lines for name, lines in offline.items() if lines}
    if offline:
        tr.write_line(f"netaudit on the cases as written (offline) vs Felix: {len(offline)} cases compared, "
                      f"{len(differing)} differ")
        for name, lines in sorted(differing.items()):
            tr.write_line(f"  {name}: {len(lines)} probes, e.g. {lines[0]}")
    if os.environ.get(REPORT_ENV):
        Path(os.environ[REPORT_ENV]).write_text(json.dumps(SUMMARY, indent=1) + "\n")


class Timer:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        SUMMARY["seconds"] += time.monotonic() - self.start
