"""Calico policies (projectcalico.org/v3 and crd.projectcalico.org/v1) -> IR, matching what Felix enforces.

How Calico matches, as read in libcalico-go (updateprocessors/rules.go, networksetprocessor.go) and Felix:
- A rule's source/destination selector matches *IP addresses*: those of workload endpoints whose labels match, and
  the CIDRs of NetworkSets / GlobalNetworkSets whose labels match (docs/semantics.md CAL-C7, CAL-C13). So
  `selector: all()` is not "any address", and a pod whose IP lies in a matching NetworkSet is matched through that
  set.
- Endpoint labels are the pod's labels plus `projectcalico.org/namespace`, `projectcalico.org/orchestrator`,
  `projectcalico.org/serviceaccount` (names under 63 characters), and the inherited `pcns.<namespace label>`,
  `pcns.projectcalico.org/name`, `pcsa.<service account label>`, `pcsa.projectcalico.org/name` (CAL-C4).
- In a namespaced policy, a rule that uses selector, notSelector or serviceAccounts without namespaceSelector is
  limited to the policy's namespace; nets-only rules are not (CAL-C7). A namespaceSelector is evaluated on namespace
  labels (Calico prefixes them `pcns.`), with `all()` meaning "any namespaced endpoint" and `global()` "any
  non-namespaced one" (GlobalNetworkSets, host endpoints). `notSelector` is never namespace-limited.
- `types` default (CAL-C9): egress rules only -> [Egress]; otherwise [Ingress] (+ Egress when egress rules exist).
- Order: policies by `order` (missing sorts last), then name; tiers likewise, each with its default action.
Staged policies are kept but do not enforce unless --promote-staged.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from ..model import NAMESPACE_NAME_LABEL, Alert, PolicyObject
from ..sets.addresses import IpSet, parse_network
from ..sets.ports import ICMP, ICMPV6, PORT_PROTOCOLS, PortSet, canonical_protocol, protocol_number_set
from .ir import (
    ANY,
    DEFAULT_TIER,
    EGRESS,
    INGRESS,
    Action,
    AllOf,
    EndpointInfo,
    Policy,
    PortSpec,
    Rule,
    Tier,
    Tri,
    UnknownEndpoint,
    tri_and,
    tri_or,
)
from .kubernetes import InvalidField, Translation, translate_network_policy
from .selector import SelectorSyntaxError, parse

CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")
POLICY_KINDS = ("NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy")
SET_KINDS = ("NetworkSet", "GlobalNetworkSet")
ACTIONS = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS, "Log": Action.LOG}


# --- identities: what Calico selectors see of an address ----------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """A labelled thing an address belongs to: a workload endpoint or a (global) network set."""

    labels: Mapping[str, str]
    namespace: str | None  # None: non-namespaced (GlobalNetworkSet)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    service_account: str | None = None
    service_account_labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels_known: bool = True  # False: no Namespace object was read, only the name is sure (NA-M1)
    host_endpoint: str | None = None  # the HostEndpoint this is (netaudit does not model host endpoints)
    labels_known: bool = True  # False: profiles may add labels netaudit did not read (a HostEndpoint's)


@dataclass(frozen=True)
class NetworkSetInfo:
    name: str
    namespace: str | None
    labels: Mapping[str, str]
    addresses: IpSet = field(compare=False, hash=False, default_factory=IpSet)

    def identity(self, namespace_labels: Mapping[str, str], labels_known: bool = True) -> Identity:
        labels = dict(self.labels)
        if self.namespace is not None:
            labels["projectcalico.org/namespace"] = self.namespace
            # Namespaced network sets carry the namespace profile, so they inherit its pcns.* labels.
            labels.update(_prefixed("pcns.", namespace_labels, self.namespace))
        return Identity(labels, self.namespace, namespace_labels, namespace_labels_known=labels_known)


@dataclass(frozen=True)
class HostEndpointInfo:
    """A HostEndpoint as rule selectors see it: its labels and its expectedIPs, the addresses Calico puts in a
    selector's IP set for it (hostendpoint.go ExpectedIPs; felix/labelindex extractCIDRsFromHostEndpoint). Its
    profiles may add labels (Profile objects are not read). Its own policy is not modelled: the engine judges the
    host's side of traffic to or from these addresses `unknown` (PolicySet.host_endpoints)."""

    name: str
    labels: Mapping[str, str]
    addresses: IpSet = field(compare=False, hash=False, default_factory=IpSet)
    has_profiles: bool = False

    def identity(self) -> Identity:
        return Identity(dict(self.labels), None, host_endpoint=self.name, labels_known=not self.has_profiles)

    @property
    def reason(self) -> str:
        return (f"HostEndpoint {self.name} ({', '.join(str(n) for n in self.addresses.networks())}): its own policy "
                "is not modelled, so traffic of its addresses is not judged on the host's side")

    @property
    def profile_reason(self) -> str:
        return f"HostEndpoint {self.name} has profiles: the labels they add are not read"


def _prefixed(prefix: str, labels: Mapping[str, str], name: str) -> dict[str, str]:
    out = {prefix + k: v for k, v in labels.items()}
    out[prefix + "projectcalico.org/name"] = name
    return out


