"""Why one flow is allowed, denied or unknown: the tier -> policy -> rule walk for each direction, on one port.

This walks forwards (as a person reads policies) while evaluate.py walks backwards over port sets; both implement
the same first-match rule, and the tests check that they always agree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..policy.ir import ANY, EGRESS, INGRESS, Action, Tier, Tri, tri_and
from ..sets.ports import PortSet
from .evaluate import Applicable, Evaluator, unknown_reasons

ALLOWED, DENIED, UNKNOWN = "allowed", "denied", "unknown"


class EndpointNotFound(LookupError):
    pass


@dataclass
class RuleStep:
    policy: str
    rule: str
    peer: str
    ports: str
    action: str
    peer_match: Tri
    port_match: Tri  # None: a named port of a pod whose container ports could not all be read
    decided: bool = False


@dataclass
class TierStep:
    tier: str
    default_action: str
    policies: list[tuple[str, Tri]]  # (policy, selected: True / None = maybe)
    rules: list[RuleStep] = field(default_factory=list)
    outcome: str = ""  # "Allow", "Deny", "Pass", "unknown"
    how: str = ""


@dataclass
class DirectionTrace:
    direction: str
    endpoint: str
    verdict: str
    summary: str
    tiers: list[TierStep] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    src: str
    dst: str
    protocol: str
    port: int | None
    verdict: str
    egress: DirectionTrace
    ingress: DirectionTrace


def resolve_endpoint(analysis, text: str) -> tuple[int, str]:
    """A pod (`ns/name`), a workload (`ns/Kind/name`) or an address (`ip:1.2.3.4` or `1.2.3.4`) -> class index."""
    uni = analysis.universe
    raw = text[3:] if text.startswith("ip:") else text
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        pass
    else:
        cls = uni.region_class(raw)
        # An address that belongs to a pod we know is that pod (policies judge pod IPs as pods).
        for pod_cls in uni.classes[:uni.pod_count]:
            for pod in pod_cls.pods:
                if raw in pod.ips:
                    return pod_cls.index, pod.id
        return cls.index, f"{raw} ({cls.region.id})"
    if text in uni.class_of_pod:
        return uni.class_of_pod[text], text
    for cls in uni.classes[:uni.pod_count]:
        for pod in cls.pods:
            if pod.workload_id == text:
                return cls.index, f"{text} (pod {pod.id})"
    raise EndpointNotFound(f"no pod, workload or address {text!r} in the input (pods are written namespace/name, "
                           "workloads namespace/Kind/name, addresses ip:10.0.0.1)")


def explain(analysis, src: str, dst: str, protocol: str, port: int | None) -> Explanation:
    evaluator = analysis.matrix.evaluator or Evaluator(analysis.universe, analysis.policies,
                                                       include_staged=analysis.options.promote_staged)
    src_index, src_label = resolve_endpoint(analysis, src)
    dst_index, dst_label = resolve_endpoint(analysis, dst)
    probe = PortSet.ports(protocol, port) if port is not None else PortSet.protocol(protocol)
    uni = analysis.universe
    src_cls, dst_cls = uni.classes[src_index], uni.classes[dst_index]

    def side(direction: str, local_index: int, peer_index: int, label: str) -> DirectionTrace:
        local = uni.classes[local_index]
        if local.external:
            return DirectionTrace(direction, label, ALLOWED, "outside the cluster: not filtered by cluster policy")
        if local.info.host_network:
            return DirectionTrace(direction, label, ALLOWED, "hostNetwork pod: pod policies do not apply to it "
                                  "(Calico creates no workload endpoint for it)")
        apps = evaluator.applicable_by_class(direction).get(local_index, ())
        destination = uni.classes[peer_index].info if direction == EGRESS else local.info
        return _trace(evaluator, direction, label, apps, peer_index, destination, probe)

    egress = side(EGRESS, src_index, dst_index, src_label)
    ingress = side(INGRESS, dst_index, src_index, dst_label)
    if src_index == dst_index and src_label == dst_label:
        egress = ingress = DirectionTrace("both", src_label, ALLOWED, "a pod's traffic to itself never crosses "
                                          "the policy layer")
    verdicts = {egress.verdict, ingress.verdict}
    verdict = DENIED if DENIED in verdicts else UNKNOWN if UNKNOWN in verdicts else ALLOWED
    if src_cls.external and dst_cls.external:
        verdict = UNKNOWN
        egress.summary = ingress.summary = "both ends are outside the cluster: not a flow netaudit judges"
    return Explanation(src_label, dst_label, protocol, port, verdict, egress, ingress)


def _trace(evaluator: Evaluator, direction: str, label: str, apps: tuple[Applicable, ...], peer: int,
           destination, probe: PortSet) -> DirectionTrace:
    what = "egress" if direction == EGRESS else "ingress"
    if not apps:
        return DirectionTrace(direction, label, ALLOWED,
                              f"no policy selects it for {what}: not isolated, everything allowed")
    by_tier: dict[str, list[Applicable]] = {}
    for app in apps:
        by_tier.setdefault(app.policy.tier, []).append(app)
    trace = DirectionTrace(direction, label, "", "")
    bit = 1 << peer
    peer_info = evaluator.universe.classes[peer].info
    reasons: set[str] = set()
    finals: set[str] = set()  # the final results still possible: "Allow", "Deny"
    passing = True
    for tier_name, tier_apps in by_tier.items():
        if not passing:
            break
        tier = evaluator.tiers.get(tier_name) or Tier(tier_name, None, Action.DENY)
        step = TierStep(tier.name, tier.default_action.value,
                        [(a.policy.label(), a.selected) for a in tier_apps])
        trace.tiers.append(step)
        possible: set[str] = set()
        decided = None
        for app in tier_apps:
            for rule, local in zip(app.policy.rules(direction), app.local):
                yes, maybe = evaluator.mask(rule.peer)
                peer_tri: Tri = True if yes & bit else (None if maybe & bit else False)
                tri = tri_and(tri_and(app.selected, local if rule.local is not ANY else True), peer_tri)
                port_match: Tri = True if probe <= rule.ports_for(destination) else \
                    None if probe & rule.ports_maybe_for(destination) else False
                rs = RuleStep(app.policy.label(), f"{direction}[{rule.index}]" if not rule.text else rule.text,
                              rule.peer.describe(), rule.ports.describe(), rule.action.value, tri, port_match)
                step.rules.append(rs)
                if tri is False or port_match is False or rule.action is Action.LOG:
                    continue
                if tri is None or port_match is None:
                    # It may match (something it depends on is unknown): its action is one possible outcome.
                    if rule.action.value not in possible:
                        if tri is None:
                            for matcher in (app.policy.selector, rule.peer, rule.local):
                                reasons.update(unknown_reasons(matcher))
                            reasons.update(app.why)
                            if peer_tri is None and peer_info.uncertain:
                                reasons.add(peer_info.uncertain_reason)
                        if port_match is None:
                            reasons.add(destination.uncertain_reason)
                    possible.add(rule.action.value)
                    continue
                rs.decided = True
                decided = rule.action.value
                step.how = f"{app.policy.label()} {rs.rule} matched: {decided}"
                break
            if decided:
                break
        if decided is None:
            decided = tier.default_action.value
            step.how = f"no rule matched: the {tier.name} tier's default action, {decided}"
        possible.add(decided)
        if not any(a.selected is True for a in tier_apps):
            if Action.PASS.value not in possible:
                for app in tier_apps:
                    reasons.update(unknown_reasons(app.policy.selector))
                    reasons.update(app.why)
            possible.add(Action.PASS.value)  # the tier may not apply at all: then the walk goes on
        step.outcome = " or ".join(sorted(possible)) if len(possible) > 1 else decided
        finals |= possible - {Action.PASS.value}
        passing = Action.PASS.value in possible
    if passing:
        finals.add(Action.ALLOW.value)
    if finals == {Action.ALLOW.value}:
        trace.verdict = ALLOWED
    elif Action.ALLOW.value in finals:
        trace.verdict = UNKNOWN
    else:
        trace.verdict = DENIED
    last = trace.tiers[-1] if trace.tiers else None
    if trace.verdict == UNKNOWN:
        trace.summary = "cannot tell: the outcome depends on something netaudit could not read (see below)"
    elif passing and last is not None and last.outcome == Action.PASS.value:
        trace.summary = "every applicable tier passed: allowed by the namespace profile"
    else:
        trace.summary = last.how if last is not None else ""
    trace.reasons = sorted(reasons)
    return trace
