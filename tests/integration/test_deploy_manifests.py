"""deploy/*.yaml pass a server-side dry run on the real API server (schema, defaulting and validation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_live_source import PLURALS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PLURALS = dict(PLURALS)
PLURALS[("batch/v1", "CronJob")] = ("/apis/batch/v1", "cronjobs", True)
PLURALS[("rbac.authorization.k8s.io/v1", "Role")] = ("/apis/rbac.authorization.k8s.io/v1", "roles", True)
PLURALS[("rbac.authorization.k8s.io/v1", "RoleBinding")] = ("/apis/rbac.authorization.k8s.io/v1", "rolebindings",
                                                             True)


@pytest.mark.parametrize("name", ["rbac.yaml", "cronjob.yaml"])
def test_server_side_dry_run(apiserver, name):
    apiserver.request("POST", "/api/v1/namespaces", {"metadata": {"name": "netaudit"}})  # may already exist
    for doc in (d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d):
        if doc["kind"] == "Namespace":
            continue
        prefix, plural, namespaced = PLURALS[(doc["apiVersion"], doc["kind"])]
        path = f"{prefix}/namespaces/{doc['metadata']['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"
        status, body = apiserver.request("POST", path + "?dryRun=All", doc)
        assert status in (200, 201), f"{name}: {doc['kind']} {doc['metadata']['name']}: {status} {body}"
