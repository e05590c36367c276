"""ClusterState policies -> PolicySet: dispatch every policy object to the translator of its API.

Order of work: Calico network sets and tiers first (rule selectors match network sets; policies sort by tier),
then every policy. Staged policies never enforce; with `promote_staged` each replaces the enforced policy of the
same name (stagedAction Set) or removes it (stagedAction Delete), as a preview of promoting it.

Policy kinds that netaudit does not model are not ignored: each becomes a policy that may select anything in its
scope and may allow or deny anything, so the verdicts it could change are reported `unknown` with the reason.
The same applies to policy resources the source could not read (`ClusterState.unreadable`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..model import Alert, ClusterState, ObjectRef, PolicyObject
from .admin import ADMIN_TIERS, parse_version, translate_admin_policy
from .calico import (
    CalicoContext,
    is_calico,
    translate_calico_policy,
    translate_host_endpoint,
    translate_network_set,
    translate_staged_kubernetes,
    translate_tier,
)
from .ir import ANY, DEFAULT_TIER, Action, AllOf, PodSelection, Policy, PolicySet, Rule, Tier, UnknownEndpoint
from .kubernetes import Translation, translate_network_policy

ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
UNMODELLED_CALICO = ("HostEndpoint", "Profile")

# A tier for what we cannot see, placed before everything, whose default lets the real tiers decide.
UNREADABLE_TIER = Tier("netaudit-unreadable", -1.0, Action.PASS)


@dataclass(frozen=True)
class TranslateOptions:
    promote_staged: bool = False
    calico_version: str | None = None


def translate(state: ClusterState, options: TranslateOptions = TranslateOptions()) -> tuple[PolicySet, list[Alert]]:
    alerts: list[Alert] = []
    policies = PolicySet(tiers={DEFAULT_TIER.name: DEFAULT_TIER}, policies=[])
    calico_version = options.calico_version or state.calico_version

    network_sets = []
    host_endpoints = []
    for obj in state.policies:
        try:
            if is_calico(obj) and obj.kind == "HostEndpoint":
                hep, found, nets = translate_host_endpoint(obj)
                alerts.extend(found)
                host_endpoints.append(hep)
                policies.networks |= nets  # a region of its own, so selectors can tell its addresses apart
                policies.uses_ipv6 = policies.uses_ipv6 or any(n.version == 6 for n in nets)
            elif is_calico(obj) and obj.kind in ("NetworkSet", "GlobalNetworkSet"):
                info, found, nets = translate_network_set(obj)
                alerts.extend(found)
                network_sets.append(info)
                policies.networks |= nets
                policies.uses_ipv6 = policies.uses_ipv6 or any(n.version == 6 for n in nets)
            elif is_calico(obj) and obj.kind == "Tier":
                tier, found = translate_tier(obj)
                alerts.extend(found)
                policies.tiers[tier.name] = tier
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            alerts.append(Alert("invalid-object", f"{obj.ref.located()}: could not be read ({type(err).__name__}: "
                                f"{err}); skipped: rules that select it by its labels cannot see its addresses",
                                str(obj.ref), "error", obj.source))
    ctx = CalicoContext(tuple(network_sets), {name: dict(ns.labels) for name, ns in state.namespaces.items()},
                        frozenset(name for name, ns in state.namespaces.items() if not ns.labels_known),
                        tuple(host_endpoints), parse_version(calico_version))
    policies.host_endpoints = [(hep.addresses, hep.reason) for hep in host_endpoints if hep.addresses]

    enforced: list[Policy] = []
    staged: list[tuple[PolicyObject, Policy | None]] = []
    hosts_reported = [False]

    def dispatch(obj: PolicyObject):
        """The translation of one policy object, or None when it needs none (sets, tiers, host endpoints)."""
        if obj.kind == "NetworkPolicy" and obj.api_version == "networking.k8s.io/v1":
            return translate_network_policy(obj)
        if obj.kind in ADMIN_KINDS and obj.group == "policy.networking.k8s.io":
            result = translate_admin_policy(obj, calico_version)
            if result.policy is not None:
                tier = next(t for t in ADMIN_TIERS if t.name == result.policy.tier)
                policies.tiers.setdefault(tier.name, tier)
            return result
        if is_calico(obj) and obj.kind in ("NetworkSet", "GlobalNetworkSet", "Tier"):
            return None
        if is_calico(obj) and obj.kind == "StagedKubernetesNetworkPolicy":
            return translate_staged_kubernetes(obj)
        if is_calico(obj) and obj.kind in ("NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy",
                                           "StagedGlobalNetworkPolicy"):
            result = translate_calico_policy(obj, ctx)
            if result.policy is not None and result.policy.tier not in policies.tiers:
                alerts.append(Alert("unknown-tier", f"{obj.ref.located()}: tier {result.policy.tier!r} is not "
                                    "defined (Calico refuses such a policy); it is evaluated in a tier that sorts "
                                    "last with default Deny", str(obj.ref)))
                policies.tiers[result.policy.tier] = Tier(result.policy.tier, None, Action.DENY)
            return result
        if is_calico(obj) and obj.kind in UNMODELLED_CALICO:
            if not hosts_reported[0]:
                alerts.append(Alert("host-endpoints-unmodelled", f"{obj.ref.located()}: {obj.kind} objects are read "
                                    "but their policy is not modelled: rule selectors match a HostEndpoint's "
                                    "expectedIPs, and traffic to and from those addresses is unknown on the host's "
                                    "side", str(obj.ref)))
                hosts_reported[0] = True
            return None
        reason = f"{obj.kind} ({obj.api_version}) is not modelled"
        alerts.append(Alert("unsupported-policy", f"{obj.ref.located()}: {reason}: the verdicts it could change "
                            "are reported as unknown", str(obj.ref)))
        return Translation(_unknown_scope_policy(obj.ref, obj.namespace, reason))

    for obj in state.policies:
        try:
            result = dispatch(obj)
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            # A field of a type the API server would have refused, deep in the spec: the policy cannot be read,
            # so everything it could change is unknown (never silently allowed or denied).
            text = f"could not be read ({type(err).__name__}: {err})"
            alerts.append(Alert("invalid-object", f"{obj.ref.located()}: {text}; the verdicts it could change are "
                                "unknown", str(obj.ref), "error", obj.source))
            result = Translation(_unknown_scope_policy(obj.ref, obj.namespace, f"{obj.ref}: {text}"))
        if result is None:
            continue
        alerts.extend(result.alerts)
        policies.networks |= result.networks
        policies.uses_ipv6 = policies.uses_ipv6 or result.uses_ipv6
        if obj.kind.startswith("Staged"):
            staged.append((obj, result.policy))
        elif result.policy is not None:
            enforced.append(result.policy)

    if options.promote_staged:
        for obj, policy in staged:
            target = _enforced_counterpart(obj)
            enforced = [p for p in enforced if (p.ref.kind, p.ref.namespace, p.ref.name) != target]
            if policy is not None:
                enforced.append(replace(policy, staged=False))
    policies.policies = enforced
    if parse_version(calico_version) is None:
        alerts.extend(order_depends_on_version(enforced))

    for item in state.unreadable:
        where = f" in namespace {item.namespace}" if item.namespace else ""
        reason = f"could not read {item.resource}{where}: {item.reason}"
        if _is_policy_resource(item.resource):
            ref = ObjectRef("Unreadable", item.resource, item.namespace, "live")
            policies.policies.append(_unknown_scope_policy(ref, item.namespace, reason))
    if any(p.tier == UNREADABLE_TIER.name for p in policies.policies):
        policies.tiers[UNREADABLE_TIER.name] = UNREADABLE_TIER
    return policies, alerts


def order_depends_on_version(policies: list[Policy]) -> list[Alert]:
    """Policies of equal order in one tier whose order flips with the Calico version (v3.32 stopped storing
    projectcalico.org/v3 policies of the default tier as `default.<name>`): the verdicts are computed as v3.29-v3.31
    store them, and this says where --calico-version would change that."""
    def key(policy: Policy, stored: bool) -> str:
        name = (policy.key_name if stored else "") or policy.name or str(policy.ref)
        return f"{policy.ref.namespace}/{name}" if policy.name and policy.ref.namespace else name

    by_place: dict[tuple, list[Policy]] = {}
    for policy in policies:
        by_place.setdefault((policy.tier, policy.order), []).append(policy)
    out = []
    for (tier, order), group in by_place.items():
        renamed = [p for p in group if p.key_name]
        if order is None or not renamed or len(group) < 2:
            continue
        for a in renamed:
            for b in group:
                if a is b or (key(a, True) < key(b, True)) == (key(a, False) < key(b, False)):
                    continue
                out.append(Alert("order-depends-on-version", f"{a.ref.located()} and {b.label()} have the same order "
                                 f"({order:g}) in tier {tier}: Calico up to v3.31 stores the first as "
                                 f"{a.key_name!r} and runs them in that name's order, v3.32 in the written "
                                 "names' order; judged as up to v3.31 (pass --calico-version to choose)",
                                 str(a.ref)))
    return out


def _enforced_counterpart(obj: PolicyObject) -> tuple:
    kind = {"StagedNetworkPolicy": "NetworkPolicy", "StagedGlobalNetworkPolicy": "GlobalNetworkPolicy",
            "StagedKubernetesNetworkPolicy": "NetworkPolicy"}[obj.kind]
    return (kind, obj.namespace, obj.name)


def _is_policy_resource(resource: str) -> bool:
    return any(word in resource for word in ("networkpolic", "networkset", "tiers"))


def _unknown_scope_policy(ref: ObjectRef, namespace: str | None, reason: str) -> Policy:
    """May select any endpoint in scope, and for those may do anything, in both directions."""
    unknown = UnknownEndpoint(reason)
    scope = PodSelection(namespace=namespace) if namespace else ANY
    rule = (Rule(Action.ALLOW, unknown, index=0, text="(not modelled)"),
            Rule(Action.DENY, unknown, index=1, text="(not modelled)"))
    return Policy(ref=ref, tier=UNREADABLE_TIER.name, order=None, selector=AllOf((scope, unknown)),
                  ingress=rule, egress=rule, name=f"unmodelled.{ref.kind}.{ref.name}")
