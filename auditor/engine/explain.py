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
        hosts = evaluator.host_endpoint_reasons(local.info)
        if hosts and not (local.external and uni.classes[peer_index].external):
            return DirectionTrace(direction, label, UNKNOWN, "a host endpoint's address: the host's own policy is "
                                  "not modelled", reasons=sorted(hosts))
        if local.external:
            return DirectionTrace(direction, label, ALLOWED, "outside the cluster: not filtered by cluster policy")
        if local.info.host_network:
            return DirectionTrace(direction, label, ALLOWED, "hostNetwork pod: pod policies do not apply to it "
                                  "(Calico creates no workload endpoint for it)")
        apps = evaluator.applicable_by_class(direction).get(local_index, ())
        destination = uni.classes[peer_index].info if direction == EGRESS else local.info
        return trace_direction(evaluator, direction, label, apps, peer_index, destination, probe)

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


def trace_direction(evaluator: Evaluator, direction: str, label: str, apps: tuple[Applicable, ...], peer: int,
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
        # The trace, forwards: every rule up to the one that surely decides. A rule of a maybe-selecting policy
        # never decides (the policy may be absent), and once one of its rules surely matches, the rest of that
        # policy is not reached when it applies.
        matches: dict[tuple[int, int], tuple[Tri, bool]] = {}
        decided = None
        for number, app in enumerate(tier_apps):
            settled = False
            for position, (rule, local) in enumerate(zip(app.policy.rules(direction), app.local)):
                yes, maybe = evaluator.mask(rule.peer)
                peer_tri: Tri = True if yes & bit else (None if maybe & bit else False)
                tri = tri_and(local if rule.local is not ANY else True, peer_tri)
                port_match: Tri = True if probe <= rule.ports_for(destination) else \
                    None if probe & rule.ports_maybe_for(destination) else False
                matches[(number, position)] = (tri_and(tri, port_match), port_match is not False)
                rs = RuleStep(app.policy.label(), f"{direction}[{rule.index}]" if not rule.text else rule.text,
                              rule.peer.describe(), rule.ports.describe(), rule.action.value, tri, port_match)
                step.rules.append(rs)
                if settled or tri is False or port_match is False or rule.action is Action.LOG:
                    continue
                if tri is None or port_match is None:
                    # It may match (something it depends on is unknown): its action is one possible outcome.
                    if tri is None:
                        reasons.update(unknown_reasons(rule.peer) | unknown_reasons(rule.local))
                        if local is None:
                            reasons.update(app.why)
                        if peer_tri is None and peer_info.uncertain:
                            reasons.add(peer_info.uncertain_reason)
                    if port_match is None:
                        reasons.add(destination.uncertain_reason)
                elif app.selected is True:
                    rs.decided = True
                    decided = rule.action.value
                    step.how = f"{app.policy.label()} {rs.rule} matched: {decided}"
                    break
                else:
                    settled = True
            if decided:
                break
        possible, selection_matters = _tier_outcomes(tier, tier_apps, direction, matches)
        for app in selection_matters:
            reasons.update(unknown_reasons(app.policy.selector))
            reasons.update(app.why)
        if decided is None and len(possible) > 1:
            decided = " or ".join(sorted(possible))
            step.how = f"tier {tier.name}: {decided}, depending on what netaudit could not read"
        elif decided is None:
            decided = tier.default_action.value
            step.how = f"no rule matched: the {tier.name} tier's default action, {decided}"
        if tier.default_unknown:
            reasons.add(tier.default_unknown)
        step.outcome = " or ".join(sorted(possible)) if len(possible) > 1 else next(iter(possible))
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
    elif any(" or " in t.outcome for t in trace.tiers):
        trace.summary = (f"{trace.verdict} in every case netaudit cannot tell apart (a policy that maybe selects "
                         "it applies as a whole or not at all; a Pass out of the last tier is allowed)")
    elif passing and last is not None and last.outcome == Action.PASS.value:
        trace.summary = "every applicable tier passed: allowed by the namespace profile"
    else:
        trace.summary = last.how if last is not None else ""
    trace.reasons = sorted(reasons) if trace.verdict == UNKNOWN else []
    return trace


def _tier_outcomes(tier: Tier, apps: list[Applicable], direction: str,
                   matches: dict[tuple[int, int], tuple[Tri, bool]]) -> tuple[set[str], list[Applicable]]:
    """The outcomes one port may get from a tier ("Allow", "Deny", "Pass"; "Pass" also when no policy applies),
    and the maybe-selecting policies whose selection changes them. The same recurrence as evaluate.py's
    _walk_tier, on one port: backwards over the policies, with what the rest gives when the tier applies
    (`applied`) and when no earlier policy selected the endpoint (`absent`)."""
    applied = {a.value for a in tier.default_actions}
    absent = {Action.PASS.value}
    matters = []
    for number in reversed(range(len(apps))):
        app = apps[number]
        outcome = set(applied)
        rules = app.policy.rules(direction)
        for position in reversed(range(len(rules))):
            rule = rules[position]
            # A rule the trace did not list comes after the one that decided: never reached.
            tri, port_match = matches.get((number, position), (False, False))
            if tri is False or not port_match or rule.action is Action.LOG:
                continue
            outcome = {rule.action.value} if tri is True else outcome | {rule.action.value}
        if app.selected is True:
            applied, absent = outcome, set(outcome)
            continue
        if outcome != applied or outcome != absent:
            matters.append(app)
        applied, absent = outcome | applied, outcome | absent
    return absent, matters
