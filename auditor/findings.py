"""Findings: what is wrong or risky, as values with a stable code, a severity, the objects involved and a fix hint.

Every check is a pure function of an Analysis (ClusterState + PolicySet + the class matrix): no I/O, no printing.
`run_checks` runs the catalogue; renderers decide how findings are shown. Codes are stable: tools and baselines
key on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .engine.addresses import IPV4_ALL, IPV6_ALL, IpSet
from .engine.evaluate import Evaluator
from .engine.matrix import endpoint_id
from .model import NAMESPACE_NAME_LABEL
from .policy.ir import EGRESS, INGRESS, Action, AddressBlock, AnyEndpoint, AnyOf, PodSelection

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


CATALOGUE: dict[str, tuple[str, str]] = {
    # code: (severity, what it means)
    "no-ingress-isolation": ("medium", "pods that accept connections from anywhere: no policy selects them for "
                                      "ingress"),
    "no-egress-isolation": ("low", "pods that may connect anywhere: no policy selects them for egress"),
    "dns-blocked": ("high", "a pod that uses cluster DNS cannot reach it on 53/UDP"),
    "dns-tcp-blocked": ("medium", "DNS over TCP (large answers) is blocked"),
    "dns-partial": ("medium", "only some DNS backends are reachable"),
    "dns-unknown": ("low", "whether a pod can reach cluster DNS is unknown"),
    "dns-no-backends": ("high", "the DNS Service has no ready backends on port 53"),
    "dns-service-missing": ("info", "no DNS Service in the input: DNS reachability not checked"),
    "policy-selects-nothing": ("medium", "a policy whose selector matches no pod: it has no effect"),
    "peer-matches-nothing": ("medium", "a rule peer that matches no pod or namespace: the rule is dead"),
    "named-port-unresolved": ("medium", "a named port no destination pod declares: the rule matches nothing"),
    "rules-ignored": ("medium", "rules for a direction the policy does not apply to"),
    "ipblock-covers-cluster": ("medium", "an ipBlock that covers pod or Service addresses"),
    "service-unreachable": ("low", "a Service port that no client can reach"),
    "rule-shadowed": ("low", "a rule that can never match: an earlier rule takes all its traffic"),
    "allow-from-anywhere": ("medium", "an ingress allow from 0.0.0.0/0 or from every namespace"),
    "host-network-pod": ("info", "hostNetwork pods: pod policies do not govern them"),
    "unknown-verdicts": ("high", "verdicts left unknown because something could not be read"),
    "admin-policy-ignored": ("high", "an admin policy the cluster's Calico version does not enforce"),
    "admin-policy-portability": ("low", "admin policy kinds only some Calico versions enforce"),
    "anp-named-port": ("medium", "an ANP namedPort, which Calico v3.30-v3.31 widens to every port"),
    "admin-peer-unsupported": ("medium", "ANP nodes/domainNames peers: Calico does not convert them (fail closed)"),
    "calico-types-empty": ("medium", "a stored Calico policy without types: it applies to both directions"),
    "long-service-account": ("medium", "serviceAccounts.names with a name of 63+ characters: never matches"),
    "staged-policy": ("info", "staged policies are not enforced"),
    "unmodelled": ("medium", "a policy or field netaudit does not model: the verdicts it could change are unknown"),
}


def _f(code: str, message: str, objects=(), hint: str = "", **details) -> Finding:
    return Finding(code, CATALOGUE[code][0], message, tuple(objects), hint, details)


def check_isolation(analysis) -> list[Finding]:
    """Per namespace: pods no policy selects for ingress (or egress)."""
    evaluator = analysis.matrix.evaluator or Evaluator(analysis.universe, analysis.policies)
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
            out.append(_f(code, f"namespace {ns}: {len(workloads)} workload(s) {what}: no policy selects them for "
                          f"{direction} ({shown})", [f"Namespace {ns}"] + workloads,
                          f"add a default-deny {direction} NetworkPolicy to {ns} (podSelector: {{}}, policyTypes: "
                          f"[{direction.capitalize()}]) and allow what is needed"))
    return out


def check_dead_selectors(analysis) -> list[Finding]:
    evaluator = analysis.matrix.evaluator or Evaluator(analysis.universe, analysis.policies)
    uni = analysis.universe
    out = []
    for policy in analysis.policies.policies:
        if policy.tier == "netaudit-unreadable":
            continue
        yes, maybe = evaluator.mask(policy.selector)
        if not (yes | maybe) & uni.pod_mask:
            out.append(_f("policy-selects-nothing", f"{policy.label()} selects no pod: it has no effect",
                          [policy.label()], "check the selector's labels against the pods' labels"))
            continue
        for direction in (INGRESS, EGRESS):
            for rule in policy.rules(direction) or ():
                for option in _options(rule.peer):
                    if not isinstance(option, PodSelection):
                        continue
                    yes, maybe = evaluator.mask(option)
                    if (yes | maybe) & uni.pod_mask:
                        continue
                    hint = "check the labels"
                    if option.namespace is not None and option.namespace_selector is None:
                        hint = (f"a podSelector alone matches pods in {option.namespace} only: add a "
                                "namespaceSelector to reach pods in other namespaces")
                    elif option.namespace_selector is not None and not _namespace_matches(analysis, option):
                        hint = (f"no namespace has labels [{option.namespace_selector}]; every namespace has "
                                f"{NAMESPACE_NAME_LABEL}=<name>")
                    out.append(_f("peer-matches-nothing", f"{policy.label()} {rule.text or direction}: peer "
                                  f"{option.describe()} matches no pod: the rule allows nothing",
                                  [policy.label()], hint))
    return out


def _options(peer):
    return peer.options if isinstance(peer, AnyOf) else (peer,)


def _namespace_matches(analysis, selection: PodSelection) -> bool:
    return any(selection.namespace_selector.matches(ns.labels) for ns in analysis.state.namespaces.values())


def check_named_ports(analysis) -> list[Finding]:
    """A named port that no pod the rule can reach declares (ingress: the selected pods; egress: the peers)."""
    evaluator = analysis.matrix.evaluator or Evaluator(analysis.universe, analysis.policies)
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
                names = {(n, p) for i in uni.indices((yes | maybe) & uni.pod_mask)
                         for n, p, _ in uni.classes[i].info.named_ports}
                for protocol, name in rule.ports.named:
                    if not any(n == name and (protocol is None or p == protocol) for n, p in names):
                        where = "the pods it selects" if direction == INGRESS else "the peers it allows"
                        out.append(_f("named-port-unresolved", f"{policy.label()} {rule.text}: no container port "
                                      f"named {name!r}{'/' + protocol if protocol else ''} on {where}: it matches "
                                      "nothing", [policy.label()],
                                      "declare the name in the pods' containers[].ports (not only in an "
                                      "initContainer), or use the port number"))
    return out


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
                for option in _options(rule.peer):
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
                    out.append(_f("ipblock-covers-cluster", message, [policy.label()],
                                  "use pod/namespace selectors for cluster traffic, and add the pod and Service "
                                  "CIDRs to `except`" if wide else "use selectors for pods; target backends, "
                                  "not Service IPs", covered=covered))
    return out


def check_allow_from_anywhere(analysis) -> list[Finding]:
    out = []
    for policy in analysis.policies.policies:
        for rule in policy.rules(INGRESS) or ():
            if rule.action is not Action.ALLOW:
                continue
            for option in _options(rule.peer):
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
                    out.append(_f("allow-from-anywhere", f"{policy.label()} {rule.text}: allows ingress from "
                                  f"{anywhere} on {rule.ports.describe()}", [policy.label()],
                                  "narrow the source to the clients that need it"))
    return out


def check_rules_ignored(analysis) -> list[Finding]:
    return [_f("rules-ignored", a.message, [a.object], "add the direction to policyTypes (types), or remove the "
               "rules") for a in analysis.alerts if a.code == "rules-ignored"]


ALERT_FINDINGS = {  # alert codes raised while translating -> finding codes
    "admin-policy-ignored": "admin-policy-ignored", "anp-named-port": "anp-named-port",
    "admin-peer-not-converted": "admin-peer-unsupported", "calico-types-empty": "calico-types-empty",
    "long-service-account": "long-service-account", "unsupported-policy": "unmodelled",
    "unmodelled-field": "unmodelled", "admin-peer-unmodelled": "unmodelled",
}
ALERT_HINTS = {
    "admin-policy-ignored": "use the policy API this Calico version implements (ClusterNetworkPolicy from v3.32)",
    "anp-named-port": "use portNumber or portRange until Calico converts named ports",
    "admin-peer-unsupported": "use `networks` CIDRs for node or external addresses",
    "calico-types-empty": "set spec.types explicitly (calicoctl and the Calico API server default it for you)",
    "long-service-account": "select the service account by label (serviceAccounts.selector) instead",
    "unmodelled": "see the warning: verify these flows with `netaudit verify`",
}


def check_policy_api_support(analysis) -> list[Finding]:
    """What the cluster's Calico enforces differently from the policy as written (docs/semantics.md
    ADM-V1..ADM-V4), said as findings whether or not the Calico version is known."""
    from .policy.admin import parse_version
    out = [_f(ALERT_FINDINGS[a.code], a.message, [a.object], ALERT_HINTS[ALERT_FINDINGS[a.code]])
           for a in analysis.alerts if a.code in ALERT_FINDINGS]
    version = parse_version(analysis.options.calico_version or analysis.state.calico_version)
    if version is None:
        kinds = sorted({p.kind for p in analysis.state.policies if p.group == "policy.networking.k8s.io"})
        if kinds:
            out.append(_f("admin-policy-portability", f"{', '.join(kinds)} in use and the Calico version is unknown: "
                          "Calico enforces AdminNetworkPolicy from v3.29, BaselineAdminNetworkPolicy from v3.30, "
                          "both only until v3.31, and ClusterNetworkPolicy from v3.32", kinds,
                          "pass --calico-version X.Y (live clusters report theirs) to judge as that version does"))
        for obj in analysis.state.policies:
            if obj.kind != "AdminNetworkPolicy" or not isinstance(obj.spec, dict):
                continue
            text = repr(obj.spec)
            if "'namedPort'" in text:
                out.append(_f("anp-named-port", f"{obj.ref.located()}: namedPort: Calico v3.30-v3.31 converts it "
                              "with no port, so the rule matches every port and protocol there", [str(obj.ref)],
                              ALERT_HINTS["anp-named-port"]))
            if "'nodes'" in text or "'domainNames'" in text:
                out.append(_f("admin-peer-unsupported", f"{obj.ref.located()}: a nodes or domainNames peer: Calico "
                              "does not convert it, so the rule fails closed there (Allow matches nothing, Deny or "
                              "Pass denies all)", [str(obj.ref)], ALERT_HINTS["admin-peer-unsupported"]))
    staged = [str(p.ref) for p in analysis.state.policies if p.kind.startswith("Staged")]
    if staged and not analysis.options.promote_staged:
        out.append(_f("staged-policy", f"{len(staged)} staged policy(ies) are not enforced: {', '.join(staged[:5])}",
                      staged, "preview them with --promote-staged; promote them in Calico to enforce them"))
    return out


def check_host_network(analysis) -> list[Finding]:
    pods = sorted(p.id for p in analysis.state.pods if p.host_network)
    if not pods:
        return []
    shown = ", ".join(pods[:5]) + (f" and {len(pods) - 5} more" if len(pods) > 5 else "")
    return [_f("host-network-pod", f"{len(pods)} hostNetwork pod(s) ({shown}): pod policies do not apply to them, "
               "and peer selectors never match them (only ipBlocks on the node IP do)", pods,
               "govern them with Calico host endpoint policy, or move them off the host network")]


def check_unknown(analysis) -> list[Finding]:
    out = []
    for item in analysis.state.unreadable:
        out.append(_f("unknown-verdicts", f"could not read {item.resource}"
                      f"{' in ' + item.namespace if item.namespace else ''} ({item.reason}): the verdicts that "
                      "depend on it are unknown", [item.resource],
                      "grant read access (deploy/rbac.yaml lists what netaudit needs)"))
    unknown_pairs = sum(1 for b in analysis.matrix.blocks if b.unknown)
    if unknown_pairs and not out:
        reasons = sorted({r for b in analysis.matrix.blocks for r in b.reasons})
        out.append(_f("unknown-verdicts", f"some verdicts are unknown: {'; '.join(reasons[:3])}"
                      + (f" and {len(reasons) - 3} more" if len(reasons) > 3 else ""), [],
                      "see the warnings: fix or remove what could not be read"))
    return out


def check_rule_shadowing(analysis) -> list[Finding]:
    """Within one policy, a rule whose peers and ports are all taken by an earlier final rule can never match."""
    evaluator = analysis.matrix.evaluator or Evaluator(analysis.universe, analysis.policies)
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
                    out.append(_f("rule-shadowed", f"{policy.label()} {rule.text}: never matches: "
                                  f"{earlier.text} ({earlier.action.value}) already takes all its traffic",
                                  [policy.label()], "reorder or remove the rule"))
                    break
    return out


def check_services(analysis) -> list[Finding]:
    from .engine.services import reachability
    by_port: dict[tuple, list] = {}
    for r in reachability(analysis, "workload"):
        by_port.setdefault((r.service, r.port.port, r.port.protocol), []).append(r)
    out = []
    for (service, port, protocol), results in sorted(by_port.items()):
        backends = results[0].reachable + results[0].unreachable + results[0].unknown
        if not backends:
            continue
        if all(r.status == "none" for r in results):
            out.append(_f("service-unreachable", f"Service {service} port {port}/{protocol}: no client can reach "
                          "any of its backends", [f"Service {service}"],
                          "allow ingress to the backends' target port from the intended clients"))
    return out


CHECKS: tuple[Callable, ...] = (check_unknown, check_isolation, check_dead_selectors, check_named_ports,
                                check_rules_ignored, check_ipblocks, check_allow_from_anywhere, check_rule_shadowing,
                                check_services, check_host_network, check_policy_api_support)


def run_checks(analysis) -> list[Finding]:
    from .dns.reachability import dns_findings
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(analysis))
    findings.extend(dns_findings(analysis))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (order[f.severity], f.code, f.message))
    return findings
