"""Isolation: pods that no policy governs, rules that admit everyone, and pods pod policy cannot govern."""

from __future__ import annotations

from ..engine.matrix import endpoint_id
from ..policy.ir import EGRESS, INGRESS, Action, AddressBlock, AnyEndpoint, PodSelection
from ..sets.addresses import IPV4_ALL, IPV6_ALL
from .finding import Finding, finding, peer_options


def check_isolation(analysis) -> list[Finding]:
    """Per namespace: pods no policy selects for ingress (or egress)."""
    evaluator = analysis.evaluator
    uni = analysis.universe
    out = []
    for direction, code in ((INGRESS, "no-ingress-isolation"), (EGRESS, "no-egress-isolation")):
        selected = evaluator.applicable_by_class(direction)
        open_pods: dict[str, list[str]] = {}
        for cls in uni.classes[:uni.pod_count]:
            if cls.index in selected or cls.info.host_network:
                continue
            for pod in cls.pods:
                open_pods.setdefault(pod.namespace, []).append(endpoint_id(pod, "workload"))
        for ns, workloads in sorted(open_pods.items()):
            workloads = sorted(set(workloads))
            what = "accept connections from anywhere" if direction == INGRESS else "may connect anywhere"
            shown = ", ".join(workloads[:5]) + (f" and {len(workloads) - 5} more" if len(workloads) > 5 else "")
            out.append(finding(code, f"namespace {ns}: {len(workloads)} workload(s) {what}: no policy selects them for "
                               f"{direction} ({shown})", [f"Namespace {ns}"] + workloads,
                               f"add a default-deny {direction} NetworkPolicy to {ns} (podSelector: {{}}, policyTypes: "
                               f"[{direction.capitalize()}]) and allow what is needed"))
    return out


def check_allow_from_anywhere(analysis) -> list[Finding]:
    out = []
    for policy in analysis.policies.policies:
        for rule in policy.rules(INGRESS) or ():
            if rule.action is not Action.ALLOW:
                continue
            for option in peer_options(rule.peer):
                anywhere = None
                if isinstance(option, AnyEndpoint):
                    anywhere = "any source (the rule has no `from`)"
                elif isinstance(option, AddressBlock) and any(n in (IPV4_ALL, IPV6_ALL) for n in option.included):
                    anywhere = f"{option.describe()}"
                elif isinstance(option, PodSelection) and option.namespace_selector is not None \
                        and option.namespace_selector.is_empty and (option.pod_selector is None
                                                                    or option.pod_selector.is_empty):
                    anywhere = "every pod in every namespace"
                if anywhere:
                    out.append(finding("allow-from-anywhere", f"{policy.label()} {rule.text}: allows ingress from "
                                       f"{anywhere} on {rule.ports.describe()}", [policy.label()],
                                       "narrow the source to the clients that need it"))
    return out


def check_host_network(analysis) -> list[Finding]:
    pods = sorted(p.id for p in analysis.state.pods if p.host_network)
    if not pods:
        return []
    shown = ", ".join(pods[:5]) + (f" and {len(pods) - 5} more" if len(pods) > 5 else "")
    return [finding("host-network-pod", f"{len(pods)} hostNetwork pod(s) ({shown}): pod policies do not apply to them, "
                    "and peer selectors never match them (only ipBlocks on the node IP do)", pods,
                    "govern them with Calico host endpoint policy, or move them off the host network")]
