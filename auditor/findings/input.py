"""The audit's own completeness: what could not be read, and the verdicts left unknown because of it."""

from __future__ import annotations

from .finding import Finding, finding


def check_unknown(analysis) -> list[Finding]:
    out = []
    for item in analysis.state.unreadable:
        out.append(finding("unknown-verdicts", f"could not read {item.resource}"
                           f"{' in ' + item.namespace if item.namespace else ''} ({item.reason}): the verdicts that "
                           "depend on it are unknown", [item.resource],
                           "grant read access (deploy/rbac.yaml lists what netaudit needs)"))
    unknown_pairs = sum(1 for b in analysis.matrix.blocks if b.unknown)
    if unknown_pairs and not out:
        reasons = sorted({r for b in analysis.matrix.blocks for r in b.reasons})
        out.append(finding("unknown-verdicts", f"some verdicts are unknown: {'; '.join(reasons[:3])}"
                           + (f" and {len(reasons) - 3} more" if len(reasons) > 3 else ""), [],
                           "see the warnings: fix or remove what could not be read"))
    return out
