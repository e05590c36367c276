"""Findings: what is wrong or risky, as values with a stable code, a severity, the objects involved and a fix hint.

Checks are pure functions of an Analysis; renderers decide how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("high", "medium", "low", "info")


@dataclass(frozen=True)
class Finding:
    code: str  # stable, e.g. "dns-blocked"
    severity: str  # high | medium | low | info
    message: str
    objects: tuple[str, ...] = ()
    hint: str = ""
    details: dict = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict:
        out = {"code": self.code, "severity": self.severity, "message": self.message,
               "objects": list(self.objects), "hint": self.hint}
        if self.details:
            out["details"] = self.details
        return out
