"""Findings: what is wrong or risky, as values with a stable code, a severity, the objects involved and a fix hint.

This package is the catalogue's face: `run_checks` runs every check, one module per topic holds them
(`isolation`, `dead_rules`, `dns`, `calico`, `input`,
`exposure`), and `finding` holds the value type and the codes. Every check
is a pure function of an Analysis (ClusterState + PolicySet + the class matrix): no I/O, no printing; renderers
decide how findings are shown.
"""

from __future__ import annotations

from typing import Callable

from .calico import check_policy_api_support
from .dead_rules import (
    check_dead_selectors,
    check_ipblocks,
    check_named_ports,
    check_rule_shadowing,
    check_rules_ignored,
    check_services,
)
from .dns import dns_findings
from .exposure import (
    check_exposed_to_future_pods,
    check_exposed_to_internet,
    check_nodeport_bypass,
    check_route_blocked,
)
from .finding import CATALOGUE, SEVERITIES, Finding
from .input import check_input_skipped, check_unknown
from .isolation import check_allow_from_anywhere, check_host_network, check_isolation

__all__ = ["CATALOGUE", "CHECKS", "SEVERITIES", "Finding", "run_checks"]

CHECKS: tuple[Callable, ...] = (check_input_skipped, check_unknown, check_isolation, check_dead_selectors,
                                check_named_ports, check_rules_ignored, check_ipblocks, check_allow_from_anywhere,
                                check_rule_shadowing, check_services, check_host_network, check_policy_api_support,
                                dns_findings, check_exposed_to_internet, check_route_blocked, check_nodeport_bypass,
                                check_exposed_to_future_pods)


def run_checks(analysis) -> list[Finding]:
    """Every check of the catalogue, most severe first (then by code and message, so the order is stable)."""
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(analysis))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.code, f.message))
    return findings
