"""networking.k8s.io/v1 NetworkPolicy -> IR, placed where Calico places it.

Calico converts each Kubernetes NetworkPolicy into policy `knp.default.<name>` in the `default` tier at order 1000
with Allow rules only (docs/semantics.md CAL-C2), so the Kubernetes union semantics (A3) fall out of the tier walk: the
first matching Allow wins, and an isolated endpoint that no rule allows hits the tier's default Deny.

Validation follows `pkg/apis/networking/validation/validation.go`. Offline manifests were never defaulted by an API
server, so `policyTypes` and `protocol` defaults are applied here (K8S-A2, K8S-A8). A part that cannot be understood
does not sink the whole policy: the broken peer, port or selector becomes an "unknown" matcher, so exactly the
verdicts it could change are reported as unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from ..model import Alert, PolicyObject
from ..sets.addresses import parse_network
from ..sets.ports import PORT_PROTOCOLS, PortSet
from .ir import (
    ANY,
    DEFAULT_TIER,
    EGRESS,
    INGRESS,
    Action,
    AddressBlock,
    AllOf,
    AnyOf,
    PodSelection,
    Policy,
    PortSpec,
    Rule,
    UnknownEndpoint,
)
from .labels import SelectorError, parse_label_selector

K8S_POLICY_ORDER = 1000.0
_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class InvalidField(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Translation:
    policy: Policy | None
    alerts: list[Alert] = field(default_factory=list)
    networks: set = field(default_factory=set)
    uses_ipv6: bool = False


def translate_network_policy(obj: PolicyObject) -> Translation:
    """Translate one Kubernetes NetworkPolicy; never raises for bad content."""
    out = Translation(None)
    where = obj.ref.located()
    namespace = obj.namespace or "default"

    def problem(field_path: str, message: str, code: str = "invalid-field") -> str:
        """A piece that could not be read: an error (input not read); what it could change becomes unknown."""
        text = f"{field_path}: {message}"
        out.alerts.append(Alert(code, f"{where}: {text}", str(obj.ref), "error", obj.source))
        return text

    spec = obj.spec
    if not isinstance(spec, Mapping):
        reason = problem("spec", "must be an object")
        out.policy = _unknown_policy(obj, namespace, reason)
        return out

    # spec.podSelector: required in the API; a missing one decodes to {} (all pods), which is what the server stores.
    raw_selector = spec.get("podSelector")
    selector_unknown = None
    if raw_selector is None:
        out.alerts.append(Alert("missing-field", f"{where}: spec.podSelector is missing; read as {{}} (every pod in "
                                f"{namespace}), as the API server decodes it", str(obj.ref)))
        pod_selector = parse_label_selector({})
    else:
        try:
            pod_selector = parse_label_selector(raw_selector, "spec.podSelector")
        except SelectorError as err:
            selector_unknown = problem(err.field, err.message)
            pod_selector = None
    selection = PodSelection(namespace=namespace, pod_selector=pod_selector)
    selector = selection if selector_unknown is None else AllOf((PodSelection(namespace=namespace),
                                                                 UnknownEndpoint(selector_unknown)))

    ingress_raw = spec.get("ingress")
    egress_raw = spec.get("egress")
    types_raw = spec.get("policyTypes")
    try:
        types = _policy_types(types_raw, egress_raw)
    except InvalidField as err:
        reason = problem(err.field, err.message)
        out.policy = _unknown_policy(obj, namespace, reason)
        return out

    def rules_for(direction: str, raw: object) -> tuple[Rule, ...] | None:
        if direction not in types:
            if raw:
                out.alerts.append(Alert(
                    "rules-ignored",
                    f"{where}: spec.{direction} has rules but policyTypes is {types}: the API server keeps them but "
                    f"they have no effect (Calico ignores them with a warning)", str(obj.ref)))
            return None
        if raw is None:
            return ()
        if not isinstance(raw, list):
            reason = problem(f"spec.{direction}", "must be a list of rules")
            return (Rule(Action.ALLOW, UnknownEndpoint(reason), index=0, text=f"{direction} (invalid)"),)
        return tuple(rule for i, r in enumerate(raw) for rule in _rule(direction, i, r, namespace, out, problem))

    out.policy = Policy(
        ref=obj.ref,
        tier=DEFAULT_TIER.name,
        order=K8S_POLICY_ORDER,
        selector=selector,
        ingress=rules_for(INGRESS, ingress_raw),
        egress=rules_for(EGRESS, egress_raw),
        name=f"knp.default.{obj.name}",
    )
    return out


def _policy_types(raw: object, egress_raw: object) -> tuple[str, ...]:
    """Apply the API server's default (docs/semantics.md K8S-A2): [Ingress], plus Egress if egress rules exist."""
    if raw is None or raw == []:
        types = [INGRESS]
        if isinstance(egress_raw, list) and len(egress_raw) > 0:
            types.append(EGRESS)
        return tuple(types)
    if not isinstance(raw, list):
        raise InvalidField("spec.policyTypes", "must be a list of Ingress and/or Egress")
    types = []
    for i, value in enumerate(raw):
        if value not in ("Ingress", "Egress"):
            raise InvalidField(f"spec.policyTypes[{i}]", f"{value!r} is not Ingress or Egress")
        if value.lower() in types:
            raise InvalidField(f"spec.policyTypes[{i}]", f"duplicate value {value!r}")
        types.append(value.lower())
    return tuple(types)


