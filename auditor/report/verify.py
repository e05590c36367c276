"""`verify`: the probe plan (--dry-run) and the verification report, as a table or netaudit/v1 JSON."""

from __future__ import annotations

import json

from tabulate import tabulate

from ..probe.compare import FALSE_ALLOW, FALSE_DENY, INCONCLUSIVE, MATCH, UNKNOWN_PREDICTED, VerificationReport
from ..probe.plan import NOT_PROBED, Plan

API_VERSION = "netaudit/v1"
HINTS = {
    FALSE_ALLOW: "predicted denied but open: a policy hole, or a gap in netaudit's model",
    FALSE_DENY: "predicted allowed but dropped: a policy netaudit does not see (another CNI layer, a host "
                "firewall, a cloud security group) or a gap in its model",
}


def _port(protocol: str, port: int) -> str:
    return f"{port}/{protocol}"


def render_plan_table(plan: Plan, pods: list[dict] | None = None) -> str:
    lines = []
    if plan.probes:
        rows = [[p.source, p.destination, p.ip or "-", _port(p.protocol, p.port), p.predicted,
                 "not probed" if p.method == NOT_PROBED else p.method, "; ".join(p.why)] for p in plan.probes]
        lines.append(tabulate(rows, headers=["FROM (PROBE AS)", "TO", "IP", "PORT", "PREDICTED", "HOW", "WHY"],
                              tablefmt="plain", disable_numparse=True))
    else:
        lines.append("nothing to probe")
    lines.append("")
    count = len(pods) if pods is not None else len(plan.sources)
    lines.append(f"{len(plan.probes)} probes from {count} probe pod(s) in "
                 f"{len({s.namespace for s in plan.sources})} namespace(s)"
                 + (f"; {'at least ' if not plan.left_out_exact else ''}{plan.left_out} more left out by --max-probes"
                    if plan.left_out else ""))
    lines.extend(f"skipped: {s}" for s in plan.skipped)
    lines.extend(f"note: {n}" for n in plan.notes)
    return "\n".join(lines) + "\n"


def plan_document(plan: Plan, pods: list[dict] | None = None) -> dict:
    doc = {
        "apiVersion": API_VERSION, "kind": "VerificationPlan",
        "probes": [{"id": p.id, "from": p.source, "to": p.destination, "ip": p.ip, "protocol": p.protocol,
                    "port": p.port, "predicted": p.predicted, "method": p.method, "why": list(p.why),
                    **({"unknownReasons": list(p.unknown_reasons)} if p.unknown_reasons else {})}
                   for p in plan.probes],
        "leftOut": plan.left_out,
        "leftOutIsLowerBound": not plan.left_out_exact,
        "skipped": plan.skipped,
        "notes": plan.notes,
    }
    if pods is not None:
        doc["pods"] = pods
    return doc


def render_plan_json(plan: Plan, pods: list[dict] | None = None) -> str:
    return json.dumps(plan_document(plan, pods), indent=2) + "\n"


def render_table(report: VerificationReport) -> str:
    lines = []
    rows = []
    for o in report.outcomes:
        p = o.probe
        seen = o.observation.result if o.observation else o.observed
        if o.observation and o.observation.tries > 1:
            seen += f" ({o.observation.tries} tries)"
        rows.append([p.source, p.destination, p.ip or "-", _port(p.protocol, p.port), p.predicted, seen,
                     o.verdict + (" (flaky)" if o.flaky else "")])
    if rows:
        lines.append(tabulate(rows, headers=["FROM (PROBE AS)", "TO", "IP", "PORT", "PREDICTED", "OBSERVED",
                                             "RESULT"], tablefmt="plain", disable_numparse=True))
        lines.append("")
    for verdict in (FALSE_ALLOW, FALSE_DENY):
        found = [o for o in report.outcomes if o.verdict == verdict]
        if not found:
            continue
        lines.append(f"{verdict.upper()} ({len(found)}): {HINTS[verdict]}")
        for o in found:
            p = o.probe
            lines.append(f"  {p.source} -> {p.destination} {_port(p.protocol, p.port)}: predicted {p.predicted}, "
                         f"observed {o.observation.result if o.observation else o.observed}"
                         + (f" ({o.note})" if o.note else ""))
            if p.source != p.destination:
                lines.append(f"    why the prediction: netaudit explain {p.source} {p.destination} "
                             f"--port {_port(p.protocol, p.port)}")
            else:  # explain shows a pod's traffic to itself as unfiltered; the probe was a second pod like it
                lines.append(f"    the probe was a second pod like {p.source}, so policy applied between them")
        lines.append("")
    if report.flaky:
        lines.append(f"FLAKY ({len(report.flaky)}): some tries were dropped and others got through")
        for o in report.flaky:
            p = o.probe
            lines.append(f"  {p.source} -> {p.destination} {_port(p.protocol, p.port)}: "
                         f"{', '.join(o.observation.attempts)}")
        lines.append("")
    others = [o for o in report.outcomes if o.verdict in (UNKNOWN_PREDICTED, INCONCLUSIVE) and o.note]
    for o in others:
        p = o.probe
        lines.append(f"{o.verdict}: {p.source} -> {p.destination} {_port(p.protocol, p.port)}: {o.note}")
    if others:
        lines.append("")
    c = report.counts()
    lines.append(f"{len(report.outcomes)} probes: {c[MATCH]} match, {c[FALSE_ALLOW]} false-allow, "
                 f"{c[FALSE_DENY]} false-deny, {c[UNKNOWN_PREDICTED]} unknown predicted, "
                 f"{c[INCONCLUSIVE]} inconclusive; {c['flaky']} flaky"
                 + (f"; {report.left_out} left out by --max-probes" if report.left_out else ""))
    lines.extend(f"skipped: {s}" for s in report.skipped)
    lines.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(lines) + "\n"


def report_document(report: VerificationReport) -> dict:
    probes = []
    for o in report.outcomes:
        p, obs = o.probe, o.observation
        entry = {"id": p.id, "from": p.source, "to": p.destination, "ip": p.ip, "protocol": p.protocol,
                 "port": p.port, "predicted": p.predicted, "why": list(p.why), "observed": o.observed,
                 "result": obs.result if obs else None, "tries": obs.tries if obs else 0,
                 "attempts": list(obs.attempts) if obs else [], "verdict": o.verdict, "flaky": o.flaky}
        if obs and obs.pod:
            entry["probePod"] = obs.pod
        if o.note:
            entry["note"] = o.note
        if p.unknown_reasons:
            entry["unknownReasons"] = list(p.unknown_reasons)
        probes.append(entry)
    return {"apiVersion": API_VERSION, "kind": "VerificationReport", "runId": report.run_id,
            "summary": {"probes": len(report.outcomes), **report.counts(), "leftOut": report.left_out},
            "probes": probes, "skipped": report.skipped, "warnings": report.warnings}


def render_json(report: VerificationReport) -> str:
    return json.dumps(report_document(report), indent=2) + "\n"
