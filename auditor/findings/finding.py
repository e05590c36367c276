"""The Finding value and the catalogue of codes: what every check returns, and what renderers and baselines read.

Codes are stable (tools and baselines key on them); the severity of a code is fixed here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..policy.ir import AnyOf

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
    "input-skipped": ("high", "a file, document, object or field of the input that could not be read: the audit is "
                              "incomplete"),
    "admin-policy-ignored": ("high", "an admin policy the cluster's Calico version does not enforce"),
    "admin-policy-portability": ("low", "admin policy kinds only some Calico versions enforce"),
    "anp-named-port": ("medium", "an ANP namedPort, which Calico v3.30-v3.31 widens to every port"),
    "admin-peer-unsupported": ("medium", "ANP nodes/domainNames peers: Calico does not convert them (fail closed)"),
    "calico-types-empty": ("medium", "a stored Calico policy without types: it applies to both directions"),
    "staged-policy": ("info", "staged policies are not enforced"),
    "unmodelled": ("medium", "a policy or field netaudit does not model: the verdicts it could change are unknown"),
    "exposed-to-internet": ("medium", "a workload the internet can reach, and the path (LoadBalancer, NodePort, "
                                      "Ingress, Gateway route)"),
    "route-blocked-by-policy": ("high", "an Ingress or Gateway route whose controller the policies keep from its "
                                        "backend: the route cannot work"),
    "exposed-to-future-pods": ("medium", "a rule that admits every namespace (or every pod of every namespace), "
                                         "including namespaces created later"),
    "nodeport-bypasses-policy": ("high", "externalTrafficPolicy Cluster: kube-proxy's SNAT to a node address lets "
                                         "clients the policy keeps out reach the pod"),
}


def finding(code: str, message: str, objects=(), hint: str = "", **details) -> Finding:
    """A Finding with the severity the catalogue gives its code."""
    return Finding(code, CATALOGUE[code][0], message, tuple(objects), hint, details)


def peer_options(peer):
    """The alternatives of a rule's peer (a rule with several `from`/`to` entries matches any of them)."""
    return peer.options if isinstance(peer, AnyOf) else (peer,)
