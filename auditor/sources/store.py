"""The scheduled audit's memory: the previous snapshot, kept in a ConfigMap (`--store configmap:NAMESPACE/NAME`).

This is the one place besides `verify` where netaudit writes to the cluster, and only when asked: a single
ConfigMap in the namespace the user names (the CronJob's own). The snapshot is gzip-compressed in `binaryData`.
A ConfigMap holds at most 1 MiB (etcd's object limit, enforced by the API server); a snapshot that does not fit is
refused with a clear error instead of being truncated.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

from ..model import ClusterState
from .live import Forbidden, LiveSourceError, NotFound, Reader, raw_request
from .snapshot import snapshot_document, state_from_document

KEY = "snapshot.json.gz"
CONFIGMAP_LIMIT = 1024 * 1024  # bytes, for the whole object
OVERHEAD = 16 * 1024  # metadata and JSON framing around the data, kept generous


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class Store:
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> "Store":
        kind, _, rest = text.partition(":")
        parts = rest.split("/")
        if kind != "configmap" or len(parts) != 2 or not all(parts):
            raise StoreError(f"--store {text!r}: expected configmap:NAMESPACE/NAME, e.g. configmap:netaudit/baseline")
        return cls(parts[0], parts[1])

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/configmaps/{self.name}"


def encode(state: ClusterState) -> str:
    raw = json.dumps(snapshot_document(state), separators=(",", ":"), sort_keys=True).encode()
    packed = base64.b64encode(gzip.compress(raw, compresslevel=9)).decode()
    if len(packed) + OVERHEAD > CONFIGMAP_LIMIT:
        raise StoreError(f"the compressed snapshot is {len(packed) // 1024} KiB, more than a ConfigMap can hold "
                         f"(1 MiB): store it elsewhere (netaudit snapshot -o FILE) or audit fewer namespaces")
    return packed


def decode(packed: str, where: str) -> ClusterState:
    try:
        doc = json.loads(gzip.decompress(base64.b64decode(packed)))
    except (ValueError, OSError) as err:
        raise StoreError(f"{where}: the stored snapshot is damaged ({err}); delete the ConfigMap to start over") \
            from None
    return state_from_document(doc, where)


def load_previous(client, store: Store) -> ClusterState | None:
    """The stored snapshot, or None on the first run."""
    reader = Reader(client)
    try:
        cm = reader.get(store.path)
    except NotFound:
        return None
    except Forbidden as err:
        raise StoreError(f"cannot read ConfigMap {store.namespace}/{store.name} (403): {err}; grant get/update/create "
                         "on it (deploy/cronjob.yaml has the Role)") from None
    packed = (cm.get("binaryData") or {}).get(KEY)
    if not packed:
        raise StoreError(f"ConfigMap {store.namespace}/{store.name} exists but holds no netaudit snapshot "
                         f"({KEY}); refusing to overwrite it: choose another name")
    return decode(packed, f"ConfigMap {store.namespace}/{store.name}")


def save(client, store: Store, state: ClusterState) -> int:
    """Create or replace the ConfigMap; returns the stored size in bytes."""
    packed = encode(state)
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": store.name, "namespace": store.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "netaudit"}},
            "binaryData": {KEY: packed}}
    status, text = raw_request(client, "PUT", store.path, body)
    if status == 404:
        status, text = raw_request(client, "POST", f"/api/v1/namespaces/{store.namespace}/configmaps", body)
    if status == 403:
        raise StoreError(f"cannot write ConfigMap {store.namespace}/{store.name} (403): grant get/update/create on "
                         "it (deploy/cronjob.yaml has the Role)")
    if status == 413 or (status == 422 and "too long" in text):
        raise StoreError(f"the API server refused the snapshot as too large ({status}): store it elsewhere")
    if not 200 <= status < 300:
        raise LiveSourceError(f"writing ConfigMap {store.namespace}/{store.name} failed: {status} {text[:200]}")
    return len(packed)
