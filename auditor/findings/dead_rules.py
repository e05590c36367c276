"""Configuration that does nothing: selectors that match nothing, named ports no pod declares, rules for a direction
the policy does not apply to, ipBlocks that cannot mean what they say, rules earlier rules shadow, and Service ports
no client can reach.
"""

from __future__ import annotations

from ..model import NAMESPACE_NAME_LABEL
from ..policy.ir import EGRESS, INGRESS, Action, AddressBlock, PodSelection
from ..sets.addresses import IPV4_ALL, IPV6_ALL, IpSet
from ..sets.ports import PortSet
from .finding import Finding, finding, peer_options


def check_dead_selectors(analysis) -> list[Finding]:
    evaluator = analysis.evaluator
    uni = analysis.universe
    out = []
    for policy in analysis.policies.policies:
        if policy.tier == "netaudit-unreadable":
            continue
        yes, maybe = evaluator.mask(policy.selector)
        if not (yes | maybe) & uni.pod_mask:
            out.append(finding("policy-selects-nothing", f"{policy.label()} selects no pod: it has no effect",
                               [policy.label()], "check the selector's labels against the pods' labels"))
            continue
        for direction in (INGRESS, EGRESS):
            for rule in policy.rules(direction) or ():
                for option in peer_options(rule.peer):
                    if not isinstance(option, PodSelection):
                        continue
                    yes, maybe = evaluator.mask(option)
                    if (yes | maybe) & uni.pod_mask:
                        continue
                    hint = "check the labels"
                    if option.namespace is not None and option.namespace_selector is None:
                        hint = (f"a podSelector alone matches pods in {option.namespace} only: add a "
                                "namespaceSelector to reach pods in other namespaces")
                    elif option.namespace_selector is not None and not namespace_matches(analysis, option):
                        hint = (f"no namespace has labels [{option.namespace_selector}]; every namespace has "
                                f"{NAMESPACE_NAME_LABEL}=<name>")
                    out.append(finding("peer-matches-nothing", f"{policy.label()} {rule.text or direction}: peer "
                                       f"{option.describe()} matches no pod: the rule allows nothing",
                                       [policy.label()], hint))
    return out


def namespace_matches(analysis, selection: PodSelection) -> bool:
    return any(selection.namespace_selector.matches(ns.labels) for ns in analysis.state.namespaces.values())


def check_named_ports(analysis) -> list[Finding]:
    """A named port that no pod the rule can reach declares (ingress: the selected pods; egress: the peers)."""
    evaluator = analysis.evaluator
    uni = analysis.universe
    out = []
    for policy in analysis.policies.policies:
        for direction in (INGRESS, EGRESS):
            for rule in policy.rules(direction) or ():
                if not rule.ports.named:
                    continue
                if direction == INGRESS:
                    yes, maybe = evaluator.mask(policy.selector)
                else:
                    yes, maybe = evaluator.mask(rule.peer)
                reached = list(uni.indices((yes | maybe) & uni.pod_mask))
                names = {(n, p) for i in reached for n, p, _ in uni.classes[i].info.named_ports}
                # A container port that could not be read whole may carry the name (None: unknown).
                names |= {(n, p) for i in reached for n, p, _ in uni.classes[i].info.uncertain_ports}
                for protocol, name in rule.ports.named:
                    if not any(n in (name, None) and (protocol is None or p in (protocol, None)) for n, p in names):
                        where = "the pods it selects" if direction == INGRESS else "the peers it allows"
                        out.append(finding("named-port-unresolved", f"{policy.label()} {rule.text}: no container port "
                                           f"named {name!r}{'/' + protocol if protocol else ''} on {where}: it matches "
                                           "nothing", [policy.label()],
                                           "declare the name in the pods' containers[].ports (not only in an "
                                           "initContainer), or use the port number"))
    return out


def check_rules_ignored(analysis) -> list[Finding]:
    return [finding("rules-ignored", a.message, [a.object], "add the direction to policyTypes (types), or remove the "
                    "rules") for a in analysis.alerts if a.code == "rules-ignored"]


