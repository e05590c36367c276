"""ClusterState policies -> PolicySet: dispatch every policy object to the translator of its API.

Policy kinds that netaudit does not model yet are not ignored: each becomes a policy that may select anything in
its scope and may allow or deny anything, so the verdicts it could change are reported `unknown` with the reason.
The same applies to policy resources the source could not read (`ClusterState.unreadable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Alert, ClusterState, ObjectRef
from .admin import ADMIN_TIERS, translate_admin_policy
from .ir import ANY, DEFAULT_TIER, Action, AllOf, PodSelection, Policy, PolicySet, Rule, Tier, UnknownEndpoint
from .kubernetes import translate_network_policy

ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")

# A tier for what we cannot see, placed before everything, whose default lets the real tiers decide.
UNREADABLE_TIER = Tier("netaudit-unreadable", -1.0, Action.PASS)


@dataclass(frozen=True)
class TranslateOptions:
    promote_staged: bool = False
    calico_version: str | None = None


def translate(state: ClusterState, options: TranslateOptions = TranslateOptions()) -> tuple[PolicySet, list[Alert]]:
    alerts: list[Alert] = []
    policies = PolicySet(tiers={DEFAULT_TIER.name: DEFAULT_TIER}, policies=[])
    for obj in state.policies:
        if obj.kind == "NetworkPolicy" and obj.api_version == "networking.k8s.io/v1":
            result = translate_network_policy(obj)
            alerts.extend(result.alerts)
            if result.policy is not None:
                policies.policies.append(result.policy)
            policies.networks |= result.networks
            policies.uses_ipv6 = policies.uses_ipv6 or result.uses_ipv6
        elif obj.kind in ADMIN_KINDS and obj.group == "policy.networking.k8s.io":
            result = translate_admin_policy(obj, options.calico_version or state.calico_version)
            alerts.extend(result.alerts)
            if result.policy is not None:
                policies.policies.append(result.policy)
                tier = next(t for t in ADMIN_TIERS if t.name == result.policy.tier)
                policies.tiers.setdefault(tier.name, tier)
            policies.networks |= result.networks
            policies.uses_ipv6 = policies.uses_ipv6 or result.uses_ipv6
        else:
            reason = f"{obj.kind} ({obj.api_version}) is not modelled yet"
            alerts.append(Alert("unsupported-policy", f"{obj.ref.located()}: {reason}: the verdicts it could change "
                                "are reported as unknown", str(obj.ref)))
            policies.policies.append(_unknown_scope_policy(obj.ref, obj.namespace, reason))
    for item in state.unreadable:
        where = f" in namespace {item.namespace}" if item.namespace else ""
        reason = f"could not read {item.resource}{where}: {item.reason}"
        if _is_policy_resource(item.resource):
            ref = ObjectRef("Unreadable", item.resource, item.namespace, "live")
            policies.policies.append(_unknown_scope_policy(ref, item.namespace, reason))
    if any(p.tier == UNREADABLE_TIER.name for p in policies.policies):
        policies.tiers[UNREADABLE_TIER.name] = UNREADABLE_TIER
    return policies, alerts


def _is_policy_resource(resource: str) -> bool:
    return any(word in resource for word in ("networkpolic", "networkset", "tiers", "hostendpoint"))


def _unknown_scope_policy(ref: ObjectRef, namespace: str | None, reason: str) -> Policy:
    """May select any endpoint in scope, and for those may do anything, in both directions."""
    unknown = UnknownEndpoint(reason)
    scope = PodSelection(namespace=namespace) if namespace else ANY
    rule = (Rule(Action.ALLOW, unknown, index=0, text="(not modelled)"),
            Rule(Action.DENY, unknown, index=1, text="(not modelled)"))
    return Policy(ref=ref, tier=UNREADABLE_TIER.name, order=None, selector=AllOf((scope, unknown)),
                  ingress=rule, egress=rule, name=f"unmodelled.{ref.kind}.{ref.name}")
