"""`check` output: a table for people, JSON for tools, SARIF 2.1.0 for code-scanning services."""

from __future__ import annotations

import json

from tabulate import tabulate

from .. import __version__
from ..findings import CATALOGUE, Finding

SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "note"}


def render_table(findings: list[Finding]) -> str:
    if not findings:
        return "no findings\n"
    rows = []
    for f in findings:
        rows.append([f.severity, f.code, f.message + (f"\n  fix: {f.hint}" if f.hint else "")])
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("high", "medium", "low", "info")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return tabulate(rows, headers=["SEVERITY", "CODE", "FINDING"], tablefmt="plain",
                    maxcolwidths=[None, None, 100]) + f"\n\n{len(findings)} finding(s): {summary}\n"


def render_json(findings: list[Finding], warnings) -> str:
    doc = {"apiVersion": "netaudit/v1", "kind": "Findings", "findings": [f.to_json() for f in findings],
           "warnings": [a.to_json() for a in warnings]}
    return json.dumps(doc, indent=2) + "\n"


def sarif_document(findings: list[Finding], source_files: dict[str, str]) -> dict:
    """SARIF 2.1.0. Each finding names its objects; where an object came from a file, that file is the location."""
    used = sorted({f.code for f in findings})
    rules = [{"id": code, "name": code, "shortDescription": {"text": CATALOGUE[code][1]},
              "defaultConfiguration": {"level": SARIF_LEVEL[CATALOGUE[code][0]]}} for code in used]
    results = []
    for f in findings:
        result = {"ruleId": f.code, "level": SARIF_LEVEL[f.severity],
                  "message": {"text": f.message + (f" Fix: {f.hint}" if f.hint else "")}}
        locations = []
        places = [(obj, source_files.get(obj)) for obj in f.objects]
        if f.details.get("source"):  # the finding knows its own place (input-skipped: the file and line)
            places.insert(0, (f.objects[0] if f.objects else f.details["source"], f.details["source"]))
        for obj, where in places:
            if where:
                path, _, line = where.split(" ", 1)[0].rpartition(":")
                if not line.isdigit():
                    path, line = where, "1"
                locations.append({"physicalLocation": {"artifactLocation": {"uri": path},
                                                       "region": {"startLine": int(line)}},
                                  "message": {"text": obj}})
        if locations:
            result["locations"] = locations[:1]
            if len(locations) > 1:
                result["relatedLocations"] = [dict(loc, id=i) for i, loc in enumerate(locations[1:])]
        else:
            result["locations"] = [{"logicalLocations": [{"name": o, "kind": "object"} for o in f.objects[:1]]}] \
                if f.objects else []
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "netaudit", "version": __version__,
                                      "informationUri": "https://github.com/netaudit/netaudit", "rules": rules}},
                  "results": results}],
    }


def render_sarif(findings: list[Finding], source_files: dict[str, str]) -> str:
    return json.dumps(sarif_document(findings, source_files), indent=2) + "\n"
