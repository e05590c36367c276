"""deploy/*.yaml pass a server-side dry run on the real API server (schema, defaulting and validation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_live_source import collection

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.parametrize("name", ["rbac.yaml", "cronjob.yaml"])
def test_server_side_dry_run(apiserver, name):
    apiserver.request("POST", "/api/v1/namespaces", {"metadata": {"name": "netaudit"}})  # may already exist
    for doc in (d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d):
        if doc["kind"] == "Namespace":
            continue
        status, body = apiserver.request("POST", collection(doc) + "?dryRun=All", doc)
        assert status in (200, 201), f"{name}: {doc['kind']} {doc['metadata']['name']}: {status} {body}"
