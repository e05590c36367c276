"""`matrix --level service`: for each client and Service port, are all, some or none of the backends reachable."""

from __future__ import annotations

import json

from tabulate import tabulate

from ..engine.services import Reachability

STATUS_TEXT = {"all": "all backends", "some": "SOME backends", "none": "NONE", "no-backends": "no backends",
               "unknown": "unknown"}


def _port(r: Reachability) -> str:
    name = f"{r.port.name}, " if r.port.name else ""
    return f"{r.service}:{r.port.port}/{r.port.protocol}" + (f" ({name.rstrip(', ')})" if name else "")


def render_table(results: list[Reachability], show_all: bool = False) -> str:
    rows = []
    for r in results:
        if not show_all and r.status in ("none",) and not r.unknown:
            continue
        detail = []
        if r.status in ("some", "unknown"):
            if r.reachable:
                detail.append("reaches " + ", ".join(r.reachable))
            if r.unreachable:
                detail.append("not " + ", ".join(r.unreachable))
            if r.unknown:
                detail.append("unknown " + ", ".join(r.unknown))
        if r.missing_port:
            detail.append("no such port on " + ", ".join(r.missing_port))
        if r.not_ready:
            detail.append("not ready: " + ", ".join(r.not_ready))
        rows.append([r.client, _port(r), STATUS_TEXT[r.status], "; ".join(detail)])
    if not rows:
        return "no client reaches any Service\n"
    note = "" if show_all else "(clients that reach no backend of a Service are left out; --view list shows all)\n"
    return tabulate(rows, headers=["CLIENT", "SERVICE PORT", "REACHES", "DETAIL"], tablefmt="plain",
                    disable_numparse=True) + "\n" + note


def render_json(results: list[Reachability], level: str, warnings) -> str:
    doc = {
        "apiVersion": "netaudit/v1",
        "kind": "ServiceReachability",
        "level": level,
        "reachability": [{
            "from": r.client, "service": r.service, "port": r.port.port, "protocol": r.port.protocol,
            "portName": r.port.name, "status": r.status, "reachable": r.reachable, "unreachable": r.unreachable,
            "unknown": r.unknown, "notReady": r.not_ready, "missingTargetPort": r.missing_port,
        } for r in results],
        "warnings": [a.to_json() for a in warnings],
    }
    return json.dumps(doc, indent=2) + "\n"
