"""`matrix -o json`: the ConnectivityMatrix contract of DESIGN.md (schema netaudit/v1), and with `--grouped` the
ConnectivityGroups form.

The pair document is written as it is computed: one endpoint or connection per line, in chunks, so memory does not
depend on the number of pairs (a cluster without policies has as many connections as pod pairs). The ports of a
connection are formatted once per distinct (allowed, unknown) value and reused, which is most of the speed.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, Iterator

from ..engine.groups import GroupedView
from ..engine.matrix import MatrixEndpoint, MatrixView, iter_connections, iter_rows, level_map
from ..sets.ports import PortSet

API_VERSION = "netaudit/v1"
CHUNK = 1 << 20  # characters per write


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


class PortsText:
    """The `"allowed": [...], "unknown": [...]` text of a connection, formatted once per distinct value."""

    def __init__(self, protocols: tuple[str, ...]):
        self.protocols = protocols
        self.cache: dict[tuple, str | None] = {}
        self.by_identity: dict[tuple, tuple] = {}

    def __call__(self, allowed: PortSet, unknown: PortSet, reasons: frozenset[str]) -> str | None:
        """None when nothing of the listed protocols is allowed or unknown (e.g. only ICMP, not listed)."""
        # Pairs of one block share its very objects: look them up by identity first (the entry keeps them alive).
        fast = self.by_identity.get((id(allowed), id(unknown), id(reasons)))
        if fast is not None:
            return fast[0]
        key = (allowed, unknown, reasons)
        text = self.cache.get(key, "")
        if text != "":
            return text
        unknown_list = []
        if unknown:
            reason = "; ".join(sorted(reasons)) or "depends on data netaudit could not read"
            unknown_list = [dict(entry, reason=reason) for entry in unknown.to_contract(self.protocols)]
        allowed_list = allowed.to_contract(self.protocols)
        text = None
        if allowed_list or unknown_list:
            text = f'"allowed": {_dumps(allowed_list)}, "unknown": {_dumps(unknown_list)}'
        if len(self.cache) < 10_000:
            self.cache[key] = text
            self.by_identity[(id(allowed), id(unknown), id(reasons))] = (text, allowed, unknown, reasons)
        return text


def _dumps(value) -> str:
    return json.dumps(value, separators=(", ", ": "))


def write_document(write: Callable[[str], object], head: dict, sections: list[tuple[str, Iterable]]) -> None:
    """A JSON object whose list sections are streamed one item (already JSON) per line. An item may also be a
    list of items (one source row of pairs); output is written in chunks of about CHUNK characters."""
    out = ["{\n"]
    pending = 0
    for key, value in head.items():
        out.append(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    for number, (key, items) in enumerate(sections):
        out.append(f"  {json.dumps(key)}: [")
        first = True
        for item in items:
            if isinstance(item, list):
                if not item:
                    continue
                text = ("\n    " if first else ",\n    ") + ",\n    ".join(item)
            else:
                text = ("\n    " if first else ",\n    ") + item
            first = False
            out.append(text)
            pending += len(text)
            if pending >= CHUNK:
                write("".join(out))
                out.clear()
                pending = 0
        out.append("]" if first else "\n  ]")
        out.append(",\n" if number < len(sections) - 1 else "\n")
    out.append("}\n")
    write("".join(out))


def _connection_lines(connections, ports: PortsText) -> Iterator[str]:
    for conn in connections:
        text = ports(conn.allowed, conn.unknown, conn.reasons)
        if text is not None:
            yield f'{{"from": {json.dumps(conn.src)}, "to": {json.dumps(conn.dst)}, {text}}}'


def _row_lines(rows, ports: PortsText, quoted: dict[str, str]) -> Iterator[list[str]]:
    """The lines of each source row: a row that one block covers is written with one comprehension over that
    block's (already quoted, sorted) destinations; ids are quoted once each, port text once per distinct value."""
    quoted_targets: dict[int, list[tuple[str, str]]] = {}
    for src, runs, pairs in rows:
        q_src = quoted[src]
        if runs is not None:
            lines: list[str] = []
            for run in runs:  # each run sorted by destination; runs reach disjoint destinations
                text = ports(run.allowed, run.unknown, run.reasons)
                if text is None:
                    continue
                listed = quoted_targets.get(id(run.targets))
                if listed is None:
                    listed = quoted_targets[id(run.targets)] = [(d, quoted[d]) for d, _ in run.targets]
                head = f'{{"from": {q_src}, "to": '
                tail = f", {text}}}"
                skip = run.skip
                lines.extend([head + q + tail for d, q in listed if d != skip])
            yield lines
            continue
        lines = []
        for _, dst, allowed, unknown, reasons in pairs:
            text = ports(allowed, unknown, reasons)
            if text is not None:
                lines.append(f'{{"from": {q_src}, "to": {quoted[dst]}, {text}}}')
        yield lines