def workload_identity(ep: EndpointInfo) -> Identity | None:
    """The labels Calico gives the workload endpoint of a pod class; None for hostNetwork pods (no endpoint)."""
    if ep.external or ep.host_network:
        return None
    labels = dict(ep.labels)
    labels["projectcalico.org/namespace"] = ep.namespace
    labels["projectcalico.org/orchestrator"] = "k8s"
    # Felix's syncer sets the label from the endpoint's service account whatever the name's length (CAL-C4:
    # updateprocessors/workloadendpointprocessor.go, calico issue #4529; the stored WorkloadEndpoint's own <63 check
    # does not reach Felix).
    if ep.service_account:
        labels["projectcalico.org/serviceaccount"] = ep.service_account
    labels.update(_prefixed("pcns.", ep.namespace_labels, ep.namespace))
    if ep.service_account:
        labels.update(_prefixed("pcsa.", ep.service_account_labels, ep.service_account))
    return Identity(labels, ep.namespace, ep.namespace_labels, ep.service_account, ep.service_account_labels,
                    ep.namespace_labels_known)


def identities(ep: EndpointInfo, network_sets: tuple[NetworkSetInfo, ...],
               namespace_labels: Mapping[str, Mapping[str, str]],
               unread_namespaces: frozenset[str] = frozenset(),
               host_endpoints: tuple[HostEndpointInfo, ...] = ()) -> tuple[Identity, ...]:
    """Everything an endpoint's address belongs to: its own workload endpoint, the network sets covering it and
    the host endpoints that expect it."""
    found = []
    own = workload_identity(ep)
    if own is not None:
        found.append(own)
    for ns in network_sets:
        if ep.addresses and (ep.addresses & ns.addresses):
            if ns.namespace:
                found.append(ns.identity(namespace_labels.get(ns.namespace, {}),
                                         ns.namespace in namespace_labels and ns.namespace not in unread_namespaces))
            else:
                found.append(ns.identity({}))
    for hep in host_endpoints:
        if ep.addresses and (ep.addresses & hep.addresses):
            found.append(hep.identity())
    return tuple(found)


def _holds(selector, labels: Mapping[str, str]) -> bool:
    """Evaluate as Felix does: `all()` and `global()` are both true. (Their namespace meaning exists only in a
    namespaceSelector, where Calico rewrites them to has(projectcalico.org/namespace) before parsing: see
    _parse_ns_selector.)"""
    return selector.evaluate(labels, namespaced=False)


# Namespace labels that are known even when no Namespace object was read: the name, as Calico and the API server
# set it (CAL-C4, K8S-A14). Every other namespace label may be absent or hold any value (NA-M1).
_NAME_KEYS = frozenset(["projectcalico.org/name", "projectcalico.org/namespace", NAMESPACE_NAME_LABEL])
_PCNS_NAME_KEYS = frozenset("pcns." + k for k in _NAME_KEYS)
NAMESPACE_LABELS_UNKNOWN = "namespace labels unknown: no Namespace object was read for some namespace"


def _unread_namespace_label(key: str) -> bool:
    return key not in _NAME_KEYS


def _unread_pcns_label(key: str) -> bool:
    return key.startswith("pcns.") and key not in _PCNS_NAME_KEYS


def _holds_tri(selector, labels: Mapping[str, str], labels_known: bool, unknown) -> Tri:
    """`_holds`, when the namespace labels behind `labels` may not have been read: None where they could decide."""
    if labels_known:
        return selector.evaluate(labels, namespaced=False)
    return selector.evaluate_unknown(labels, unknown, namespaced=False)


def _selector_holds(selector, ident: Identity) -> Tri:
    """A selector over an identity's own labels, three-valued: its namespace's or its profiles' labels may be
    unread."""
    if not ident.labels_known:
        labels = ident.labels
        return selector.evaluate_unknown(labels, lambda key: key not in labels, namespaced=False)
    return _holds_tri(selector, ident.labels, ident.namespace_labels_known, _unread_pcns_label)


def selector_holds(selector, ident: Identity) -> Tri:
    """Whether a rule selector holds for an identity (a network set's, a host endpoint's), three-valued: for the
    exposure engine, which reads identities the way CalicoEntity.match does."""
    return _selector_holds(selector, ident)


