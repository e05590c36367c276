"""Equivalence classes: pods that no policy can tell apart are evaluated once (DESIGN.md, Scale).

Two pods are in one class when they share namespace, the values of every pod label some selector reads, service
account (and its labels), hostNetwork, the address regions of their IPs, and the named ports some rule uses.
Labels no selector reads (pod-template-hash, statefulset pod names) do not split classes, which is what keeps the
number of classes close to the number of workloads.

External address regions (see addresses.py) are endpoints too, after the pod classes, so every matcher result is a
bitmask over one index space.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from ..model import Alert, ClusterState, Pod
from ..policy.ir import AllOf, AnyOf, EndpointInfo, PodSelection, PolicySet
from ..sets.addresses import IpSet
from .regions import AddressSpace, Region


@dataclass
class EndpointClass:
    index: int
    info: EndpointInfo
    pods: list[Pod] = field(default_factory=list)
    region: Region | None = None  # set for external endpoints

    @property
    def external(self) -> bool:
        return self.region is not None


@dataclass
class Universe:
    """Every endpoint class, indexed; masks over these indices are Python ints."""

    classes: list[EndpointClass]
    address_space: AddressSpace
    pod_count: int  # classes[:pod_count] are pod classes, the rest external regions
    by_namespace: dict[str, int]
    pod_mask: int
    all_mask: int
    class_of_pod: dict[str, int]  # pod id -> class index
    port_profile_masks: dict[tuple, int]  # (named ports, uncertain ports) -> classes that have exactly those
    alerts: list[Alert] = field(default_factory=list)
    uncertain_by_reason: dict[str, int] = field(default_factory=dict)  # pod classes something of was not read

    @cached_property
    def uncertain_mask(self) -> int:
        mask = 0
        for bits in self.uncertain_by_reason.values():
            mask |= bits
        return mask

    def region_class(self, address: str) -> EndpointClass:
        region = self.address_space.region_of(address)
        return self.classes[self.pod_count + region.index]

    def indices(self, mask: int) -> Iterable[int]:
        while mask:
            low = mask & -mask
            yield low.bit_length() - 1
            mask ^= low


def selector_label_keys(policies: PolicySet) -> frozenset[str] | None:
    """Every pod label key some selector reads; None when some matcher cannot say (then all labels count)."""
    keys: set[str] = set()
    for policy in policies.policies:
        matchers = [policy.selector]
        for direction_rules in (policy.ingress, policy.egress):
            for rule in direction_rules or ():
                matchers.extend((rule.peer, rule.local))
        for matcher in matchers:
            found = pod_label_keys(matcher)
            if found is None:
                return None
            keys |= found
    return frozenset(keys)


def pod_label_keys(matcher) -> frozenset[str] | None:
    if isinstance(matcher, PodSelection):
        return matcher.pod_selector.label_keys if matcher.pod_selector is not None else frozenset()
    if isinstance(matcher, AnyOf):
        parts = [pod_label_keys(m) for m in matcher.options]
    elif isinstance(matcher, AllOf):
        parts = [pod_label_keys(m) for m in matcher.parts]
    else:
        return getattr(matcher, "pod_label_keys", frozenset())
    if any(p is None for p in parts):
        return None
    return frozenset().union(*parts)


def referenced_port_names(policies: PolicySet) -> frozenset[str]:
    names: set[str] = set()
    for policy in policies.policies:
        for direction_rules in (policy.ingress, policy.egress):
            for rule in direction_rules or ():
                for spec in (rule.ports, rule.not_ports):
                    if spec is not None:
                        names.update(name for _, name in spec.named)
    return frozenset(names)


def build_universe(state: ClusterState, policies: PolicySet, *, init_container_ports: bool = True) -> Universe:
    uses_v6 = policies.uses_ipv6 or any(":" in ip for pod in state.pods for ip in pod.ips)
    space = AddressSpace(policies.networks, include_ipv6=uses_v6)
    keys = selector_label_keys(policies)
    port_names = referenced_port_names(policies)
    sa_labels = {(sa.namespace, sa.name): dict(sa.labels) for sa in state.service_accounts}
    alerts: list[Alert] = []

    groups: dict[tuple, EndpointClass] = {}
    class_of_pod: dict[str, int] = {}
    ordered: list[EndpointClass] = []
    for pod in state.pods:
        if keys is None:
            labels = dict(pod.labels)
        else:
            labels = {k: v for k, v in pod.labels.items() if k in keys}
        regions = set()
        addresses = IpSet()
        for ip in pod.ips:
            try:
                address = ipaddress.ip_address(ip)
                regions.add(space.region_of(address).index)
                addresses = addresses | IpSet.of(ipaddress.ip_network(address))
            except ValueError:
                alerts.append(Alert("invalid-ip", f"{pod.source or 'pod'}: Pod {pod.id}: {ip!r} is not an IP "
                                    "address; ignored", f"Pod {pod.id}"))
        # Calico builds a named port's set from workload endpoints only; a hostNetwork pod has none (K8S-A8, K8S-A11),
        # so its declared names never resolve.
        named = frozenset((p.name, p.protocol, p.port) for p in pod.container_ports
                          if p.name and p.name in port_names and (init_container_ports or not p.init_container)
                          and not pod.host_network)
        ns_labels = dict(state.namespace_labels(pod.namespace))
        sa_key = (pod.namespace, pod.service_account)
        # What could not be read of the pod, as far as some policy could care.
        uncertain_labels = frozenset(k for k in pod.uncertain_labels if keys is None or k == "*" or k in keys)
        uncertain_ports = frozenset(u for u in pod.uncertain_ports if port_names and (u[0] is None or
                                                                                      u[0] in port_names))
        uncertain = bool(uncertain_labels or uncertain_ports or pod.uncertain_identity or pod.opaque)
        reason = f"{pod.workload_id}: could not be read: {'; '.join(pod.unreadable[:3]) or 'see the errors'}" \
            if uncertain else ""
        key = (pod.namespace, tuple(sorted(labels.items())), pod.service_account,
               tuple(sorted(sa_labels.get(sa_key, {}).items())), pod.host_network, frozenset(regions), named,
               bool(pod.ips)) + ((uncertain_labels, uncertain_ports, pod.uncertain_identity, pod.opaque, reason)
                                 if uncertain else ())
        cls = groups.get(key)
        if cls is None:
            info = EndpointInfo(
                external=False, namespace=pod.namespace, namespace_labels=ns_labels,
                namespace_labels_known=state.namespace_labels_known(pod.namespace), labels=labels,
                service_account=pod.service_account, service_account_labels=sa_labels.get(sa_key, {}),
                regions=frozenset(regions), addresses=addresses, host_network=pod.host_network,
                named_ports=named, key=key, uncertain_labels=uncertain_labels, uncertain_ports=uncertain_ports,
                uncertain_identity=pod.uncertain_identity, opaque=pod.opaque, uncertain_reason=reason)
            cls = EndpointClass(len(ordered), info)
            groups[key] = cls
            ordered.append(cls)
        cls.pods.append(pod)
        class_of_pod[pod.id] = cls.index

    pod_count = len(ordered)
    for region in space.regions:
        addresses = IpSet.of(region.cidr) - IpSet.of(*region.excepts)
        info = EndpointInfo(external=True, regions=frozenset([region.index]), addresses=addresses,
                            key=("region", region.index))
        ordered.append(EndpointClass(len(ordered), info, region=region))

    by_namespace: dict[str, int] = {}
    profiles: dict[tuple, int] = {}
    uncertain_by_reason: dict[str, int] = {}
    for cls in ordered:
        bit = 1 << cls.index
        if not cls.external:
            by_namespace[cls.info.namespace] = by_namespace.get(cls.info.namespace, 0) | bit
        profile = (cls.info.named_ports, cls.info.uncertain_ports)
        profiles[profile] = profiles.get(profile, 0) | bit
        if cls.info.uncertain:
            reason = cls.info.uncertain_reason
            uncertain_by_reason[reason] = uncertain_by_reason.get(reason, 0) | bit
    all_mask = (1 << len(ordered)) - 1
    return Universe(ordered, space, pod_count, by_namespace, (1 << pod_count) - 1, all_mask, class_of_pod,
                    profiles, alerts, uncertain_by_reason)