def write_pairs(analysis, level: str, namespaces, write: Callable[[str], object]) -> None:
    """The pair document, streamed: connections are computed and written one source row at a time."""
    lm = level_map(analysis, level)
    wanted = set(namespaces)
    rows = iter_rows(analysis, level, namespaces)
    quoted = {ep_id: json.dumps(ep_id) for ep_id in lm.endpoints}
    if wanted:
        # With -n the endpoint list also names the other end of every connection shown: collect those ids on a
        # first pass (ids only, one per endpoint), then stream the connections.
        referenced = set()
        for conn in iter_connections(analysis, level, namespaces):
            referenced.add(conn.src)
            referenced.add(conn.dst)
        endpoints = [e for e in lm.sorted_endpoints() if e.external or e.namespace in wanted or e.id in referenced]
    else:
        endpoints = lm.sorted_endpoints()
    head = {"apiVersion": API_VERSION, "kind": "ConnectivityMatrix", "level": level}
    write_document(write, head, [
        ("endpoints", (_dumps(endpoint_json(e)) for e in endpoints)),
        ("connections", _row_lines(rows, PortsText(analysis.protocols), quoted)),
        ("warnings", (_dumps(a.to_json()) for a in analysis.alerts)),
    ])


def matrix_document(view: MatrixView) -> dict:
    """The pair document of a materialized view, as a dict (for small views and tests)."""
    ports = PortsText(view.protocols)
    return {
        "apiVersion": API_VERSION,
        "kind": "ConnectivityMatrix",
        "level": view.level,
        "endpoints": [endpoint_json(e) for e in view.endpoints],
        "connections": [json.loads(line) for line in _connection_lines(view.connections, ports)],
        "warnings": [a.to_json() for a in view.alerts],
    }


def render(view: MatrixView) -> str:
    parts: list[str] = []
    ports = PortsText(view.protocols)
    write_document(parts.append, {"apiVersion": API_VERSION, "kind": "ConnectivityMatrix", "level": view.level}, [
        ("endpoints", (_dumps(endpoint_json(e)) for e in view.endpoints)),
        ("connections", _connection_lines(view.connections, ports)),
        ("warnings", (_dumps(a.to_json()) for a in view.alerts)),
    ])
    return "".join(parts)


def write_grouped(view: GroupedView, write: Callable[[str], object]) -> None:
    """The ConnectivityGroups document: groups with members and a description, connections between groups, and
    (workload and namespace level) `self` entries: each member of the group reaches itself through two of its
    pods with those sets."""
    ports = PortsText(view.protocols)

    def self_lines():
        for entry in view.self_connections:
            text = ports(entry.allowed, entry.unknown, entry.reasons)
            if text is not None:
                yield f'{{"group": {json.dumps(entry.group)}, {text}}}'

    head = {"apiVersion": API_VERSION, "kind": "ConnectivityGroups", "level": view.level}
    write_document(write, head, [
        ("endpoints", (_dumps(endpoint_json(e)) for e in view.endpoints)),
        ("groups", (_dumps({"id": g.id, "description": g.description, "members": list(g.members)})
                    for g in view.groups)),
        ("connections", _connection_lines(view.connections, ports)),
        ("self", self_lines()),
        ("warnings", (_dumps(a.to_json()) for a in view.alerts)),
    ])


def render_grouped(view: GroupedView) -> str:
    parts: list[str] = []
    write_grouped(view, parts.append)
    return "".join(parts)