# --- matchers -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalicoEntity:
    """One side of a Calico rule (source or destination EntityRule), as Felix matches it by address."""

    selector: object = None  # Selector over the identity's full labels
    not_selector: object = None
    namespace: str | None = None  # limit to this namespace (namespaced policy, selector used, no nsSelector)
    namespace_selector: object = None  # Selector over namespace labels (all()/global() already rewritten)
    sa_selector: object = None  # Selector over service-account labels
    sa_names: frozenset[str] | None = None
    nets: tuple = ()
    not_nets: tuple = ()
    ip_version: int | None = None
    context: "CalicoContext | None" = field(default=None, compare=False, hash=False)
    text: str = field(default="", compare=False)

    @property
    def uses_identity(self) -> bool:
        return any(x is not None for x in (self.selector, self.namespace_selector, self.sa_selector,
                                           self.sa_names)) or self.namespace is not None

    @cached_property
    def net_set(self) -> IpSet:
        return IpSet.of(*self.nets)

    @cached_property
    def not_net_set(self) -> IpSet:
        return IpSet.of(*self.not_nets)

    @property
    def pod_label_keys(self) -> frozenset[str]:
        keys: set[str] = set()
        for sel in (self.selector, self.not_selector):
            if sel is not None:
                keys |= sel.label_keys
        return frozenset(keys)

    @cached_property
    def unknown_reasons(self) -> frozenset[str]:
        reasons = set()
        if self.namespace_selector is not None or any(
                sel is not None and any(_unread_pcns_label(k) for k in sel.label_keys)
                for sel in (self.selector, self.not_selector)):
            reasons.add(NAMESPACE_LABELS_UNKNOWN)
        for hep in self.context.host_endpoints if self.context is not None else ():
            if hep.has_profiles:
                reasons.add(hep.profile_reason)
        return frozenset(reasons)

    def _identity_matches(self, ident: Identity) -> Tri:
        if self.namespace is not None and ident.namespace != self.namespace:
            return False
        result: Tri = True
        if self.namespace_selector is not None:
            ns_labels = dict(ident.namespace_labels)
            if ident.namespace is not None:
                ns_labels["projectcalico.org/name"] = ident.namespace
                ns_labels["projectcalico.org/namespace"] = ident.namespace
            result = _holds_tri(self.namespace_selector, ns_labels, ident.namespace_labels_known,
                                _unread_namespace_label)
            if result is False:
                return False
        if self.sa_selector is not None or self.sa_names is not None:
            if ident.service_account is None:
                sa_labels: dict = {}
            else:
                sa_labels = dict(ident.service_account_labels)
                sa_labels["projectcalico.org/name"] = ident.service_account
            if self.sa_selector is not None and not _holds(self.sa_selector, sa_labels):
                return False
            if self.sa_names is not None:
                label = ident.labels.get("projectcalico.org/serviceaccount")
                if label is None or label not in self.sa_names:
                    return False
        if self.selector is not None:
            result = tri_and(result, _selector_holds(self.selector, ident))
        return result

    def match(self, ep: EndpointInfo) -> Tri:
        if self.ip_version is not None and not _has_version(ep.addresses, self.ip_version):
            return False
        if self.nets and not (ep.addresses & self.net_set):
            return False
        if self.not_nets and ep.addresses and (ep.addresses & self.not_net_set):
            return False
        if not self.uses_identity and self.not_selector is None:
            return True
        ids = self.context.identities(ep)
        result: Tri = True
        if self.uses_identity:
            # The address matches when one of the things it belongs to matches.
            result = False
            for ident in ids:
                result = tri_or(result, self._identity_matches(ident))
                if result is True:
                    break
            if result is False:
                return False
        if self.not_selector is not None:
            for ident in ids:
                excluded = _selector_holds(self.not_selector, ident)
                if excluded is True:
                    return False
                if excluded is None:
                    result = None
        return result

    def describe(self) -> str:
        return self.text or "any"


def _has_version(addresses: IpSet, version: int) -> bool:
    return bool(addresses.v4) if version == 4 else bool(addresses.v6)


@dataclass(frozen=True)
class CalicoPolicySelection:
    """Which workload endpoints a Calico policy applies to (never hostNetwork pods: they have no endpoint)."""

    selector: object
    namespace: str | None = None
    namespace_selector: object = None
    sa_selector: object = None

    @property
    def pod_label_keys(self) -> frozenset[str]:
        return self.selector.label_keys

    @property
    def unknown_reasons(self) -> frozenset[str]:
        if self.namespace_selector is not None or any(_unread_pcns_label(k) for k in self.selector.label_keys):
            return frozenset([NAMESPACE_LABELS_UNKNOWN])
        return frozenset()

    def match(self, ep: EndpointInfo) -> Tri:
        ident = workload_identity(ep)
        if ident is None:
            return False
        if self.namespace is not None and ep.namespace != self.namespace:
            return False
        result: Tri = True
        if self.namespace_selector is not None:
            ns_labels = dict(ep.namespace_labels)
            ns_labels["projectcalico.org/name"] = ep.namespace
            ns_labels["projectcalico.org/namespace"] = ep.namespace
            result = _holds_tri(self.namespace_selector, ns_labels, ep.namespace_labels_known,
                                _unread_namespace_label)
            if result is False:
                return False
        if self.sa_selector is not None:
            sa_labels = dict(ep.service_account_labels)
            sa_labels["projectcalico.org/name"] = ep.service_account
            if not _holds(self.sa_selector, sa_labels):
                return False
        return tri_and(result, _holds_tri(self.selector, ident.labels, ep.namespace_labels_known,
                                          _unread_pcns_label))

    def describe(self) -> str:
        parts = [str(self.selector)]
        if self.namespace:
            parts.append(f"in namespace {self.namespace}")
        if self.namespace_selector is not None:
            parts.append(f"namespaces [{self.namespace_selector}]")
        if self.sa_selector is not None:
            parts.append(f"service accounts [{self.sa_selector}]")
        return " ".join(parts)


