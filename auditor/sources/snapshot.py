"""Snapshots: the normalized ClusterState as versioned JSON, for offline review, bug reports and drift.

A snapshot is read back into exactly the same ClusterState, so every command works on it as on the live cluster.
`version` is bumped on any incompatible change; a newer snapshot than this netaudit knows is refused rather than
misread.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from typing import Any

from .. import __version__
from ..model import (
    Alert,
    BackendRef,
    ClusterState,
    ContainerPort,
    Endpoint,
    EndpointSlice,
    Gateway,
    GatewayClass,
    GatewayListener,
    Ingress,
    IngressClass,
    Namespace,
    ParentRef,
    Pod,
    PolicyObject,
    ReferenceGrant,
    Route,
    Service,
    ServiceAccount,
    ServicePort,
    Unreadable,
)

API_VERSION = "netaudit/v1"
KIND = "ClusterSnapshot"
FORMAT_VERSION = 1


class SnapshotError(Exception):
    pass


def snapshot_document(state: ClusterState) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "version": FORMAT_VERSION,
        "producer": f"netaudit {__version__}",
        "origin": state.origin,
        "state": _plain(state),
    }


def write_snapshot(state: ClusterState, path: str) -> None:
    text = json.dumps(snapshot_document(state), indent=1, sort_keys=True) + "\n"
    if path.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    elif path == "-":
        import sys
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def read_snapshot(path: str) -> ClusterState:
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:
        raise SnapshotError(f"{path}: not a netaudit snapshot (cannot parse JSON: {err})") from None
    return state_from_document(doc, path)


def state_from_document(doc: Any, path: str = "snapshot") -> ClusterState:
    api_version = str(doc.get("apiVersion", "")) if isinstance(doc, dict) else ""
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not api_version.startswith("netaudit/"):
        raise SnapshotError(f"{path}: not a netaudit snapshot (expected kind {KIND}, apiVersion {API_VERSION})")
    version = doc.get("version")
    if not isinstance(version, int):
        raise SnapshotError(f"{path}: snapshot has no format version")
    if version > FORMAT_VERSION or doc.get("apiVersion") != API_VERSION:
        raise SnapshotError(f"{path}: snapshot format {doc.get('apiVersion')} version {version} was written by a "
                            f"newer netaudit ({doc.get('producer', 'unknown')}); this netaudit {__version__} reads "
                            f"up to version {FORMAT_VERSION}: upgrade netaudit to read it")
    data = doc.get("state")
    try:
        state = ClusterState(
            namespaces={n["name"]: Namespace(n["name"], n.get("labels") or {}, n.get("labels_known", True))
                        for n in data.get("namespaces", [])},
            pods=[_pod(p) for p in data.get("pods", [])],
            services=[_service(s) for s in data.get("services", [])],
            endpoint_slices=[_slice(s) for s in data.get("endpoint_slices", [])],
            service_accounts=[ServiceAccount(**s) for s in data.get("service_accounts", [])],
            policies=[PolicyObject(**p) for p in data.get("policies", [])],
            # Added after format version 1 was first written: older snapshots simply have none.
            ingresses=[_ingress(i) for i in data.get("ingresses", [])],
            ingress_classes=[IngressClass(**c) for c in data.get("ingress_classes", [])],
            gateways=[_gateway(g) for g in data.get("gateways", [])],
            gateway_classes=[GatewayClass(**c) for c in data.get("gateway_classes", [])],
            routes=[_route(r) for r in data.get("routes", [])],
            reference_grants=[_reference_grant(g) for g in data.get("reference_grants", [])],
            corefile=data.get("corefile"), corefile_source=data.get("corefile_source"),
            calico_version=data.get("calico_version"),
            unreadable=[Unreadable(**u) for u in data.get("unreadable", [])],
            alerts=[Alert(**a) for a in data.get("alerts", [])],
            origin=f"snapshot: {path} ({doc.get('origin', '')})",
        )
    except (AttributeError, KeyError, TypeError) as err:
        raise SnapshotError(f"{path}: snapshot content is damaged: {err}") from None
    return state


def _plain(state: ClusterState) -> dict:
    return {
        "namespaces": [dataclasses.asdict(n) for n in state.namespaces.values()],
        "pods": [_plain_pod(p) for p in state.pods],
        "services": [dataclasses.asdict(s) for s in state.services],
        "endpoint_slices": [dataclasses.asdict(s) for s in state.endpoint_slices],
        "service_accounts": [dataclasses.asdict(s) for s in state.service_accounts],
        "policies": [dataclasses.asdict(p) for p in state.policies],
        "ingresses": [dataclasses.asdict(i) for i in state.ingresses],
        "ingress_classes": [dataclasses.asdict(c) for c in state.ingress_classes],
        "gateways": [dataclasses.asdict(g) for g in state.gateways],
        "gateway_classes": [dataclasses.asdict(c) for c in state.gateway_classes],
        "routes": [dataclasses.asdict(r) for r in state.routes],
        "reference_grants": [dataclasses.asdict(g) for g in state.reference_grants],
        "corefile": state.corefile,
        "corefile_source": state.corefile_source,
        "calico_version": state.calico_version,
        "unreadable": [dataclasses.asdict(u) for u in state.unreadable],
        "alerts": [dataclasses.asdict(a) for a in state.alerts],
    }


_POD_UNCERTAINTY = ("uncertain_labels", "uncertain_ports", "uncertain_identity", "opaque", "unreadable")


def _plain_pod(pod: Pod) -> dict:
    """A pod as JSON; the fields saying what could not be read only when something could not (so a snapshot of
    fully readable input stays readable by netaudit versions that predate them)."""
    data = dataclasses.asdict(pod)
    for key in _POD_UNCERTAINTY:
        if not data[key]:
            del data[key]
    return data


def _pod(data: dict) -> Pod:
    data = dict(data)
    data["ips"] = tuple(data.get("ips") or ())
    data["container_ports"] = tuple(ContainerPort(**c) for c in data.get("container_ports") or ())
    data["uncertain_labels"] = tuple(data.get("uncertain_labels") or ())
    data["uncertain_ports"] = tuple(tuple(u) for u in data.get("uncertain_ports") or ())
    data["unreadable"] = tuple(data.get("unreadable") or ())
    return Pod(**data)


def _service(data: dict) -> Service:
    data = dict(data)
    data["ports"] = tuple(ServicePort(**p) for p in data.get("ports") or ())
    data["cluster_ips"] = tuple(data.get("cluster_ips") or ())
    data["load_balancer_source_ranges"] = tuple(data.get("load_balancer_source_ranges") or ())
    data["external_ips"] = tuple(data.get("external_ips") or ())
    return Service(**data)


def _backends(items) -> tuple[BackendRef, ...]:
    return tuple(BackendRef(**b) for b in items or ())


def _ingress(data: dict) -> Ingress:
    return Ingress(**{**data, "backends": _backends(data.get("backends"))})


def _gateway(data: dict) -> Gateway:
    listeners = tuple(GatewayListener(**{**item, "route_kinds": tuple(item.get("route_kinds") or ())})
                      for item in data.get("listeners") or ())
    return Gateway(**{**data, "listeners": listeners})


def _route(data: dict) -> Route:
    parents = tuple(ParentRef(**p) for p in data.get("parents") or ())
    return Route(**{**data, "parents": parents, "backends": _backends(data.get("backends"))})


def _reference_grant(data: dict) -> ReferenceGrant:
    return ReferenceGrant(**{**data, "grants_from": tuple(tuple(g) for g in data.get("grants_from") or ()),
                             "grants_to": tuple(tuple(g) for g in data.get("grants_to") or ())})


def _slice(data: dict) -> EndpointSlice:
    data = dict(data)
    data["endpoints"] = tuple(Endpoint(**{**e, "addresses": tuple(e.get("addresses") or ())})
                              for e in data.get("endpoints") or ())
    data["ports"] = tuple(ServicePort(**p) for p in data.get("ports") or ())
    return EndpointSlice(**data)
