"""`diff`: what a change opens, closes or makes unknown."""

from __future__ import annotations

import json

from tabulate import tabulate

from ..engine.diff import MatrixDiff


def render_text(diff: MatrixDiff, names: dict[str, str] | None = None) -> str:
    names = names or {}
    name = lambda i: names.get(i, i)  # noqa: E731
    p = diff.protocols
    lines = []
    if not diff.changes and not diff.added_endpoints and not diff.removed_endpoints:
        return "no change in connectivity\n"
    opened = diff.newly_allowed
    closed = diff.newly_denied
    unknown = [c for c in diff.changes if c.unknown_now]
    if opened:
        lines.append(f"NEWLY ALLOWED ({len(opened)}):")
        lines.append(tabulate([[name(c.src), name(c.dst), c.opened.short(p), c.before.short(p) if c.before else "-"]
                               for c in opened], headers=["FROM", "TO", "OPENED", "BEFORE"], tablefmt="plain",
                              disable_numparse=True))
        lines.append("")
    if closed:
        lines.append(f"NEWLY DENIED ({len(closed)}):")
        lines.append(tabulate([[name(c.src), name(c.dst), c.closed.short(p), c.after.short(p) if c.after else "-"]
                               for c in closed], headers=["FROM", "TO", "CLOSED", "NOW"], tablefmt="plain",
                              disable_numparse=True))
        lines.append("")
    if unknown:
        lines.append(f"NEWLY UNKNOWN ({len(unknown)}):")
        lines.append(tabulate([[name(c.src), name(c.dst), c.unknown_now.short(p)] for c in unknown],
                              headers=["FROM", "TO", "UNKNOWN"], tablefmt="plain", disable_numparse=True))
        lines.append("")
    if diff.added_endpoints:
        lines.append("new endpoints: " + ", ".join(diff.added_endpoints))
    if diff.removed_endpoints:
        lines.append("removed endpoints: " + ", ".join(diff.removed_endpoints))
    return "\n".join(lines).rstrip("\n") + "\n"


def render_json(diff: MatrixDiff) -> str:
    p = diff.protocols
    doc = {
        "apiVersion": "netaudit/v1", "kind": "ConnectivityDiff", "level": diff.level,
        "newlyAllowed": [{"from": c.src, "to": c.dst, "opened": c.opened.to_contract(p)} for c in diff.newly_allowed],
        "newlyDenied": [{"from": c.src, "to": c.dst, "closed": c.closed.to_contract(p)} for c in diff.newly_denied],
        "newlyUnknown": [{"from": c.src, "to": c.dst, "unknown": c.unknown_now.to_contract(p)}
                         for c in diff.changes if c.unknown_now],
        "addedEndpoints": diff.added_endpoints,
        "removedEndpoints": diff.removed_endpoints,
    }
    return json.dumps(doc, indent=2) + "\n"