# --- translation ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class CalicoContext:
    """Cluster-wide facts the translation needs: network sets (rule selectors match them) and namespace labels.

    It also caches each endpoint's identities for one analysis (the key is the endpoint class, which is only
    unique within one cluster state, so the cache must not outlive it).
    """

    network_sets: tuple[NetworkSetInfo, ...] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    unread_namespaces: frozenset[str] = frozenset()  # namespaces whose labels were never read (NA-M1)
    host_endpoints: tuple[HostEndpointInfo, ...] = ()
    calico_version: tuple[int, int] | None = None  # decides stored policy names (storage_name)
    _identities: dict = field(default_factory=dict, repr=False)

    def identities(self, ep: EndpointInfo) -> tuple[Identity, ...]:
        found = self._identities.get(ep.key)
        if found is None:
            found = identities(ep, self.network_sets, self.namespace_labels, self.unread_namespaces,
                               self.host_endpoints)
            self._identities[ep.key] = found
        return found


def is_calico(obj: PolicyObject) -> bool:
    return obj.group in CALICO_GROUPS


def translate_network_set(obj: PolicyObject) -> tuple[NetworkSetInfo | None, list[Alert], set]:
    where = obj.ref.located()
    spec = obj.spec if isinstance(obj.spec, Mapping) else {}
    nets = []
    alerts = []
    for i, text in enumerate(spec.get("nets") or []):
        try:
            nets.append(_cidr_or_ip(text))
        except ValueError as err:
            alerts.append(Alert("invalid-field", f"{where}: spec.nets[{i}]: {text!r} is not a CIDR or IP ({err}); "
                                "ignored: rules that select this set do not see the addresses it meant",
                                str(obj.ref), "error", obj.source))
    namespace = obj.namespace if obj.kind == "NetworkSet" else None
    info = NetworkSetInfo(obj.name, namespace, dict(obj.labels or {}), IpSet.of(*nets))
    return info, alerts, set(nets)


def translate_host_endpoint(obj: PolicyObject) -> tuple[HostEndpointInfo | None, list[Alert], set]:
    """A HostEndpoint, for rule selectors only: its labels and expectedIPs (netaudit judges no traffic of the
    host itself)."""
    where = obj.ref.located()
    spec = obj.spec if isinstance(obj.spec, Mapping) else {}
    nets = []
    alerts = []
    raw_ips = spec.get("expectedIPs") or []
    for i, text in enumerate(raw_ips if isinstance(raw_ips, list) else [raw_ips]):
        try:
            address = ipaddress.ip_address(str(text))
        except ValueError as err:
            alerts.append(Alert("invalid-field", f"{where}: spec.expectedIPs[{i}]: {text!r} is not an IP ({err}); "
                                "ignored", str(obj.ref)))
            continue
        nets.append(ipaddress.ip_network(address))
    info = HostEndpointInfo(obj.name, dict(obj.labels or {}), IpSet.of(*nets), bool(spec.get("profiles")))
    return info, alerts, set(nets)


def translate_tier(obj: PolicyObject) -> tuple[Tier | None, list[Alert]]:
    spec = obj.spec if isinstance(obj.spec, Mapping) else {}
    order = spec.get("order")
    alerts = []
    if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
        alerts.append(Alert("invalid-field", f"{obj.ref.located()}: spec.order: {order!r} is not a number; the tier "
                            "sorts last", str(obj.ref)))
        order = None
    action = spec.get("defaultAction") or "Deny"
    unknown = ""
    if obj.name == "default" and action != "Deny":
        alerts.append(Alert("invalid-field", f"{obj.ref.located()}: the default tier's defaultAction is always "
                            "Deny", str(obj.ref)))
        action = "Deny"
    elif action not in ("Deny", "Pass"):
        unknown = (f"{obj.ref.located()}: spec.defaultAction: {action!r} is not Deny or Pass; what the tier does with "
                   "traffic no rule matches is unknown")
        alerts.append(Alert("invalid-field", unknown, str(obj.ref), "error", obj.source))
        action = "Deny"
    return Tier(obj.name, float(order) if order is not None else None, ACTIONS[action], unknown), alerts


