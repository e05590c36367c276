"""`diff`: what a change opens, closes or makes unknown.

Text: one line per changed pair when there are few; one line per change block (groups of sources and destinations
with one exact description each) when a list would be too long to read. JSON: the pairs (ConnectivityDiff, written
as they are expanded), or with `--grouped` the change blocks and their groups.
"""

from __future__ import annotations

import json
from typing import Callable

from tabulate import tabulate

from ..engine.diff import MatrixDiff
from .json_matrix import API_VERSION, write_document

LIST_LIMIT = 400  # more changed pairs than this: show change blocks


def render_text(diff: MatrixDiff, names: dict[str, str] | None = None, grouped: bool | None = None) -> str:
    names = names or {}
    if not diff.changed and not diff.added_endpoints and not diff.removed_endpoints:
        return "no change in connectivity\n"
    if grouped is None:
        grouped = diff.pair_bound() > LIST_LIMIT
    lines = _grouped_lines(diff) if grouped else _pair_lines(diff, names)
    if diff.added_endpoints:
        lines.append("new endpoints: " + ", ".join(diff.added_endpoints))
    if diff.removed_endpoints:
        lines.append("removed endpoints: " + ", ".join(diff.removed_endpoints))
    return "\n".join(lines).rstrip("\n") + "\n"


def _pair_lines(diff: MatrixDiff, names: dict[str, str]) -> list[str]:
    name = lambda i: names.get(i, i)  # noqa: E731
    p = diff.protocols
    changes = list(diff.pair_changes())
    lines = []
    sections = [
        ("NEWLY ALLOWED", [c for c in changes if c.opened], ["FROM", "TO", "OPENED", "BEFORE"],
         lambda c: [c.opened.short(p), c.before.short(p) if c.before else "-"]),
        ("NEWLY DENIED", [c for c in changes if c.closed], ["FROM", "TO", "CLOSED", "NOW"],
         lambda c: [c.closed.short(p), c.after.short(p) if c.after else "-"]),
        ("NEWLY UNKNOWN", [c for c in changes if c.unknown_now], ["FROM", "TO", "UNKNOWN"],
         lambda c: [c.unknown_now.short(p)]),
    ]
    for title, rows, headers, cells in sections:
        if rows:
            lines.append(f"{title} ({len(rows)}):")
            lines.append(tabulate([[name(c.src), name(c.dst)] + cells(c) for c in rows], headers=headers,
                                  tablefmt="plain", disable_numparse=True))
            lines.append("")
    return lines


def _grouped_lines(diff: MatrixDiff) -> list[str]:
    p = diff.protocols
    lines = []
    entries = [(b.src.description, b.dst.description, b) for b in diff.blocks]
    entries += [(s.group.description, "itself (another of its pods)", s) for s in diff.self_changes]
    sections = [
        ("NEWLY ALLOWED", "opened", ["FROM", "TO", "OPENED", "BEFORE"],
         lambda c: [c.opened.short(p), c.before.short(p) if c.before else "-"]),
        ("NEWLY DENIED", "closed", ["FROM", "TO", "CLOSED", "NOW"],
         lambda c: [c.closed.short(p), c.after.short(p) if c.after else "-"]),
        ("NEWLY UNKNOWN", "unknown_now", ["FROM", "TO", "UNKNOWN"], lambda c: [c.unknown_now.short(p)]),
    ]
    for title, attr, headers, cells in sections:
        rows = [[src, dst] + cells(c) for src, dst, c in entries if getattr(c, attr)]
        if rows:
            lines.append(f"{title} ({len(rows)} groups of flows):")
            lines.append(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
            lines.append("")
    lines.append(f"{len(entries)} change blocks standing for up to {diff.pair_bound():,} {diff.level} pairs "
                 "(-o json lists the pairs; -o json --grouped the groups' members)")
    return lines


def write_json(diff: MatrixDiff, write: Callable[[str], object]) -> None:
    """The pair form: newlyAllowed / newlyDenied / newlyUnknown, each a list of {from, to, ...}."""
    p = diff.protocols

    def section(attr: str, key: str):
        for c in diff.pair_changes():
            value = getattr(c, attr)
            if value:
                yield json.dumps({"from": c.src, "to": c.dst, key: value.to_contract(p)}, separators=(", ", ": "))

    head = {"apiVersion": API_VERSION, "kind": "ConnectivityDiff", "level": diff.level}
    write_document(write, head, [
        ("newlyAllowed", section("opened", "opened")),
        ("newlyDenied", section("closed", "closed")),
        ("newlyUnknown", section("unknown_now", "unknown")),
        ("addedEndpoints", (json.dumps(e) for e in diff.added_endpoints)),
        ("removedEndpoints", (json.dumps(e) for e in diff.removed_endpoints)),
    ])


def write_grouped_json(diff: MatrixDiff, write: Callable[[str], object]) -> None:
    """The grouped form: groups (members, description) and change blocks between them; `self` entries change each
    member of their group toward itself."""
    p = diff.protocols

    def entry(change, ends: dict) -> str:
        doc = dict(ends)
        for key, value in (("opened", change.opened), ("closed", change.closed), ("unknown", change.unknown_now),
                           ("before", change.before), ("after", change.after)):
            doc[key] = value.to_contract(p)
        return json.dumps(doc, separators=(", ", ": "))

    head = {"apiVersion": API_VERSION, "kind": "ConnectivityDiffGroups", "level": diff.level}
    write_document(write, head, [
        ("groups", (json.dumps({"id": g.id, "description": g.description, "members": list(g.members)},
                               separators=(", ", ": ")) for g in diff.groups)),
        ("changes", (entry(b, {"from": b.src.id, "to": b.dst.id}) for b in diff.blocks)),
        ("self", (entry(s, {"group": s.group.id}) for s in diff.self_changes)),
        ("addedEndpoints", (json.dumps(e) for e in diff.added_endpoints)),
        ("removedEndpoints", (json.dumps(e) for e in diff.removed_endpoints)),
    ])


def render_json(diff: MatrixDiff) -> str:
    parts: list[str] = []
    write_json(diff, parts.append)
    return "".join(parts)
