"""`explain` as text (for people) and JSON (for tools)."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..engine.explain import DirectionTrace, Explanation

_TRI = {True: "yes", False: "no", None: "maybe"}


def render_text(exp: Explanation) -> str:
    port = f"{exp.port}/{exp.protocol}" if exp.port is not None else exp.protocol
    lines = [f"{exp.src} -> {exp.dst} on {port}: {exp.verdict.upper()}", ""]
    for trace in (exp.egress, exp.ingress):
        lines.extend(_direction(trace))
        if trace is exp.ingress or exp.egress is exp.ingress:
            break
        lines.append("")
    return "\n".join(lines) + "\n"


def _direction(trace: DirectionTrace) -> list[str]:
    title = {"egress": "egress of", "ingress": "ingress of", "both": "traffic of"}[trace.direction]
    lines = [f"{title} {trace.endpoint}: {trace.verdict}", f"  {trace.summary}"]
    for tier in trace.tiers:
        lines.append(f"  tier {tier.tier} (default {tier.default_action}): {tier.outcome}")
        for policy, selected in tier.policies:
            note = "" if selected is True else " (maybe: selection depends on unknown data)"
            lines.append(f"    selects it: {policy}{note}")
        for step in tier.rules:
            if step.decided:
                mark = "=>"
            elif step.peer_match is False or step.port_match is False:
                mark = "  "
            else:
                mark = "? "
            why = []
            if step.peer_match is not True:
                why.append(f"peer {_TRI[step.peer_match]}")
            if step.port_match is not True:
                why.append(f"port {_TRI[step.port_match]}")
            suffix = f"  [{', '.join(why)}]" if why else ""
            lines.append(f"    {mark} {step.policy} {step.rule}: {step.action} {step.peer} on {step.ports}{suffix}")
    for reason in trace.reasons:
        lines.append(f"  unknown because: {reason}")
    return lines


def render_json(exp: Explanation) -> str:
    doc = {"apiVersion": "netaudit/v1", "kind": "Explanation", **asdict(exp)}
    return json.dumps(doc, indent=2, default=str) + "\n"


SERVICE_STATUS = {"all": "all backends reachable", "some": "SOME backends reachable", "none": "NO backend reachable",
                  "no-backends": "no backends", "unknown": "unknown"}


def render_service_text(sexp) -> str:
    port = sexp.port
    name = f" ({port.name})" if port.name else ""
    lines = [f"{sexp.client} -> Service {sexp.service} port {port.port}/{port.protocol}{name}: "
             f"{SERVICE_STATUS[sexp.status]}", ""]
    for backend_id, target, exp, note in sexp.backends:
        if exp is None:
            lines.append(f"backend {backend_id}: {note}")
            continue
        lines.append(f"backend {backend_id} on {target}/{port.protocol}: {exp.verdict.upper()}")
        for line in render_text(exp).splitlines()[2:]:
            lines.append("  " + line)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_service_json(sexp) -> str:
    doc = {"apiVersion": "netaudit/v1", "kind": "ServiceExplanation", "from": sexp.client, "service": sexp.service,
           "port": sexp.port.port, "protocol": sexp.port.protocol, "portName": sexp.port.name, "status": sexp.status,
           "backends": [{"backend": b, "targetPort": t, "note": note, "explanation": asdict(e) if e else None}
                        for b, t, e, note in sexp.backends]}
    return json.dumps(doc, indent=2, default=str) + "\n"