def check_ipblocks(analysis) -> list[Finding]:
    """ipBlocks that cover pod or Service addresses: in Calico they also match those pods (docs/semantics.md
    K8S-A7), and a Service CIDR allow does nothing because policy sees traffic after DNAT (SVC-S1)."""
    pod_ips = IpSet.of(*[f"{ip}/{32 if ':' not in ip else 128}" for p in analysis.state.pods for ip in p.ips
                         if not p.host_network])
    service_ips = IpSet.of(*[f"{ip}/{32 if ':' not in ip else 128}" for s in analysis.state.services
                             for ip in s.cluster_ips])
    out = []
    for policy in analysis.policies.policies:
        for direction in (INGRESS, EGRESS):
            for rule in policy.rules(direction) or ():
                for option in peer_options(rule.peer):
                    if not isinstance(option, AddressBlock):
                        continue
                    covered = []
                    if option.addresses & pod_ips:
                        covered.append("pod")
                    if option.addresses & service_ips:
                        covered.append("Service")
                    if not covered:
                        continue
                    wide = any(n in (IPV4_ALL, IPV6_ALL) for n in option.included)
                    message = (f"{policy.label()} {rule.text}: {option.describe()} covers {' and '.join(covered)} "
                               "addresses")
                    if "pod" in covered:
                        message += ": it also matches those pods (Calico matches ipBlocks against pod IPs)"
                    if "Service" in covered:
                        message += "; Service IPs never match, since policy sees traffic after DNAT"
                    out.append(finding("ipblock-covers-cluster", message, [policy.label()],
                                       "use pod/namespace selectors for cluster traffic, and add the pod and Service "
                                       "CIDRs to `except`" if wide else "use selectors for pods; target backends, "
                                       "not Service IPs", covered=covered))
    return out


def check_rule_shadowing(analysis) -> list[Finding]:
    """Within one policy, a rule whose peers and ports are all taken by an earlier final rule can never match."""
    evaluator = analysis.evaluator
    out = []
    for policy in analysis.policies.policies:
        for direction in (INGRESS, EGRESS):
            rules = policy.rules(direction) or ()
            for i, rule in enumerate(rules):
                if rule.ports.named or rule.not_ports is not None:
                    continue
                r_yes, r_maybe = evaluator.mask(rule.peer)
                if r_maybe or not r_yes:
                    continue
                for earlier in rules[:i]:
                    if earlier.action is Action.LOG or earlier.ports.named or earlier.not_ports is not None:
                        continue
                    if earlier.local != rule.local:
                        continue
                    e_yes, e_maybe = evaluator.mask(earlier.peer)
                    if e_maybe or (r_yes & ~e_yes):
                        continue
                    if not rule.ports.numeric <= earlier.ports.numeric:
                        continue
                    if earlier.action is rule.action and policy.ref.kind == "NetworkPolicy" \
                            and policy.ref.source and policy.name.startswith("knp."):
                        break  # overlapping Kubernetes allows are harmless (a union), not worth a finding
                    out.append(finding("rule-shadowed", f"{policy.label()} {rule.text}: never matches: "
                                       f"{earlier.text} ({earlier.action.value}) already takes all its traffic",
                                       [policy.label()], "reorder or remove the rule"))
                    break
    return out


def check_services(analysis) -> list[Finding]:
    """A Service port none of whose ready backends any pod can reach on its target port (allowed or unknown).

    The same answer as `matrix --level service` showing `none` for every client, asked of the blocks directly (one
    question per backend, not one per client and backend).
    """
    from ..engine.services import FlowIndex, backend_class, service_backends
    uni = analysis.universe
    clients = 0
    for cls in uni.classes[:uni.pod_count]:
        if any(not pod.host_network for pod in cls.pods):
            clients |= 1 << cls.index
    index = FlowIndex(analysis)
    by_port: dict[tuple, list] = {}
    for spb in service_backends(analysis.state):
        service = f"{spb.service.namespace}/{spb.service.name}"
        serving = [b for b in spb.backends if b.ready and b.target_port is not None]
        by_port.setdefault((service, spb.port.port, spb.port.protocol), []).extend(serving)
    out = []
    for (service, port, protocol), backends in sorted(by_port.items()):
        if not backends or not clients:
            continue
        if not any(index.reached_from(clients, backend_class(uni, b), PortSet.ports(b.protocol, b.target_port))
                   for b in backends):
            out.append(finding("service-unreachable", f"Service {service} port {port}/{protocol}: no client can reach "
                               "any of its backends", [f"Service {service}"],
                               "allow ingress to the backends' target port from the intended clients"))
    return out