def _rule(direction: str, index: int, raw: object, namespace: str, out: Translation, problem) -> list[Rule]:
    """One rule of the API; two in the IR when some of its port entries cannot be read: the rule on the ports
    that can (exact), and a maybe-match of its peers on whatever the unreadable entries could name."""
    base = f"spec.{direction}[{index}]"
    peers_key = "from" if direction == INGRESS else "to"
    if not isinstance(raw, Mapping):
        reason = problem(base, "must be an object with " + peers_key + " and ports")
        return [Rule(Action.ALLOW, UnknownEndpoint(reason), index=index, text=base)]
    raw_peers = raw.get(peers_key)
    raw_ports = raw.get("ports")

    if raw_peers is None or raw_peers == []:
        peer = ANY  # absent or empty: any peer (K8S-A4)
    elif not isinstance(raw_peers, list):
        peer = UnknownEndpoint(problem(f"{base}.{peers_key}", "must be a list of peers"))
    else:
        options = []
        for j, raw_peer in enumerate(raw_peers):
            try:
                options.append(_peer(f"{base}.{peers_key}[{j}]", raw_peer, namespace, out, problem))
            except (InvalidField, SelectorError) as err:
                options.append(UnknownEndpoint(problem(err.field, err.message)))
        peer = options[0] if len(options) == 1 else AnyOf(tuple(options))

    try:
        ports, unreadable = _ports(f"{base}.ports", raw_ports)
    except InvalidField as err:
        reason = problem(err.field, err.message)
        # The peer part is still known: only endpoints it matches are uncertain, on every port.
        return [Rule(Action.ALLOW, AllOf((peer, UnknownEndpoint(reason))), index=index, text=base)]
    if not unreadable:
        return [Rule(Action.ALLOW, peer, ports, index=index, text=base)]
    # Port entries that cannot be read: the others stay exact; what those could name (any port of their
    # protocol, when it is known) is a maybe for the peers the rule matches.
    reasons = [problem(err.field, err.message) for err, _ in unreadable]
    could = PortSet.empty()
    for _, protocol in unreadable:
        could = could | (PortSet.protocol(protocol) if protocol else PortSet.all())
    rules = [Rule(Action.ALLOW, peer, ports, index=index, text=base)] if ports.numeric or ports.named else []
    rules.append(Rule(Action.ALLOW, AllOf((peer, UnknownEndpoint("; ".join(reasons)))), PortSpec(could),
                      index=index, text=f"{base} (its unreadable port entries)"))
    return rules


