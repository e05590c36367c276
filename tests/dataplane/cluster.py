"""Conformance cases on the local Calico node: converted (tools/calico_node/manifests.py says how), applied and
removed through its API server, one case after another on the same node."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from tools.calico_node.manifests import RESOURCES, SYSTEM_NAMESPACES, NodeCase, Unsupported
from tools.calico_node.manifests import to_node as _to_node

__all__ = ["Applier", "NodeCase", "Rejected", "Unsupported", "load_case", "to_node"]


def load_case(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def case_documents(case: dict, path: Path) -> list[dict]:
    if "manifests" in case:
        from tools.calico_node.manifests import read_manifests
        return read_manifests([(path.parent / case["manifests"]).resolve()])
    return [d for d in case.get("objects") or [] if isinstance(d, dict)]


def to_node(case: dict, path: Path) -> NodeCase:
    return _to_node(case_documents(case, path), case.get("name") or path.stem)


class Rejected(Unsupported):
    """The API server refused an object of the case (validation): no cluster can hold the case as written."""


class Applier:
    """Creates a case's objects on the node and removes them again (the node is shared by all cases)."""

    def __init__(self, node):
        self.node = node
        self.created: list[tuple[str, dict]] = []  # (object path, object)
        self.saved_labels: dict[str, dict] = {}

    def apply(self, case: NodeCase) -> None:
        for obj in case.objects:
            api, kind = obj["apiVersion"], obj["kind"]
            prefix, plural, namespaced = RESOURCES[(api, kind)]
            meta = obj["metadata"]
            base = f"{prefix}/namespaces/{meta['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"
            if kind == "Namespace" and meta["name"] in SYSTEM_NAMESPACES:
                self._relabel(meta["name"], meta.get("labels") or {})
                continue
            status, body = self.node.request("POST", base, obj)
            if status in (400, 422):  # the object cannot exist in a real cluster
                message = body.get("message") if isinstance(body, dict) else body
                raise Rejected(f"the API server refuses {kind} {meta.get('namespace', '')}/{meta['name']}: {message}")
            if status not in (200, 201):
                raise AssertionError(f"{case.name}: creating {kind} {meta.get('namespace', '')}/{meta['name']}: "
                                     f"HTTP {status}: {body}")
            self.created.append((f"{base}/{meta['name']}", obj))

    def _relabel(self, name: str, labels: dict) -> None:
        status, current = self.node.request("GET", f"/api/v1/namespaces/{name}")
        assert status == 200, current
        self.saved_labels.setdefault(name, dict(current["metadata"].get("labels") or {}))
        new = dict(labels)
        new["kubernetes.io/metadata.name"] = name
        current["metadata"]["labels"] = new
        status, body = self.node.request("PUT", f"/api/v1/namespaces/{name}", current)
        assert status == 200, body

    def reset(self, timeout: float = 30.0) -> None:
        """Delete everything apply() made (pods at once, namespaces finalized, as no controller-manager runs)."""
        for path, obj in reversed(self.created):
            if obj["kind"] == "Namespace":
                continue
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
            status, resp = self.node.request("DELETE", path, body)
            if status not in (200, 202, 404):
                raise AssertionError(f"deleting {path}: HTTP {status}: {resp}")
        for path, obj in reversed(self.created):
            if obj["kind"] != "Namespace":
                continue
            name = obj["metadata"]["name"]
            self.node.request("DELETE", path)
            status, current = self.node.request("GET", path)
            if status == 200:
                current["spec"] = {"finalizers": []}
                self.node.request("PUT", f"{path}/finalize", current)
        for name, labels in self.saved_labels.items():
            status, current = self.node.request("GET", f"/api/v1/namespaces/{name}")
            if status == 200:
                current["metadata"]["labels"] = labels
                self.node.request("PUT", f"/api/v1/namespaces/{name}", current)
        self.created.clear()
        self.saved_labels.clear()
        deadline = time.monotonic() + timeout
        agent = self.node.agent
        while time.monotonic() < deadline:
            status, body = self.node.request("GET", "/api/v1/pods")
            if status == 200 and not body.get("items"):
                agent.wait_passes(2)
                with agent.lock:
                    if not agent.pods:
                        return
            time.sleep(0.05)
        raise AssertionError("the node did not tear the previous case's pods down in time")

    def wait_ready(self, case: NodeCase, timeout: float = 30.0) -> dict[str, str]:
        """Wait until every pod of the case runs with its IP and Felix reports its endpoint programmed.
        Returns {ns/name: ip}."""
        deadline = time.monotonic() + timeout
        agent = self.node.agent
        while True:
            status, body = self.node.request("GET", "/api/v1/pods")
            ips = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": (p.get("status") or {}).get("podIP")
                   for p in body.get("items") or []} if status == 200 else {}
            waiting = [p for p in case.pods if not ips.get(p) or not agent.endpoint_up(*p.split("/", 1))]
            if not waiting:
                return {p: ips[p] for p in case.pods}
            if time.monotonic() > deadline:
                raise AssertionError(f"{case.name}: pods not running with Felix's endpoint up after {timeout:.0f}s: "
                                     f"{waiting}; agent errors: {agent.errors[-5:]}")
            time.sleep(0.05)
