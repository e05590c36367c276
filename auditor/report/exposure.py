"""`exposure`: the Exposure contract of DESIGN.md as JSON, and a table for people.

The JSON is the contract; extra fields beside it say what the contract's fields alone cannot: `unless` (peers cut
from an entry's peer), `namedPorts` (egress ports the peer names), `cutBy` (rules whose deny or pass narrowed it).
"""

from __future__ import annotations

import json

from tabulate import tabulate

from ..engine.exposure import ExposureEntry, ExposureView
from .json_matrix import API_VERSION, endpoint_json


def entry_json(entry: ExposureEntry, protocols) -> dict | None:
    allowed = entry.allowed.to_contract(protocols)
    unknown = []
    if entry.unknown:
        reason = "; ".join(entry.reasons) or "depends on data netaudit could not read"
        unknown = [dict(item, reason=reason) for item in entry.unknown.to_contract(protocols)]
    if not allowed and not unknown and not entry.named and not entry.unknown_named:
        return None  # only a protocol not listed here (e.g. ICMP where no policy names it)
    out = {"endpoint": entry.endpoint, "direction": entry.direction, "peer": entry.peer, "allowed": allowed,
           "unknown": unknown, "because": list(entry.because)}
    if entry.unless:
        out["unless"] = list(entry.unless)
    if entry.named:
        out["namedPorts"] = [{"protocol": p, "name": n} for p, n in sorted(entry.named, key=str)]
    if entry.unknown_named:
        out["unknownNamedPorts"] = [{"protocol": p, "name": n, "reason": "; ".join(entry.reasons)}
                                    for p, n in sorted(entry.unknown_named, key=str)]
    if entry.cut_by:
        out["cutBy"] = list(entry.cut_by)
    if entry.address_dependent and unknown:
        out["addressDependent"] = True
    return out


def exposure_document(view: ExposureView) -> dict:
    entries = []
    for entry in view.entries:
        item = entry_json(entry, view.protocols)
        if item is not None:
            entries.append(item)
    return {
        "apiVersion": API_VERSION,
        "kind": "Exposure",
        "level": view.level,
        "endpoints": [endpoint_json(e) for e in view.endpoints],
        "exposure": entries,
        "warnings": [a.to_json() for a in view.alerts],
    }


def render_json(view: ExposureView) -> str:
    return json.dumps(exposure_document(view), indent=2) + "\n"


def ports_cell(entry: ExposureEntry, protocols) -> str:
    parts = []
    if entry.allowed:
        parts.append(entry.allowed.short(protocols))
    if entry.named:
        parts.append(" ".join(f"{n}/{p}" if p else n for p, n in sorted(entry.named, key=str)) + " (named)")
    if entry.unknown or entry.unknown_named:
        text = entry.unknown.short(protocols) if entry.unknown else ""
        if entry.unknown_named:
            text += " " + " ".join(n for _, n in sorted(entry.unknown_named, key=str))
        parts.append(f"?{text.strip()}")
    return " ".join(p for p in parts if p and p != "-") or "-"


def render_table(view: ExposureView) -> str:
    rows = []
    last = None
    for entry in view.entries:
        cell = ports_cell(entry, view.protocols)
        if cell == "-":
            continue
        head = (entry.endpoint, entry.direction)
        who = entry.text
        if entry.unless and entry.peer.get("kind") != "External":
            who += " (unless " + "; ".join(_short_peer(u) for u in entry.unless) + ")"
        rows.append([entry.endpoint if head != last else "", entry.direction if head != last else "",
                     "from " + who if entry.direction == "ingress" else "to " + who, cell,
                     "; ".join(entry.because)])
        last = head
    if not rows:
        return "no endpoints to show\n"
    out = tabulate(rows, headers=["ENDPOINT", "DIRECTION", "PEERS", "PORTS", "BECAUSE"], tablefmt="plain",
                   disable_numparse=True) + "\n"
    if any(e.unknown or e.unknown_named for e in view.entries):
        out += "  ?ports: unknown (the JSON output says why)\n"
    return out


def _short_peer(peer: dict) -> str:
    if peer.get("kind") == "External":
        return peer["cidr"] + (" except " + ", ".join(peer["except"]) if peer.get("except") else "")
    return json.dumps(peer, sort_keys=True)