def _peer(where: str, raw: object, namespace: str, out: Translation, problem=None):
    if not isinstance(raw, Mapping):
        raise InvalidField(where, "must be an object with podSelector, namespaceSelector or ipBlock")
    unknown = set(raw) - {"podSelector", "namespaceSelector", "ipBlock"}
    if unknown:
        raise InvalidField(where, f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    has_pods = raw.get("podSelector") is not None
    has_ns = raw.get("namespaceSelector") is not None
    has_ip = raw.get("ipBlock") is not None
    if not (has_pods or has_ns or has_ip):
        raise InvalidField(where, "must specify a peer: podSelector, namespaceSelector or ipBlock")
    if has_ip:
        if has_pods or has_ns:
            raise InvalidField(where, "ipBlock may not be combined with podSelector or namespaceSelector")
        return _ip_block(f"{where}.ipBlock", raw["ipBlock"], out)
    # A selector that cannot be read leaves the peer a pod peer: a maybe for pods in its reach (its namespace, or the
    # namespaces the other selector picks), never for addresses outside the cluster or hostNetwork pods.
    unreadable: list[str] = []

    def selector(key: str):
        try:
            return parse_label_selector(raw[key], f"{where}.{key}")
        except SelectorError as err:
            if problem is None:
                raise
            unreadable.append(problem(err.field, err.message))
            return None

    pod_selector = selector("podSelector") if has_pods else None
    if has_ns:
        ns_selector = selector("namespaceSelector")
        selection = PodSelection(namespace_selector=ns_selector, pod_selector=pod_selector) \
            if ns_selector is not None else PodSelection(pod_selector=pod_selector)
    else:
        selection = PodSelection(namespace=namespace, pod_selector=pod_selector)
    return AllOf((selection, UnknownEndpoint("; ".join(unreadable)))) if unreadable else selection


def _ip_block(where: str, raw: object, out: Translation) -> AddressBlock:
    if not isinstance(raw, Mapping):
        raise InvalidField(where, "must be an object with cidr and except")
    cidr_text = raw.get("cidr")
    if not cidr_text:
        raise InvalidField(f"{where}.cidr", "is required")
    try:
        cidr = parse_network(str(cidr_text))
    except ValueError as err:
        raise InvalidField(f"{where}.cidr", f"{cidr_text!r} is not a valid CIDR ({err})") from None
    excepts = []
    for i, text in enumerate(raw.get("except") or []):
        try:
            net = parse_network(str(text))
        except ValueError as err:
            raise InvalidField(f"{where}.except[{i}]", f"{text!r} is not a valid CIDR ({err})") from None
        if net.version != cidr.version or not net.subnet_of(cidr) or net == cidr:
            raise InvalidField(f"{where}.except[{i}]", f"{text} must be a strict subset of cidr {cidr}")
        excepts.append(net)
    out.networks.add(cidr)
    out.networks.update(excepts)
    out.uses_ipv6 = out.uses_ipv6 or cidr.version == 6
    return AddressBlock((cidr,), tuple(excepts))


def _ports(where: str, raw: object) -> tuple[PortSpec, list[tuple[InvalidField, str | None]]]:
    """The ports of a rule, and the entries that cannot be read (with their protocol when it is known)."""
    if raw is None or raw == []:
        return PortSpec(), []  # no ports: every port of every protocol, ICMP included (K8S-A4, K8S-A10)
    if not isinstance(raw, list):
        raise InvalidField(where, "must be a list of {protocol, port, endPort}")
    numeric = PortSet.empty()
    named: list[tuple[str, str]] = []
    unreadable: list[tuple[InvalidField, str | None]] = []
    for i, entry in enumerate(raw):
        try:
            ports, name = _port_entry(f"{where}[{i}]", entry)
        except InvalidField as err:
            protocol = (entry.get("protocol") or "TCP") if isinstance(entry, Mapping) else None
            known = protocol if protocol in PORT_PROTOCOLS and not err.field.endswith(".protocol") else None
            unreadable.append((err, known))
            continue
        numeric = numeric | ports
        if name is not None:
            named.append(name)
    return PortSpec(numeric, tuple(named)), unreadable


def _port_entry(item: str, entry: object) -> tuple[PortSet, tuple[str, str] | None]:
    """One entry of a rule's ports: its numeric ports, or its (protocol, name)."""
    if not isinstance(entry, Mapping):
        raise InvalidField(item, "must be an object with protocol, port and endPort")
    protocol = entry.get("protocol", "TCP")
    if protocol is None:
        protocol = "TCP"
    if protocol not in PORT_PROTOCOLS:
        raise InvalidField(f"{item}.protocol", f"{protocol!r} is not TCP, UDP or SCTP")
    port = entry.get("port")
    end_port = entry.get("endPort")
    if port is None:
        if end_port is not None:
            raise InvalidField(f"{item}.endPort", "may not be set without a numeric port")
        return PortSet.protocol(protocol), None
    if isinstance(port, bool):
        raise InvalidField(f"{item}.port", f"{port!r} is not a port number or name")
    if isinstance(port, int):
        if not 1 <= port <= 65535:
            raise InvalidField(f"{item}.port", f"{port} must be between 1 and 65535")
        if end_port is None:
            return PortSet.ports(protocol, port), None
        if isinstance(end_port, bool) or not isinstance(end_port, int):
            raise InvalidField(f"{item}.endPort", f"{end_port!r} must be a number")
        if end_port < port:
            raise InvalidField(f"{item}.endPort", f"{end_port} must be at least port ({port})")
        if end_port > 65535:
            raise InvalidField(f"{item}.endPort", f"{end_port} must be at most 65535")
        return PortSet.ports(protocol, port, end_port), None
    if not isinstance(port, str):
        raise InvalidField(f"{item}.port", f"{port!r} is not a port number or name")
    if end_port is not None:
        raise InvalidField(f"{item}.endPort", "may not be used with a named port")
    problem = validate_port_name(port)
    if problem:
        raise InvalidField(f"{item}.port", problem)
    return PortSet.empty(), (protocol, port)


def validate_port_name(name: str) -> str | None:
    """IANA_SVC_NAME as apimachinery checks it; the hint catches a quoted number such as ``"80"``."""
    if name.isdigit():
        return f"{name!r} is a string: write the number without quotes, or use a port name"
    if len(name) > 15:
        return f"port name {name!r} must be at most 15 characters"
    if not _SVC_NAME.match(name) or "--" in name or not any(c.isalpha() for c in name):
        return (f"port name {name!r} must be lowercase letters, digits and '-', contain a letter, and not start, "
                "end or repeat '-'")
    return None


def _unknown_policy(obj: PolicyObject, namespace: str, reason: str) -> Policy:
    """A policy we cannot read at all: it may isolate any pod of its namespace and allow anything."""
    maybe_rule = (Rule(Action.ALLOW, UnknownEndpoint(reason), index=0, text="(unreadable)"),)
    return Policy(
        ref=obj.ref, tier=DEFAULT_TIER.name, order=K8S_POLICY_ORDER,
        selector=AllOf((PodSelection(namespace=namespace), UnknownEndpoint(reason))),
        ingress=maybe_rule, egress=maybe_rule, name=f"knp.default.{obj.name}",
    )