def translate_calico_policy(obj: PolicyObject, ctx: CalicoContext) -> Translation:
    """A Calico (Staged)NetworkPolicy or (Staged)GlobalNetworkPolicy; never raises for bad content."""
    out = Translation(None)
    where = obj.ref.located()
    staged = obj.kind.startswith("Staged")
    namespaced = obj.kind in ("NetworkPolicy", "StagedNetworkPolicy")
    namespace = (obj.namespace or "default") if namespaced else None

    def problem(path: str, message: str, code: str = "invalid-field") -> str:
        """A piece that could not be read (invalid-field: an error, input not read) or is not modelled (a
        warning); either way what it could change becomes unknown."""
        severity = "error" if code == "invalid-field" else "warning"
        out.alerts.append(Alert(code, f"{where}: {path}: {message}", str(obj.ref), severity, obj.source))
        return f"{obj.ref}: {path}: {message}"

    spec = obj.spec
    if not isinstance(spec, Mapping):
        out.policy = _unknown_policy(obj, namespace, problem("spec", "must be an object"), staged)
        return out
    tier = spec.get("tier") or "default"
    if not isinstance(tier, str):
        reason = problem("spec.tier", f"{tier!r} is not a tier name")
        out.policy = _unknown_policy(obj, namespace, reason, staged)
        return out
    name = _display_name(obj, tier)
    if staged and spec.get("stagedAction") == "Delete":
        out.policy = None
        out.alerts.append(Alert("staged-delete", f"{where}: stagedAction Delete previews deleting {name}; with "
                                "--promote-staged that policy is left out", str(obj.ref)))
        return out
    for flag in ("doNotTrack", "preDNAT"):
        if spec.get(flag):
            out.alerts.append(Alert("host-endpoint-only", f"{where}: spec.{flag} policies apply only to host "
                                    "endpoints, which netaudit does not model; it has no effect on pods",
                                    str(obj.ref)))
            return out
    order = spec.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
        reason = problem("spec.order", f"{order!r} is not a number")
        out.policy = _unknown_policy(obj, namespace, reason, staged, tier)
        return out

    # The selection is the AND of up to three selectors. One that does not parse makes the selection a maybe, ANDed
    # with the ones that do; the policy's types and rules are read as usual (they do not depend on it).
    unreadable: list[str] = []

    def selector_part(key: str, parser):
        if spec.get(key) is None or spec.get(key) == "":
            return None
        try:
            return parser(spec[key], f"spec.{key}")
        except InvalidField as err:
            unreadable.append(problem(err.field, err.message))
            return None

    selector = selector_part("selector", _parse) or parse("all()")
    ns_selector = None if namespaced else selector_part("namespaceSelector", _parse_policy_ns_selector)
    if ns_selector is not None and ns_selector.uses_global and obj.group == "projectcalico.org":
        problem("spec.namespaceSelector", "global() can only be used in a rule's namespaceSelector: calicoctl and the "
                "Calico API server refuse this policy; evaluated as Felix would read it stored raw (global() is "
                "true there, so the namespaceSelector does not restrict which pods it selects)")
    sa_selector = selector_part("serviceAccountSelector", _parse)
    selection = CalicoPolicySelection(selector, namespace, ns_selector, sa_selector)
    if unreadable:
        selection = AllOf((selection, UnknownEndpoint("; ".join(unreadable))))

    ingress_raw, egress_raw = spec.get("ingress"), spec.get("egress")
    types = spec.get("types")
    if not types and obj.group == "crd.projectcalico.org":
        # The stored CRD is what Felix reads, and nothing defaults it on the way: libcalico-go's update processor
        # copies `types` as is, and Felix's policy sorter reads no types as Ingress AND Egress ("back
        # compatibility", felix/calc/policy_sorter.go). calicoctl and the Calico API server default types before
        # storing, so only objects applied raw reach this.
        types = ["Ingress", "Egress"]
        out.alerts.append(Alert("calico-types-empty", f"{where}: spec.types is empty in a stored {obj.kind}: Felix "
                                "applies it to both ingress and egress (calicoctl would have defaulted it)",
                                str(obj.ref)))
    elif not types:
        # v3 default (CAL-C9), applied by calicoctl and the Calico API server: egress rules only -> Egress; otherwise
        # Ingress (+Egress if there are egress rules). Unlike Kubernetes policyTypes defaulting.
        types = ["Egress"] if egress_raw and not ingress_raw else ["Ingress"] + (["Egress"] if egress_raw else [])
    if not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types):
        reason = problem("spec.types", f"{types!r} must list Ingress and/or Egress")
        out.policy = _unknown_policy(obj, namespace, reason, staged, tier, order)
        return out

    def rules_for(direction: str, raw: object) -> tuple[Rule, ...] | None:
        if direction.capitalize() not in types:
            if raw:
                out.alerts.append(Alert("rules-ignored", f"{where}: spec.{direction} has rules but types is {types}: "
                                        "they have no effect", str(obj.ref)))
            return None
        if raw is None:
            return ()
        if not isinstance(raw, list):
            return (Rule(Action.DENY, UnknownEndpoint(problem(f"spec.{direction}", "must be a list")), index=0),)
        return tuple(rule for i, r in enumerate(raw) for rule in _rule(direction, i, r, namespace, ctx, out, problem))

    key = storage_name(obj, ctx.calico_version)
    ingress_rules, egress_rules = rules_for(INGRESS, ingress_raw), rules_for(EGRESS, egress_raw)
    if any(alert.severity == "error" for alert in out.alerts):
        # Calico enforces no part of a policy it cannot validate: the API server refuses it, and Felix treats a
        # stored one as missing (felix/calc/validation_filter.go: "Validation failed; treating as missing"). So
        # beside what its readable parts would do, it may not apply at all (CAL-C3, NA-M4).
        selection = AllOf((selection, UnknownEndpoint(f"{obj.ref}: {MAY_NOT_APPLY}")))
    out.policy = Policy(ref=obj.ref, tier=tier, order=float(order) if order is not None else None,
                        selector=selection, ingress=ingress_rules, egress=egress_rules, name=name, staged=staged,
                        key_name=key if key != name else "")
    return out


def translate_staged_kubernetes(obj: PolicyObject) -> Translation:
    """StagedKubernetesNetworkPolicy: a Kubernetes NetworkPolicy spec that does not enforce (unless promoted)."""
    spec = obj.spec if isinstance(obj.spec, Mapping) else {}
    if spec.get("stagedAction") == "Delete":
        return Translation(None, [Alert("staged-delete", f"{obj.ref.located()}: stagedAction Delete: left out",
                                        str(obj.ref))])
    plain = PolicyObject("networking.k8s.io/v1", "NetworkPolicy", obj.name, obj.namespace,
                         {k: v for k, v in spec.items() if k != "stagedAction"}, obj.labels, obj.annotations,
                         obj.source)
    result = translate_network_policy(plain)
    if result.policy is not None:
        from dataclasses import replace
        result.policy = replace(result.policy, ref=obj.ref, staged=True)
    return result


