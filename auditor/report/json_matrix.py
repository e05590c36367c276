"""`matrix -o json`: the ConnectivityMatrix contract of DESIGN.md (schema netaudit/v1)."""

from __future__ import annotations

import json

from ..engine.matrix import MatrixEndpoint, MatrixView

API_VERSION = "netaudit/v1"


def endpoint_json(ep: MatrixEndpoint) -> dict:
    if ep.kind == "External":
        return {"id": ep.id, "kind": "External", "cidr": ep.cidr, "except": list(ep.excepts)}
    if ep.kind == "Pod":
        return {"id": ep.id, "kind": "Pod", "namespace": ep.namespace, "name": ep.name, "workload": ep.workload,
                "ips": list(ep.ips), "labels": dict(ep.labels)}
    if ep.kind == "Namespace":
        return {"id": ep.id, "kind": "Namespace", "name": ep.name, "labels": dict(ep.labels), "pods": ep.pods}
    return {"id": ep.id, "kind": "Workload", "namespace": ep.namespace, "name": ep.name, "workload": ep.workload,
            "pods": ep.pods}


def matrix_document(view: MatrixView) -> dict:
    connections = []
    for conn in view.connections:
        unknown = []
        if conn.unknown:
            reason = "; ".join(sorted(conn.reasons)) or "depends on data netaudit could not read"
            unknown = [dict(entry, reason=reason) for entry in conn.unknown.to_contract(view.protocols)]
        allowed = conn.allowed.to_contract(view.protocols)
        if not allowed and not unknown:
            continue  # only a protocol not listed (e.g. ICMP where no policy names it) differs
        connections.append({"from": conn.src, "to": conn.dst, "allowed": allowed, "unknown": unknown})
    return {
        "apiVersion": API_VERSION,
        "kind": "ConnectivityMatrix",
        "level": view.level,
        "endpoints": [endpoint_json(e) for e in view.endpoints],
        "connections": connections,
        "warnings": [a.to_json() for a in view.alerts],
    }


def render(view: MatrixView) -> str:
    return json.dumps(matrix_document(view), indent=2) + "\n"
