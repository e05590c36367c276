"""The policy IR: one model for every policy API, so the engine has one evaluation loop (DESIGN.md).

Matching is three-valued: a matcher answers True, False or None ("maybe": something it depends on could not be
read or parsed). The engine turns every "maybe" that could change a verdict into an `unknown` verdict with a reason,
instead of guessing allowed or denied.

An endpoint is seen by matchers as an `EndpointInfo`: the facts selectors can read. Two pods with equal
`EndpointInfo` are indistinguishable to every policy, which is what makes them one equivalence class.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Optional, Protocol

from ..model import NAMESPACE_NAME_LABEL, ObjectRef
from ..sets.addresses import IpSet, Network
from ..sets.ports import PORT_PROTOCOLS, PortSet, canonical_protocol
from .labels import LabelSelector

Tri = Optional[bool]  # True, False, or None = maybe


def tri_and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def tri_or(a: Tri, b: Tri) -> Tri:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


class Action(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    LOG = "Log"


# --- endpoints --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointInfo:
    """What policies can see of an endpoint (a pod class, or an external address region)."""

    external: bool
    namespace: str | None = None
    namespace_labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    namespace_labels_known: bool = True
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    service_account: str | None = None
    service_account_labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    regions: frozenset[int] = frozenset()  # address regions of its IPs (empty: no IP known)
    addresses: IpSet = field(default_factory=IpSet, compare=False)  # its IPs, or the region's addresses
    host_network: bool = False
    named_ports: frozenset[tuple[str, str, int]] = frozenset()  # (name, protocol, port)
    key: tuple = ()  # the equivalence key the engine built this from (identity for caching)
    # What could not be read of it (a pod whose manifest was damaged; see model.Pod): matchers that read it answer
    # "maybe" for it (the engine sees to that, so matchers need not know), and so do its named ports.
    uncertain_labels: frozenset[str] = frozenset()  # label keys whose values are unknown ("*": every label)
    uncertain_ports: frozenset[tuple] = frozenset()  # (name, protocol, number) of ports read in part; None = unknown
    uncertain_identity: bool = False  # its IPs or service account: matchers other than pod selections may differ
    opaque: bool = False  # anything but its namespace may be other than read
    uncertain_reason: str = field(default="", compare=False)

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertain_labels or self.uncertain_ports or self.uncertain_identity or self.opaque)


class Matcher(Protocol):
    def match(self, ep: EndpointInfo) -> Tri: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class AnyEndpoint:
    """Every endpoint, in the cluster or outside it (a Kubernetes rule without `from`/`to`)."""

    def match(self, ep: EndpointInfo) -> Tri:
        return True

    def describe(self) -> str:
        return "any peer"


ANY = AnyEndpoint()


@dataclass(frozen=True)
class NoEndpoint:
    def match(self, ep: EndpointInfo) -> Tri:
        return False

    def describe(self) -> str:
        return "nothing"


NOTHING = NoEndpoint()


@dataclass(frozen=True)
class UnknownEndpoint:
    """A matcher we could not build (invalid or unreadable input): it may or may not match anything."""

    reason: str

    def match(self, ep: EndpointInfo) -> Tri:
        return None

    def describe(self) -> str:
        return f"unknown ({self.reason})"


@dataclass(frozen=True)
class PodSelection:
    """Kubernetes pod selection: pods in some namespaces whose labels match a selector.

    `namespace` restricts to one namespace (a NetworkPolicy's own); `namespace_selector` to namespaces whose
    labels match. Pods only: never external addresses, and never hostNetwork pods, which have no workload
    endpoint in Calico, so no pod selector can match them (docs/semantics.md K8S-A11).
    """

    namespace: str | None = None
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None

    def match(self, ep: EndpointInfo) -> Tri:
        if ep.external or ep.host_network:
            return False
        if self.namespace is not None and ep.namespace != self.namespace:
            return False
        if self.pod_selector is not None and not self.pod_selector.matches(ep.labels):
            return False
        return self.namespace_match(ep.namespace_labels, ep.namespace_labels_known)

    def namespace_match(self, namespace_labels: Mapping[str, str], labels_known: bool) -> Tri:
        """Whether a namespace with these labels is one this selection reaches into (True when it has no
        namespace selector). The engine asks it once per namespace, not once per pod class."""
        if self.namespace_selector is None:
            return True
        unknown_keys = not labels_known and self.namespace_selector.label_keys - {NAMESPACE_NAME_LABEL}
        if not self.namespace_selector.matches(namespace_labels):
            if unknown_keys:
                return None  # the namespace's other labels were never read: it may match
            return False
        if unknown_keys and any(r.operator in ("NotIn", "DoesNotExist") and r.key != NAMESPACE_NAME_LABEL
                                for r in self.namespace_selector.requirements):
            # It matched on the name label alone, but a NotIn/DoesNotExist on unknown labels could still fail.
            return None
        return True

    @property
    def unknown_reasons(self) -> frozenset[str]:
        if self.namespace_selector is not None and self.namespace_selector.label_keys - {NAMESPACE_NAME_LABEL}:
            return frozenset(["namespace labels unknown: no Namespace object was read for some namespace"])
        return frozenset()

    def describe(self) -> str:
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaces [{self.namespace_selector}]")
        elif self.namespace is not None:
            parts.append(f"namespace {self.namespace}")
        parts.append(f"pods [{self.pod_selector}]" if self.pod_selector is not None else "all pods")
        return " ".join(parts)


@dataclass(frozen=True)
class AddressBlock:
    """Addresses in `included` minus `excluded` (a Kubernetes ipBlock, Calico nets/notNets).

    It matches external regions inside the block and pods whose IP is inside it: Calico turns an ipBlock into
    selector-less `nets`, which match any source or destination IP, pod IPs included (docs/semantics.md K8S-A7). A pod
    without a known IP is never matched (the engine reports that it had no IP).
    """

    included: tuple[Network, ...]
    excluded: tuple[Network, ...] = ()

    @cached_property
    def addresses(self) -> IpSet:
        return IpSet.of(*self.included) - IpSet.of(*self.excluded)

    def match(self, ep: EndpointInfo) -> Tri:
        # Regions never straddle a block boundary (addresses.py), so overlap means containment for them.
        return bool(ep.addresses & self.addresses)

    def describe(self) -> str:
        text = ", ".join(str(n) for n in self.included)
        if self.excluded:
            text += " except " + ", ".join(str(n) for n in self.excluded)
        return f"ipBlock {text}"


@dataclass(frozen=True)
class AnyOf:
    """OR of matchers (a rule's list of peers)."""

    options: tuple

    def match(self, ep: EndpointInfo) -> Tri:
        result: Tri = False
        for option in self.options:
            result = tri_or(result, option.match(ep))
            if result is True:
                return True
        return result

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options) if self.options else "nothing"


@dataclass(frozen=True)
class AllOf:
    """AND of matchers (Calico rule fields, ANP subjects)."""

    parts: tuple

    def match(self, ep: EndpointInfo) -> Tri:
        result: Tri = True
        for part in self.parts:
            result = tri_and(result, part.match(ep))
            if result is False:
                return False
        return result

    def describe(self) -> str:
        return " and ".join(p.describe() for p in self.parts) if self.parts else "any peer"


# --- ports ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortSpec:
    """Ports of a rule: numeric ones, plus named ports resolved on the destination endpoint.

    A named port is looked up in the destination's container ports (docs/semantics.md K8S-A9); `protocol` None means the
    name matches whatever protocol the container declares for it (Calico named ports without a protocol are not
    allowed, Kubernetes defaults to TCP, so callers always pass one today).
    """

    numeric: PortSet = PortSet.all()
    named: tuple[tuple[str | None, str], ...] = ()  # (protocol, name)

    @property
    def is_all(self) -> bool:
        return not self.named and self.numeric.is_all()

    def resolve(self, destination: EndpointInfo) -> PortSet:
        if not self.named:
            return self.numeric
        result = self.numeric
        for protocol, name in self.named:
            for port_name, port_protocol, number in destination.named_ports:
                if port_name == name and (protocol is None or port_protocol == protocol):
                    result = result | PortSet.ports(port_protocol, number)
        return result

    def maybe(self, destination: EndpointInfo) -> PortSet:
        """Ports beyond `resolve` that a named port may also stand for on this destination: those of container
        ports that could not be read whole (what is unknown of them may be this name, protocol or number)."""
        if not self.named or not destination.uncertain_ports:
            return PortSet.empty()
        result = PortSet.empty()
        for protocol, name in self.named:
            for port_name, port_protocol, number in destination.uncertain_ports:
                if port_name is not None and port_name != name:
                    continue
                if protocol is not None and port_protocol is not None and port_protocol != protocol:
                    continue
                for proto in (protocol,) if protocol else (port_protocol,) if port_protocol else PORT_PROTOCOLS:
                    result = result | (PortSet.ports(proto, number) if number else PortSet.protocol(proto))
        return result - self.resolve(destination)

    def describe(self) -> str:
        if self.is_all:
            return "all ports"
        parts = [str(self.numeric)] if self.numeric else []
        parts += [f"{name}/{protocol}" if protocol else name for protocol, name in self.named]
        return " ".join(parts) or "no ports"


ALL_PORTS = PortSpec()


@dataclass(frozen=True)
class Rule:
    """One rule of one direction: if the peer, the local endpoint and the port match, `action` applies."""

    action: Action
    peer: Matcher = ANY
    ports: PortSpec = ALL_PORTS
    not_ports: PortSpec | None = None
    local: Matcher = ANY  # a condition on the endpoint the policy protects (Calico's other side of the rule)
    index: int = 0
    text: str = ""  # how the rule reads in the source, for explain

    def ports_for(self, destination: EndpointInfo) -> PortSet:
        """The ports this rule surely matches on `destination`."""
        ports = self.ports.resolve(destination)
        if self.not_ports is not None:
            ports = ports - self.not_ports.resolve(destination) - self.not_ports.maybe(destination)
        return ports

    def ports_maybe_for(self, destination: EndpointInfo) -> PortSet:
        """The ports this rule may or may not match on `destination` (named ports of a pod whose container ports
        could not all be read); disjoint from `ports_for`."""
        if not destination.uncertain_ports or not self.uses_named_ports:
            return PortSet.empty()
        could = self.ports.resolve(destination) | self.ports.maybe(destination)
        if self.not_ports is not None:
            could = could - self.not_ports.resolve(destination)
        return could - self.ports_for(destination)

    @property
    def uses_named_ports(self) -> bool:
        return bool(self.ports.named) or bool(self.not_ports and self.not_ports.named)


@dataclass(frozen=True)
class Policy:
    ref: ObjectRef
    tier: str
    order: float | None
    selector: Matcher
    ingress: tuple[Rule, ...] | None  # None: the policy does not apply to ingress
    egress: tuple[Rule, ...] | None
    name: str = ""  # the name as the dataplane knows it, e.g. "knp.default.allow-web"
    staged: bool = False
    key_name: str = ""  # the stored name Felix sorts by when it differs from `name` (e.g. "default.deny")

    def rules(self, direction: str) -> tuple[Rule, ...] | None:
        return self.ingress if direction == INGRESS else self.egress

    @property
    def sort_key(self) -> tuple:
        """Order, then Felix's key name: `<namespace>/<name>` for a namespaced policy (Kubernetes NetworkPolicies
        included), `<name>` for a global one (libcalico-go syncersv1/updateprocessors/networkpolicyprocessor.go,
        convertNetworkPolicyV2ToV1Key; felix/calc/policy_sorter.go, PolKVLess). So at equal order a policy of
        namespace `zoo` runs after a global `default.deny`, and one of namespace `app` before it."""
        name = self.key_name or self.name or str(self.ref)
        if self.name and self.ref.namespace:
            name = f"{self.ref.namespace}/{name}"
        return (self.order is None, self.order if self.order is not None else 0.0, name)

    def label(self) -> str:
        return str(self.ref)


@dataclass(frozen=True)
class Tier:
    name: str
    order: float | None
    default_action: Action = Action.DENY  # DENY or PASS
    default_unknown: str = ""  # why the default action could not be read: then it may be Deny or Pass

    @property
    def default_actions(self) -> frozenset:
        """What a port no rule matched may end in: the default action, or Deny and Pass when it is unknown."""
        return frozenset([Action.DENY, Action.PASS]) if self.default_unknown else frozenset([self.default_action])

    @property
    def sort_key(self) -> tuple:
        return (self.order is None, self.order if self.order is not None else 0.0, self.name)


INGRESS, EGRESS = "ingress", "egress"
DIRECTIONS = (INGRESS, EGRESS)

# Calico's tier orders (docs/semantics.md ADM-V2, CAL-C10): the default tier is always Deny at the end; the admin
# tiers Pass.
DEFAULT_TIER = Tier("default", 1_000_000.0, Action.DENY)


@dataclass
class PolicySet:
    """Everything the engine needs from the policy layer."""

    tiers: dict[str, Tier]
    policies: list[Policy]
    networks: set = field(default_factory=set)  # every CIDR the policies mention
    protocols: set = field(default_factory=set)  # non-port protocols the policies mention (ICMP, ...)
    uses_ipv6: bool = False
    # Addresses of HostEndpoints, with why: their own policy is not modelled, so the host's side of traffic to or
    # from them is unknown (docs/semantics.md CAL-C14).
    host_endpoints: list[tuple[IpSet, str]] = field(default_factory=list)

    def ordered_tiers(self) -> list[Tier]:
        return sorted(self.tiers.values(), key=lambda t: t.sort_key)


def port_spec_protocol(raw: object) -> str | None:
    return canonical_protocol(raw) if raw is not None else None