def _display_name(obj: PolicyObject, tier: str) -> str:
    # v3.29-v3.31 store policies in tiers other than default as "<tier>.<name>"; show the name as written.
    return obj.name


FORMATTED = ("knp.default.", "kanp.adminnetworkpolicy.", "ossg.")
MAY_NOT_APPLY = "Calico does not enforce a policy it cannot validate, so it may not apply at all"


def storage_name(obj: PolicyObject, version: tuple[int, int] | None) -> str:
    """The name a projectcalico.org/v3 policy is stored under, which Felix sorts policies of equal order by (CAL-C1,
    CAL-C11). crd.projectcalico.org/v1 objects are read as stored.

    - before v3.29 (calicoctl, lib/clientv3 convertPolicyNameForStorage): `default.` + name, except knp./ossg. names;
    - v3.29-v3.31 (lib/names/policy.go TieredPolicyName): `default.` + name when the name has no dot (a policy of
      another tier must already be named `<tier>.<name>`);
    - v3.32 on: the name as written. An unknown version is read as v3.29-v3.31 (see `order_depends_on_version`).
    """
    name = obj.name
    if obj.group != "projectcalico.org" or (version is not None and version >= (3, 32)):
        return name
    if version is not None and version < (3, 29):
        return name if name.startswith(("knp.", "ossg.")) else f"default.{name}"
    if name.startswith(FORMATTED) or "." in name:
        return name
    return f"default.{name}"


def _cidr_or_ip(text: object):
    value = str(text)
    if "/" not in value:
        address = ipaddress.ip_address(value)
        return ipaddress.ip_network(f"{address}/{address.max_prefixlen}")
    return parse_network(value)


def _parse(text: object, where: str):
    if text is None or text == "":
        return parse("all()")
    if not isinstance(text, str):
        raise InvalidField(where, f"must be a selector string, got {type(text).__name__}")
    try:
        return parse(text)
    except SelectorSyntaxError as err:
        raise InvalidField(where, str(err)) from None


def _parse_ns_selector(text: object, where: str):
    """A namespaceSelector, rewritten as Calico does: all() = any namespace, global() = no namespace."""
    if not isinstance(text, str):
        raise InvalidField(where, f"must be a selector string, got {type(text).__name__}")
    rewritten = text.replace("all()", "has(projectcalico.org/namespace)").replace(
        "global()", "!has(projectcalico.org/namespace)")
    try:
        return parse(rewritten)
    except SelectorSyntaxError as err:
        raise InvalidField(where, str(err)) from None


def _parse_policy_ns_selector(text: object, where: str):
    """A GlobalNetworkPolicy's own namespaceSelector, as ConvertGlobalNetworkPolicyV3ToV1Value combines it
    (updateprocessors/globalnetworkpolicyprocessor.go): keys prefixed pcns., then `all()` replaced by
    has(projectcalico.org/namespace) in the combined text, and `global()` left alone, so Felix evaluates it as
    true (docs/semantics.md CAL-C6; unlike a rule's namespaceSelector, CAL-C5)."""
    if not isinstance(text, str):
        raise InvalidField(where, f"must be a selector string, got {type(text).__name__}")
    try:
        return parse(text.replace("all()", "has(projectcalico.org/namespace)"))
    except SelectorSyntaxError as err:
        raise InvalidField(where, str(err)) from None


