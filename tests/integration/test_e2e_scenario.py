"""The e2e scenario's manifests pass a server-side dry run on the real API server (the Calico CRD included)."""

from __future__ import annotations

from pathlib import Path

import yaml
from test_live_source import collection

SCENARIO = Path(__file__).resolve().parents[1] / "e2e" / "scenario"


def test_scenario_manifests_server_side_dry_run(apiserver):
    docs = [d for f in sorted(SCENARIO.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    for doc in docs:  # the namespaces for real (a dry run creates nothing), the rest as a dry run
        if doc["kind"] == "Namespace":
            apiserver.request("POST", "/api/v1/namespaces", doc)
    for doc in docs:
        if doc["kind"] == "Namespace":
            continue
        status, body = apiserver.request("POST", collection(doc) + "?dryRun=All", doc)
        assert status in (200, 201), f"{doc['kind']} {doc['metadata']['name']}: {status} {body}"
