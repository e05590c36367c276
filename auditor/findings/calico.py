"""What the cluster's Calico enforces differently from the policy as written (docs/semantics.md ADM-V1..ADM-V4,
admin policies by Calico version), and policies that are not enforced at all (staged) or not modelled.
"""

from __future__ import annotations

from .finding import Finding, finding

ALERT_FINDINGS = {  # alert codes raised while translating -> finding codes
    "admin-policy-ignored": "admin-policy-ignored", "anp-named-port": "anp-named-port",
    "admin-peer-not-converted": "admin-peer-unsupported", "calico-types-empty": "calico-types-empty",
"unsupported-policy": "unmodelled",
    "unmodelled-field": "unmodelled", "admin-peer-unmodelled": "unmodelled",
}

ALERT_HINTS = {
    "admin-policy-ignored": "use the policy API this Calico version implements (ClusterNetworkPolicy from v3.32)",
    "anp-named-port": "use portNumber or portRange until Calico converts named ports",
    "admin-peer-unsupported": "use `networks` CIDRs for node or external addresses",
    "calico-types-empty": "set spec.types explicitly (calicoctl and the Calico API server default it for you)",
    "unmodelled": "see the warning: verify these flows with `netaudit verify`",
}


def check_policy_api_support(analysis) -> list[Finding]:
    """What the cluster's Calico enforces differently from the policy as written (docs/semantics.md
    ADM-V1..ADM-V4), said as findings whether or not the Calico version is known."""
    from ..policy.admin import parse_version
    out = [finding(ALERT_FINDINGS[a.code], a.message, [a.object], ALERT_HINTS[ALERT_FINDINGS[a.code]])
           for a in analysis.alerts if a.code in ALERT_FINDINGS]
    version = parse_version(analysis.options.calico_version or analysis.state.calico_version)
    if version is None:
        kinds = sorted({p.kind for p in analysis.state.policies if p.group == "policy.networking.k8s.io"})
        if kinds:
            out.append(finding("admin-policy-portability", f"{', '.join(kinds)} in use and the Calico version is "
                               "unknown: Calico enforces AdminNetworkPolicy from v3.29, BaselineAdminNetworkPolicy "
                               "from v3.30, both only until v3.31, and ClusterNetworkPolicy from v3.32", kinds,
                               "pass --calico-version X.Y (live clusters report theirs) to judge as that version does"))
        for obj in analysis.state.policies:
            if obj.kind != "AdminNetworkPolicy" or not isinstance(obj.spec, dict):
                continue
            text = repr(obj.spec)
            if "'namedPort'" in text:
                out.append(finding("anp-named-port", f"{obj.ref.located()}: namedPort: Calico v3.30-v3.31 converts it "
                                   "with no port, so the rule matches every port and protocol there", [str(obj.ref)],
                                   ALERT_HINTS["anp-named-port"]))
            if "'nodes'" in text or "'domainNames'" in text:
                out.append(finding("admin-peer-unsupported", f"{obj.ref.located()}: a nodes or domainNames peer: "
                                   "Calico does not convert it and fails the whole rule there, its other peers "
                                   "included (an Allow rule is dropped, a Deny or Pass rule denies all)",
                                   [str(obj.ref)], ALERT_HINTS["admin-peer-unsupported"]))
    staged = [str(p.ref) for p in analysis.state.policies if p.kind.startswith("Staged")]
    if staged and not analysis.options.promote_staged:
        out.append(finding("staged-policy", f"{len(staged)} staged policy(ies) are not enforced: "
                           f"{', '.join(staged[:5])}", staged,
                           "preview them with --promote-staged; promote them in Calico to enforce them"))
    return out