def _entity(raw: object, where: str, namespace: str | None, ctx: CalicoContext, out: Translation) -> CalicoEntity:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidField(where, "must be an object")
    known = {"nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts",
             "serviceAccounts", "services"}
    unknown = set(raw) - known
    if unknown:
        raise InvalidField(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    selector = _parse(raw["selector"], f"{where}.selector") if raw.get("selector") else None
    not_selector = _parse(raw["notSelector"], f"{where}.notSelector") if raw.get("notSelector") else None
    ns_selector = _parse_ns_selector(raw["namespaceSelector"], f"{where}.namespaceSelector") \
        if raw.get("namespaceSelector") else None
    sa_selector = sa_names = None
    accounts = raw.get("serviceAccounts")
    if accounts:
        if not isinstance(accounts, Mapping):
            raise InvalidField(f"{where}.serviceAccounts", "must be an object with names and/or selector")
        if accounts.get("selector"):
            sa_selector = _parse(accounts["selector"], f"{where}.serviceAccounts.selector")
        if accounts.get("names"):
            if not isinstance(accounts["names"], list):
                raise InvalidField(f"{where}.serviceAccounts.names", "must be a list of names")
            sa_names = frozenset(str(n) for n in accounts["names"])
    scoped_namespace = None
    if ns_selector is None and namespace is not None and (selector or not_selector or accounts):
        scoped_namespace = namespace
    nets, not_nets = [], []
    for key, target in (("nets", nets), ("notNets", not_nets)):
        for i, text in enumerate(raw.get(key) or []):
            try:
                target.append(_cidr_or_ip(text))
            except ValueError as err:
                raise InvalidField(f"{where}.{key}[{i}]", f"{text!r} is not a CIDR ({err})") from None
    out.networks.update(nets)
    out.networks.update(not_nets)
    out.uses_ipv6 = out.uses_ipv6 or any(n.version == 6 for n in nets + not_nets)
    parts = []
    if scoped_namespace:
        parts.append(f"namespace {scoped_namespace}")
    if ns_selector is not None:
        parts.append(f"namespaceSelector [{raw['namespaceSelector']}]")
    if selector is not None:
        parts.append(f"selector [{selector}]")
    if not_selector is not None:
        parts.append(f"notSelector [{not_selector}]")
    if accounts:
        parts.append(f"serviceAccounts {dict(accounts)}")
    if nets:
        parts.append("nets " + ",".join(map(str, nets)))
    if not_nets:
        parts.append("notNets " + ",".join(map(str, not_nets)))
    return CalicoEntity(selector, not_selector, scoped_namespace, ns_selector, sa_selector, sa_names, tuple(nets),
                        tuple(not_nets), None, ctx, " ".join(parts) or "any")


def _ports(raw: object, where: str, protocol: str | None,
           unreadable: list[InvalidField] | None = None) -> tuple[PortSet, tuple]:
    """Numeric ports and (protocol, name) pairs. An entry that cannot be read raises, or, given `unreadable`, is
    added to it and left out."""
    if not isinstance(raw, list):
        raise InvalidField(where, "must be a list of ports (numbers, 'start:end' ranges or names)")
    if protocol not in PORT_PROTOCOLS:
        raise InvalidField(where, "needs protocol TCP, UDP or SCTP on the rule")
    numeric = PortSet.empty()
    named = []
    for i, value in enumerate(raw):
        try:
            ports, name = _port_entry(value, f"{where}[{i}]", protocol)
        except InvalidField as err:
            if unreadable is None:
                raise
            unreadable.append(err)
            continue
        numeric = numeric | ports
        if name is not None:
            named.append((protocol, name))
    return numeric, tuple(named)


def _port_entry(value: object, where: str, protocol: str) -> tuple[PortSet, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidField(where, f"{value!r} is not a port")
    if isinstance(value, int):
        if not 0 <= value <= 65535:
            raise InvalidField(where, f"{value} is not a port number")
        return PortSet.ports(protocol, max(value, 1)), None
    if ":" in value:
        low, _, high = value.partition(":")
        if not (low.isdigit() and high.isdigit()) or int(low) > int(high) or int(high) > 65535:
            raise InvalidField(where, f"{value!r} is not a 'start:end' port range")
        return PortSet.ports(protocol, max(int(low), 1), int(high)), None
    if value.isdigit():
        if int(value) > 65535:
            raise InvalidField(where, f"{value} is not a port number")
        return PortSet.ports(protocol, max(int(value), 1)), None
    return PortSet.empty(), value


def _rule(direction: str, index: int, raw: object, namespace: str | None, ctx: CalicoContext, out: Translation,
          problem) -> list[Rule]:
    """One Calico rule: one IR rule, or two when some destination port entries cannot be read.

    A field that cannot be read makes the rule a maybe without losing the fields that can (CAL-C8: a rule's fields
    are ANDed): an unreadable protocol, ICMP or IP version field is left out, so the rule matches at least what it
    really matches, and its reason is ANDed into the peer; an unreadable side is unknown on its own; unreadable port
    entries add a maybe-rule on the ports they could name, while the readable entries stay exact."""
    base = f"spec.{direction}[{index}]"
    if not isinstance(raw, Mapping):
        return [Rule(Action.DENY, UnknownEndpoint(problem(base, "must be an object")), index=index, text=base)]
    action = ACTIONS.get(raw.get("action"))
    if action is None:
        reason = problem(f"{base}.action", f"{raw.get('action')!r} is not Allow, Deny, Pass or Log")
        return [Rule(Action.DENY, UnknownEndpoint(reason), index=index, text=base)]
    text = f"{base} ({raw['action']})"
    unknowns: list[str] = []

    def readable(fallback, read, *args):
        try:
            return read(*args)
        except InvalidField as err:
            unknowns.append(problem(err.field, err.message))
            return fallback

    def protocol_of() -> str | None:
        proto_raw = raw.get("protocol")
        if proto_raw is None:
            return None
        protocol = canonical_protocol(proto_raw)
        if protocol is None:
            raise InvalidField(f"{base}.protocol", f"{proto_raw!r} is not a protocol name or number 1-255")
        return protocol

    protocol = readable(None, protocol_of)
    numeric = protocol_number_set(raw["protocol"]) if protocol is not None else PortSet.all()

    def without_protocol(numeric: PortSet) -> PortSet:
        if canonical_protocol(raw["notProtocol"]) is None:
            raise InvalidField(f"{base}.notProtocol", f"{raw['notProtocol']!r} is not a protocol")
        return numeric - protocol_number_set(raw["notProtocol"])

    if raw.get("notProtocol") is not None:
        numeric = readable(numeric, without_protocol, numeric)

    def icmp_narrowed(numeric: PortSet, key: str, negate: bool) -> PortSet:
        icmp = raw[key]
        if protocol not in (ICMP, ICMPV6):
            raise InvalidField(f"{base}.{key}", "needs protocol ICMP or ICMPv6")
        if not isinstance(icmp, Mapping):
            raise InvalidField(f"{base}.{key}", "must be an object with type and code")
        chosen = PortSet.icmp(protocol, icmp.get("type"), icmp.get("code"))
        return numeric - chosen if negate else numeric & chosen

    for key, negate in (("icmp", False), ("notICMP", True)):
        if raw.get(key) is not None:
            numeric = readable(numeric, icmp_narrowed, numeric, key, negate)

    def version_of():
        if raw.get("ipVersion") not in (None, 4, 6):
            raise InvalidField(f"{base}.ipVersion", f"{raw.get('ipVersion')!r} is not 4 or 6")
        return raw.get("ipVersion")

    ip_version = readable(None, version_of)
    # A side that cannot be read is unknown on its own: the rule's protocol and ports still hold (fields AND).
    source = _side(raw.get("source"), f"{base}.source", namespace, ctx, out, problem)
    destination = _side(raw.get("destination"), f"{base}.destination", namespace, ctx, out, problem)
    dst_raw = raw.get("destination") if isinstance(raw.get("destination"), Mapping) else {}
    named: tuple = ()
    unreadable_ports: list[InvalidField] = []
    protocol_ports = numeric  # what the rule matches before its port list narrows it
    if dst_raw.get("ports") is not None:
        ports_numeric, named = readable((PortSet.all(), ()), _ports, dst_raw["ports"], f"{base}.destination.ports",
                                        protocol, unreadable_ports)
        numeric = numeric & ports_numeric
    not_ports = None
    if dst_raw.get("notPorts") is not None:
        not_numeric, not_named = readable((PortSet.empty(), ()), _ports, dst_raw["notPorts"],
                                          f"{base}.destination.notPorts", protocol)
        not_ports = PortSpec(not_numeric, not_named)
    ports = PortSpec(numeric, named)
    if ip_version is not None:
        source = _with_version(source, ip_version)
        destination = _with_version(destination, ip_version)
    peer, local = (source, destination) if direction == INGRESS else (destination, source)
    peer_side = "source" if direction == INGRESS else "destination"

    src_raw = raw.get("source") if isinstance(raw.get("source"), Mapping) else {}
    if src_raw.get("ports") is not None or src_raw.get("notPorts") is not None:
        unknowns.append(problem(f"{base}.source.ports", "source ports are not modelled; the flows this rule "
                                "could match are unknown", "unmodelled-field"))
    for side, side_raw in (("source", src_raw), ("destination", dst_raw)):
        if side_raw.get("services"):
            unknowns.append(problem(f"{base}.{side}.services", "service matches are not modelled yet; the flows "
                                    "this rule could match are unknown", "unmodelled-field"))
    if raw.get("http"):
        unknowns.append(problem(f"{base}.http", "HTTP (layer 7) matches are not modelled; the flows this rule "
                                "could match are unknown", "unmodelled-field"))
    if unknowns:
        peer = AllOf((peer, UnknownEndpoint("; ".join(unknowns))))
    rule_text = f"{text} {peer_side} {peer.describe()}"
    if isinstance(local, CalicoEntity) and not (local.uses_identity or local.nets or local.not_nets or
                                                local.not_selector is not None or local.ip_version):
        local = ANY
    if not unreadable_ports:
        return [Rule(action, peer, ports, not_ports, local, index=index, text=rule_text)]
    # Port entries that cannot be read: the rule stays exact on the others, and may also match (with its action,
    # for the peers it matches) any port of its protocol those entries could name.
    reason = "; ".join(problem(err.field, err.message) for err in unreadable_ports)
    rules = [Rule(action, peer, ports, not_ports, local, index=index, text=rule_text)] if numeric or named else []
    rules.append(Rule(action, AllOf((peer, UnknownEndpoint(reason))), PortSpec(protocol_ports), not_ports,
                      local, index=index, text=f"{rule_text} (its unreadable ports)"))
    return rules


def _with_version(entity, version: int):
    from dataclasses import replace
    return replace(entity, ip_version=version) if isinstance(entity, CalicoEntity) else entity


def _side(raw: object, where: str, namespace: str | None, ctx: CalicoContext, out: Translation, problem):
    """A rule's source or destination; an UnknownEndpoint (with an error) when it cannot be read."""
    try:
        return _entity(raw, where, namespace, ctx, out)
    except InvalidField as err:
        return UnknownEndpoint(problem(err.field, err.message))


def _unknown_policy(obj: PolicyObject, namespace: str | None, reason: str, staged: bool,
                    tier: str = DEFAULT_TIER.name, order: float | int | None = None) -> Policy:
    """A policy that may select anything in its scope and may allow or deny anything. It keeps the readable
    `order` (CAL-C11): where it sorts decides which other policies its maybe-Deny can precede."""
    unknown = UnknownEndpoint(reason)
    scope = CalicoPolicySelection(parse("all()"), namespace)
    rules = (Rule(Action.ALLOW, unknown, index=0, text="(unreadable)"),
             Rule(Action.DENY, unknown, index=1, text="(unreadable)"))
    return Policy(ref=obj.ref, tier=tier, order=float(order) if order is not None else None,
                  selector=AllOf((scope, unknown)), ingress=rules, egress=rules, name=obj.name, staged=staged)
