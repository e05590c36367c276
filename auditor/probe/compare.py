"""Predicted vs observed, probe by probe (pure).

What a probe result says about the network:
- connected: the packet went through and something listens;
- refused: the packet went through and the host answered that nothing listens (a TCP reset, an ICMP port
  unreachable). Still "open" for policy, as far as the dataplane drops denied packets, which Calico and Cilium do
  by default; a CNI configured to reject denied packets with a reset looks the same, and the report says so;
- timeout: nothing came back on any try: the packet was dropped ("blocked");
- error: the probe could not run (a tool missing, a bad address): says nothing.
Retries tell flakes from drops: a probe that timed out and then connected is open (the policy let it through
once, so a predicted deny is still a hole) and flaky; one that timed out on every try is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .collect import Observation
from .plan import ALLOWED, DENIED, NOT_PROBED, UNKNOWN, Plan, PlannedProbe

MATCH, FALSE_ALLOW, FALSE_DENY = "match", "false-allow", "false-deny"
UNKNOWN_PREDICTED, INCONCLUSIVE = "unknown-predicted", "inconclusive"
VERDICTS = (MATCH, FALSE_ALLOW, FALSE_DENY, UNKNOWN_PREDICTED, INCONCLUSIVE)
OPEN, BLOCKED, NO_RESULT, NOT_TESTED, MISSING = "open", "blocked", "no result", "not probed", "missing"


def reachability(result: str) -> str:
    """What one try's result says: open, blocked, or nothing."""
    if result in ("connected", "refused"):
        return OPEN
    return BLOCKED if result == "timeout" else NO_RESULT


@dataclass(frozen=True)
class ProbeOutcome:
    probe: PlannedProbe
    observation: Observation | None
    observed: str  # open | blocked | no result | not probed | missing
    verdict: str  # match | false-allow | false-deny | unknown-predicted | inconclusive
    flaky: bool = False
    note: str = ""

    @property
    def mismatch(self) -> bool:
        return self.verdict in (FALSE_ALLOW, FALSE_DENY)


@dataclass
class VerificationReport:
    run_id: str
    outcomes: list[ProbeOutcome]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    left_out: int = 0

    @property
    def mismatches(self) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if o.mismatch]

    @property
    def flaky(self) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if o.flaky]

    def counts(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for outcome in self.outcomes:
            counts[outcome.verdict] += 1
        counts["flaky"] = len(self.flaky)
        return counts


def compare(plan: Plan, observations: Mapping[str, Observation], run_id: str = "",
            warnings: list[str] | None = None, unpredictable: Mapping[int, str] | None = None) -> VerificationReport:
    """One outcome per planned probe.

    `unpredictable` maps a source class to why its probe pod is not judged like its pods (its IP fell in another
    ipBlock region): its probes are reported as unknown predicted, never as mismatches.
    """
    unpredictable = unpredictable or {}
    outcomes = [judge(p, observations.get(p.id), unpredictable.get(p.src_class)) for p in plan.probes]
    return VerificationReport(run_id, outcomes, list(warnings or []), list(plan.skipped), plan.left_out)


def judge(probe: PlannedProbe, observation: Observation | None, unpredictable: str | None = None) -> ProbeOutcome:
    if probe.method == NOT_PROBED:
        return ProbeOutcome(probe, None, NOT_TESTED, INCONCLUSIVE,
                            note=f"{probe.protocol} {probe.port}: no reply can be expected, so no probe can tell")
    if observation is None:
        return ProbeOutcome(probe, None, MISSING, INCONCLUSIVE, note="no result in the probe pod's log")
    states = [reachability(a) for a in observation.attempts or (observation.result,)]
    observed = reachability(observation.result)
    flaky = len(set(states)) > 1
    note = ""
    if observation.result == "refused":
        note = "refused: the host answered, so the network let it through (unless the CNI rejects denied " \
               "packets with a reset)"
    if flaky:
        note = (note + "; " if note else "") + f"flaky: tries gave {', '.join(observation.attempts)}"
    if unpredictable:
        return ProbeOutcome(probe, observation, observed, UNKNOWN_PREDICTED, flaky,
                            (note + "; " if note else "") + unpredictable)
    if probe.predicted == UNKNOWN:
        return ProbeOutcome(probe, observation, observed, UNKNOWN_PREDICTED, flaky, note)
    if observed == NO_RESULT:
        detail = f": {observation.detail}" if observation.detail else ""
        return ProbeOutcome(probe, observation, observed, INCONCLUSIVE, flaky, f"the probe failed{detail}")
    if probe.predicted == ALLOWED:
        verdict = MATCH if observed == OPEN else FALSE_DENY
    elif probe.predicted == DENIED:
        verdict = MATCH if observed == BLOCKED else FALSE_ALLOW
    else:  # pragma: no cover - the plan only predicts the three values
        raise ValueError(f"unknown prediction {probe.predicted!r}")
    return ProbeOutcome(probe, observation, observed, verdict, flaky, note)


def displaced_sources(plan: Plan, probe_ips: Mapping[int, str], region_of) -> dict[int, str]:
    """Source classes whose probe pod got an IP in another address region than their pods.

    Calico matches ipBlocks against pod IPs too, so a probe IP outside the class's regions can change which rules
    match it. `probe_ips` maps a source class to its probe pod's IP; `region_of(ip)` gives the region index or None.
    """
    out = {}
    for source in plan.sources:
        ip = probe_ips.get(source.class_index)
        if not ip or not source.regions:
            continue
        region = region_of(ip)  # None: the address space cannot place it (say, IPv6 in an IPv4-only analysis)
        if region is not None and region not in source.regions:
            out[source.class_index] = (f"the probe pod's IP {ip} is in another ipBlock region than {source.pod.id}'s,"
                                       " so policies may judge it differently")
    return out
