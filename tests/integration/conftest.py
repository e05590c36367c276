"""Fixtures for the integration tests: a real kube-apiserver + etcd (tests/integration/apiserver.py).

    apiserver   session-scoped LocalApiServer, started once, with every CRD in tests/integration/crds applied
    kube        session-scoped kubernetes.client.ApiClient for the admin (system:masters)

Every test under tests/integration gets the `integration` marker. Without the binaries (`make apiserver`)
the `apiserver` fixture fails, or skips when NETAUDIT_SKIP_INTEGRATION=1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).resolve().parent
CRD_DIR = INTEGRATION_DIR / "crds"

# This folder is not a package: make `import apiserver` work under every pytest import mode.
if str(INTEGRATION_DIR) not in sys.path:
    sys.path.insert(0, str(INTEGRATION_DIR))

from apiserver import ApiServerError, BinariesMissing, LocalApiServer, find_binaries  # noqa: E402

NOT_BUILT = "kube-apiserver/etcd not built: run `make apiserver`"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselection runs
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(getattr(item, "path", None) or item.fspath)).resolve()
        if path == INTEGRATION_DIR or INTEGRATION_DIR in path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def apiserver():
    missing = None
    try:
        find_binaries()
    except BinariesMissing as e:
        missing = str(e)  # "kube-apiserver/etcd not built: run `make apiserver` (missing: ...)"
    if missing:
        if os.environ.get("NETAUDIT_SKIP_INTEGRATION") == "1":
            pytest.skip(f"{NOT_BUILT} (NETAUDIT_SKIP_INTEGRATION=1)")
        pytest.fail(missing, pytrace=False)
    server = LocalApiServer()
    try:  # also on KeyboardInterrupt, and on a failure while starting or applying the CRDs
        failure = None
        try:
            server.start()
            server.apply_crds([CRD_DIR])
        except ApiServerError as e:  # its message carries the last lines of both logs; the traceback adds nothing
            failure = f"local kube-apiserver failed: {e}"
        if failure:
            pytest.fail(failure, pytrace=False)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube(apiserver):
    from kubernetes import config

    client = config.new_client_from_config(config_file=apiserver.kubeconfig, context=apiserver.context)
    try:
        yield client
    finally:
        client.close()
