"""`netaudit dns`: cluster DNS settings, DNS reachability findings and the names served."""

from __future__ import annotations

import json

from tabulate import tabulate


def _path_text(path) -> str:
    if path.kind == "nodelocal":
        return f"NodeLocal DNSCache on each node ({', '.join(path.targets)})"
    if path.kind == "coredns":
        return f"CoreDNS pods behind {path.service}"
    return f"unknown: no Service {path.service} in the input"


def render_text(settings, path, records, findings) -> str:
    lines = [f"cluster domain: {settings.domain}    pods: {settings.pods_mode}    (from {settings.source})",
             f"DNS path: {_path_text(path)}", ""]
    if findings:
        lines.append(f"{len(findings)} DNS finding(s):")
        for f in findings:
            lines.append(f"  [{f.severity}] {f.code}: {f.message}")
            if f.hint:
                lines.append(f"      fix: {f.hint}")
    else:
        lines.append("every pod that uses cluster DNS can reach it on 53/UDP and 53/TCP")
    if records:
        lines.append("")
        lines.append(tabulate([[r.name, r.type, r.value, r.owner] for r in records],
                              headers=["NAME", "TYPE", "VALUE", "FROM"], tablefmt="plain", disable_numparse=True))
    return "\n".join(lines) + "\n"


def render_json(settings, path, records, findings, warnings) -> str:
    doc = {
        "apiVersion": "netaudit/v1",
        "kind": "DnsReport",
        "domain": settings.domain,
        "podsMode": settings.pods_mode,
        "settingsFrom": settings.source,
        "path": {"kind": path.kind, "service": path.service, "addresses": path.targets},
        "findings": [f.to_json() for f in findings],
        "records": [{"name": r.name, "type": r.type, "value": r.value, "from": r.owner} for r in records],
        "warnings": [a.to_json() for a in warnings],
    }
    return json.dumps(doc, indent=2) + "\n"
