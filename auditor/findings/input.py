"""The audit's own completeness: what could not be read, and the verdicts left unknown because of it."""

from __future__ import annotations

from .finding import Finding, finding


def check_unknown(analysis) -> list[Finding]:
    out = []
    for item in analysis.state.unreadable:
        out.append(finding("unknown-verdicts", f"could not read {item.resource}"
                           f"{' in ' + item.namespace if item.namespace else ''} ({item.reason}): the verdicts that "
                           "depend on it are unknown", [item.resource],
                           "grant read access (deploy/rbac.yaml lists what netaudit needs)"
                           if "forbidden" in item.reason else "fix the input it came from (see the errors)"))
    unknown_pairs = sum(1 for b in analysis.matrix.blocks if b.unknown)
    if unknown_pairs and not out:
        reasons = sorted({r for b in analysis.matrix.blocks for r in b.reasons})
        out.append(finding("unknown-verdicts", f"some verdicts are unknown: {'; '.join(reasons[:3])}"
                           + (f" and {len(reasons) - 3} more" if len(reasons) > 3 else ""), [],
                           "see the warnings: fix or remove what could not be read"))
    return out


# What to do about each kind of unreadable input (the alert codes the sources and the policy layer use).
_SKIPPED_HINTS = {
    "invalid-yaml": "fix the YAML (`kubectl apply --dry-run=client -f FILE` reports the same problem)",
    "invalid-json": "fix the JSON (`kubectl apply --dry-run=client -f FILE` reports the same problem)",
    "template": "render the template first (`helm template`, `kustomize build`) and audit what it renders",
    "unreadable-file": "make the file readable as UTF-8 text",
    "missing-kind": "give the object its kind and apiVersion",
}
_DEFAULT_HINT = "fix the field (the API server would refuse this object as written) and run again"


def check_input_skipped(analysis) -> list[Finding]:
    """Every error alert: a file, document, object or piece of one was not read, so the audit cannot be complete.

    One finding per error, so that each names its own file and line (SARIF turns `source` into a location); the
    verdicts the skipped piece could change are unknown where netaudit could tell which (a dropped rule peer or
    container port), but an object skipped whole is simply missing from the matrix.
    """
    return [finding("input-skipped", f"not read: {alert.message}", [alert.object] if alert.object else [],
                    _SKIPPED_HINTS.get(alert.code, _DEFAULT_HINT), source=alert.source, alert=alert.code)
            for alert in analysis.alerts if alert.severity == "error"]
