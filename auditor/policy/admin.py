"""AdminNetworkPolicy, BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy (v1alpha2/v1beta1) -> IR.

The API's order is Admin tier -> NetworkPolicy -> Baseline tier -> allow (docs/semantics.md ADM-B4, ADM-V2). In
the IR that is the tiers Calico uses: an admin tier before `default` and a baseline tier after it, both with
default action Pass, so a Pass (or no match) falls through to the next layer, and the baseline tier is reached only
when no default-tier policy selected the endpoint (the default tier ends in Deny when it applies).

Where Calico's conversion differs from the API, and a Calico version is known (live: ClusterInformation; offline:
--calico-version), the verdict follows what that Calico really enforces:
- before v3.29 no admin policy is enforced; v3.29 enforces ANP only; v3.30-v3.31 ANP and BANP;
  v3.32 and later ClusterNetworkPolicy only (ANP/BANP are ignored);
- ANP `namedPort` is converted with no port in v3.30-v3.31 (the rule matches every port and protocol);
- `nodes` and `domainNames` peers are not converted, and a rule with one such peer fails as a whole, its other
  peers included: a failed Deny or Pass becomes deny-all, a failed Allow is dropped (docs/semantics.md ADM-V3).
Without a version, the API's own semantics apply, and what we cannot evaluate (nodes, domain names) is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..model import Alert, PolicyObject
from ..sets.addresses import parse_network
from ..sets.ports import PORT_PROTOCOLS, PortSet
from .ir import (
    ANY,
    EGRESS,
    INGRESS,
    NOTHING,
    Action,
    AddressBlock,
    AllOf,
    AnyOf,
    PodSelection,
    Policy,
    PortSpec,
    Rule,
    Tier,
    Tri,
    UnknownEndpoint,
)
from .kubernetes import InvalidField, Translation
from .labels import SelectorError, parse_label_selector

ADMIN_TIER = Tier("adminnetworkpolicy", 1000.0, Action.PASS)
BASELINE_TIER = Tier("baselineadminnetworkpolicy", 10_000_000.0, Action.PASS)
CNP_ADMIN_TIER = Tier("kube-admin", 1000.0, Action.PASS)
CNP_BASELINE_TIER = Tier("kube-baseline", 10_000_000.0, Action.PASS)
ADMIN_TIERS = (ADMIN_TIER, BASELINE_TIER, CNP_ADMIN_TIER, CNP_BASELINE_TIER)

ANP_ACTIONS = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}
BANP_ACTIONS = {"Allow": Action.ALLOW, "Deny": Action.DENY}
CNP_ACTIONS = {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}


def parse_version(text: str | None) -> tuple[int, int] | None:
    """'v3.31.2' or '3.31' -> (3, 31); None or unparseable -> None."""
    if not text:
        return None
    parts = str(text).lstrip("vV").split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def enforced_by_calico(kind: str, version: tuple[int, int] | None) -> str | None:
    """Why Calico at `version` ignores this kind, or None when it enforces it (or no version is known)."""
    if version is None:
        return None
    if kind == "ClusterNetworkPolicy":
        return None if version >= (3, 32) else "ClusterNetworkPolicy is implemented from Calico v3.32"
    if version >= (3, 32):
        return f"Calico v3.32 and later ignore {kind} (replaced by ClusterNetworkPolicy)"
    if kind == "AdminNetworkPolicy" and version < (3, 29):
        return "AdminNetworkPolicy is enforced from Calico v3.29"
    if kind == "BaselineAdminNetworkPolicy" and version < (3, 30):
        return "BaselineAdminNetworkPolicy is enforced from Calico v3.30"
    return None


def translate_admin_policy(obj: PolicyObject, calico_version: str | None = None) -> Translation:
    out = Translation(None)
    version = parse_version(calico_version)
    kind = obj.kind
    where = obj.ref.located()

    def alert(code: str, message: str, severity: str | None = None) -> None:
        # invalid-field: a piece of the policy could not be read and is unknown (an error: input not read)
        severity = severity or ("error" if code == "invalid-field" else "warning")
        out.alerts.append(Alert(code, f"{where}: {message}", str(obj.ref), severity, obj.source))

    ignored = enforced_by_calico(kind, version)
    if ignored:
        alert("admin-policy-ignored", f"{ignored}: it has no effect on this cluster (Calico {calico_version})")
        return out
    spec = obj.spec
    if not isinstance(spec, Mapping):
        alert("invalid-field", "spec: must be an object")
        out.policy = _unknown(obj, "spec is not an object")
        return out

    if kind == "ClusterNetworkPolicy":
        tier_name = spec.get("tier")
        if tier_name not in ("Admin", "Baseline"):
            alert("invalid-field", f"spec.tier: {tier_name!r} is not Admin or Baseline")
            out.policy = _unknown(obj, "spec.tier is invalid")
            return out
        tier = CNP_ADMIN_TIER if tier_name == "Admin" else CNP_BASELINE_TIER
        actions = CNP_ACTIONS
    elif kind == "AdminNetworkPolicy":
        tier, actions = ADMIN_TIER, ANP_ACTIONS
    else:
        tier, actions = BASELINE_TIER, BANP_ACTIONS
        if obj.name != "default":
            alert("invalid-field", "metadata.name: a BaselineAdminNetworkPolicy must be named 'default' (the API "
                  "server rejects any other name); it is evaluated anyway", "warning")

    if kind == "BaselineAdminNetworkPolicy":
        order = 1000.0
    else:
        priority = spec.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            alert("invalid-field", f"spec.priority: {priority!r} must be a number from 0 to 1000")
            out.policy = _unknown(obj, "spec.priority is invalid")
            return out
        order = float(priority)

    try:
        subject = _subject(spec.get("subject"))
    except (InvalidField, SelectorError) as err:
        alert("invalid-field", f"{err.field}: {err.message}")
        out.policy = _unknown(obj, f"{err.field} is invalid")
        return out

    def rules_for(direction: str) -> tuple[Rule, ...] | None:
        raw = spec.get(direction)
        if raw is None or raw == []:
            return None  # no rules: the policy has no effect on this direction (no isolation)
        if not isinstance(raw, list):
            alert("invalid-field", f"spec.{direction}: must be a list of rules")
            return (Rule(Action.DENY, UnknownEndpoint(f"spec.{direction} is invalid"), index=0),)
        return tuple(_rule(obj, direction, i, r, actions, version, out, alert) for i, r in enumerate(raw))

    out.policy = Policy(ref=obj.ref, tier=tier.name, order=order, selector=subject, ingress=rules_for("ingress"),
                        egress=rules_for("egress"), name=_calico_name(obj))
    return out


def _calico_name(obj: PolicyObject) -> str:
    prefix = {"AdminNetworkPolicy": "kanp.adminnetworkpolicy", "BaselineAdminNetworkPolicy":
              "kbanp.baselineadminnetworkpolicy", "ClusterNetworkPolicy": "kcnp"}[obj.kind]
    return f"{prefix}.{obj.name}"


def _subject(raw: object) -> PodSelection:
    if not isinstance(raw, Mapping) or len([k for k in ("namespaces", "pods") if raw.get(k) is not None]) != 1:
        raise InvalidField("spec.subject", "must set exactly one of namespaces or pods")
    if raw.get("namespaces") is not None:
        return PodSelection(namespace_selector=parse_label_selector(raw["namespaces"], "spec.subject.namespaces"))
    return _namespaced_pods(raw["pods"], "spec.subject.pods")


def _namespaced_pods(raw: object, where: str) -> PodSelection:
    if not isinstance(raw, Mapping):
        raise InvalidField(where, "must be an object with namespaceSelector and podSelector")
    ns = parse_label_selector(raw.get("namespaceSelector") or {}, f"{where}.namespaceSelector")
    pods = parse_label_selector(raw.get("podSelector") or {}, f"{where}.podSelector")
    return PodSelection(namespace_selector=ns, pod_selector=pods)


def _rule(obj: PolicyObject, direction: str, index: int, raw: object, actions: dict,
          version: tuple[int, int] | None, out: Translation, alert) -> Rule:
    base = f"spec.{direction}[{index}]"
    if not isinstance(raw, Mapping):
        alert("invalid-field", f"{base}: must be an object")
        return Rule(Action.DENY, UnknownEndpoint(f"{base} is invalid"), index=index, text=base)
    name = raw.get("name")
    text = f"{base}" + (f" ({name})" if name else "")
    action = actions.get(raw.get("action"))
    if action is None:
        alert("invalid-field", f"{base}.action: {raw.get('action')!r} is not one of {', '.join(actions)}")
        return Rule(Action.DENY, UnknownEndpoint(f"{base}.action is invalid"), index=index, text=text)
    peers_key = "from" if direction == INGRESS else "to"
    raw_peers = raw.get(peers_key)
    if not isinstance(raw_peers, list) or not raw_peers:
        alert("invalid-field", f"{base}.{peers_key}: must list at least one peer")
        return Rule(action, UnknownEndpoint(f"{base}.{peers_key} is invalid"), index=index, text=text)

    options = []
    fail_closed = False
    for j, peer in enumerate(raw_peers):
        where = f"{base}.{peers_key}[{j}]"
        try:
            matcher = _peer(peer, where, direction, version, out, alert)
        except (InvalidField, SelectorError) as err:
            alert("invalid-field", f"{err.field}: {err.message}")
            matcher = UnknownEndpoint(f"{err.field} is invalid")
        if matcher is FAIL_CLOSED:
            fail_closed = True
            continue
        options.append(matcher)
    if fail_closed and version is not None:
        # Calico's converters fail the whole rule at a peer they cannot convert ("none of supported fields in 'To'
        # is set", combinePortsWithANPEgressPeers v3.29-v3.31, combinePortsWithCNPEgressPeers v3.32), and then
        # k8sANPHandleFailedRules / k8sClusterNetPolHandleFailedRules replace a failed Deny or Pass by a plain
        # deny-all rule, k8sBANPHandleFailedRules a failed Deny; a failed Allow is dropped with all its peers
        # (docs/semantics.md ADM-V3).
        if action is Action.ALLOW:
            return Rule(action, NOTHING, index=index, text=text + " (not converted by Calico: dropped, its other "
                        "peers included)")
        return Rule(Action.DENY, ANY, index=index, text=text + " (not converted by Calico: deny all)")
    if fail_closed and action is not Action.ALLOW:
        # The API: a Deny/Pass rule with a peer it cannot understand denies everything (ADM-B7).
        return Rule(Action.DENY, ANY, index=index, text=text + " (fail closed: deny all)")
    # The API, Allow: a peer it cannot understand matches nothing; the rule's other peers still match (ADM-B7).
    peer_matcher = options[0] if len(options) == 1 else AnyOf(tuple(options)) if options else NOTHING

    try:
        if obj.kind == "ClusterNetworkPolicy":
            ports = _cnp_protocols(raw.get("protocols"), f"{base}.protocols")
        else:
            ports = _anp_ports(raw.get("ports"), f"{base}.ports", version, alert)
    except InvalidField as err:
        alert("invalid-field", f"{err.field}: {err.message}")
        return Rule(action, AllOf((peer_matcher, UnknownEndpoint(f"{err.field} is invalid"))), index=index,
                    text=text)
    return Rule(action, peer_matcher, ports, index=index, text=text)


FAIL_CLOSED = "fail-closed"  # what _peer returns for a peer the API or Calico cannot understand


def _peer(raw: object, where: str, direction: str, version, out: Translation, alert):
    if not isinstance(raw, Mapping):
        raise InvalidField(where, "must be an object")
    known = {"namespaces", "pods"} | ({"networks", "nodes", "domainNames"} if direction == EGRESS else set())
    present = [k for k, v in raw.items() if v is not None]
    recognised = [k for k in present if k in known]
    if len(recognised) != 1 or len(present) != 1:
        # The API: a peer with no field we know is from a newer CRD: fail closed.
        alert("admin-peer-unknown", f"{where}: {'set ' + ', '.join(present) if present else 'empty'}: not exactly "
              "one known peer type; " + (_CALICO_FAILS if version is not None else "the rule fails closed as the "
                                         "API requires (in an Allow this peer matches nothing, a Deny or Pass "
                                         "denies all)"))
        return FAIL_CLOSED
    key = recognised[0]
    value = raw[key]
    if key == "namespaces":
        return PodSelection(namespace_selector=parse_label_selector(value, f"{where}.namespaces"))
    if key == "pods":
        return _namespaced_pods(value, f"{where}.pods")
    if key == "networks":
        if not isinstance(value, list) or not value:
            raise InvalidField(f"{where}.networks", "must list at least one CIDR")
        nets = []
        for i, text in enumerate(value):
            try:
                net = parse_network(str(text))
            except ValueError as err:
                raise InvalidField(f"{where}.networks[{i}]", f"{text!r} is not a valid CIDR ({err})") from None
            nets.append(net)
            out.uses_ipv6 = out.uses_ipv6 or net.version == 6
        out.networks.update(nets)
        return AddressBlock(tuple(nets))
    # nodes / domainNames
    if version is not None:
        alert("admin-peer-not-converted", f"{where}.{key}: Calico does not convert {key} peers; " + _CALICO_FAILS)
        return FAIL_CLOSED
    what = "node IPs" if key == "nodes" else "domain names"
    alert("admin-peer-unmodelled", f"{where}.{key}: netaudit does not resolve {what}; flows this rule could match "
          "are unknown")
    if key == "nodes":
        return NodeAddresses(f"{where}.nodes: node IPs are not modelled")
    return UnknownEndpoint(f"{where}.{key}: {what} are not modelled")


_CALICO_FAILS = ("Calico fails the whole rule, its other peers included: an Allow rule is dropped, a Deny or Pass "
                 "rule becomes deny-all")


@dataclass(frozen=True)
class NodeAddresses:
    """An ANP/CNP `nodes` peer: the IPs in node.status.addresses. netaudit does not read Nodes, so any address
    that could be a node's is a maybe: external addresses and hostNetwork pods (which carry their node's IP).
    An ordinary pod never has a node's IP, so it never matches."""

    reason: str

    def match(self, ep) -> Tri:
        return None if ep.external or ep.host_network else False

    def describe(self) -> str:
        return "nodes (addresses unknown)"

    @property
    def unknown_reasons(self) -> frozenset[str]:
        return frozenset([self.reason])


def _anp_ports(raw: object, where: str, version, alert) -> PortSpec:
    if raw is None:
        return PortSpec()
    if not isinstance(raw, list) or not raw:
        raise InvalidField(where, "must list at least one port")
    numeric = PortSet.empty()
    named = []
    for i, entry in enumerate(raw):
        item = f"{where}[{i}]"
        if not isinstance(entry, Mapping) or len([k for k, v in entry.items() if v is not None]) != 1:
            raise InvalidField(item, "must set exactly one of portNumber, portRange or namedPort")
        if entry.get("portNumber") is not None:
            value = entry["portNumber"]
            protocol = _protocol(value.get("protocol") if isinstance(value, Mapping) else None, f"{item}.portNumber")
            port = value.get("port") if isinstance(value, Mapping) else None
            _check_port(port, f"{item}.portNumber.port")
            numeric = numeric | PortSet.ports(protocol, port)
        elif entry.get("portRange") is not None:
            value = entry["portRange"]
            if not isinstance(value, Mapping):
                raise InvalidField(f"{item}.portRange", "must be an object with protocol, start and end")
            protocol = _protocol(value.get("protocol"), f"{item}.portRange")
            start, end = value.get("start"), value.get("end")
            _check_port(start, f"{item}.portRange.start")
            _check_port(end, f"{item}.portRange.end")
            if start >= end:
                raise InvalidField(f"{item}.portRange", f"start ({start}) must be less than end ({end})")
            numeric = numeric | PortSet.ports(protocol, start, end)
        elif entry.get("namedPort") is not None:
            name = entry["namedPort"]
            if not isinstance(name, str) or not name:
                raise InvalidField(f"{item}.namedPort", "must be a port name")
            if version is not None and version < (3, 32):
                alert("anp-named-port", f"{item}.namedPort {name!r}: Calico v{version[0]}.{version[1]} converts a "
                      "named port with no port at all, so this rule matches every port and protocol")
                return PortSpec()
            named.append((None, name))
        else:
            raise InvalidField(item, "must set exactly one of portNumber, portRange or namedPort")
    return PortSpec(numeric, tuple(named))


def _cnp_protocols(raw: object, where: str) -> PortSpec:
    if raw is None:
        return PortSpec()
    if not isinstance(raw, list) or not raw:
        raise InvalidField(where, "must list at least one protocol match")
    numeric = PortSet.empty()
    named = []
    for i, entry in enumerate(raw):
        item = f"{where}[{i}]"
        if not isinstance(entry, Mapping) or len([k for k, v in entry.items() if v is not None]) != 1:
            raise InvalidField(item, "must set exactly one of tcp, udp, sctp or destinationNamedPort")
        key, value = next((k, v) for k, v in entry.items() if v is not None)
        if key == "destinationNamedPort":
            if not isinstance(value, str) or not value:
                raise InvalidField(f"{item}.destinationNamedPort", "must be a port name")
            named.append((None, value))
            continue
        protocol = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}.get(key)
        if protocol is None:
            raise InvalidField(f"{item}.{key}", "is not tcp, udp, sctp or destinationNamedPort")
        port = (value or {}).get("destinationPort") if isinstance(value, Mapping) else None
        if not isinstance(port, Mapping):
            raise InvalidField(f"{item}.{key}.destinationPort", "is required (number or range)")
        if port.get("number") is not None:
            _check_port(port["number"], f"{item}.{key}.destinationPort.number")
            numeric = numeric | PortSet.ports(protocol, port["number"])
        elif isinstance(port.get("range"), Mapping):
            start, end = port["range"].get("start"), port["range"].get("end")
            _check_port(start, f"{item}.{key}.destinationPort.range.start")
            _check_port(end, f"{item}.{key}.destinationPort.range.end")
            if start >= end:
                raise InvalidField(f"{item}.{key}.destinationPort.range", f"start ({start}) must be less than end")
            numeric = numeric | PortSet.ports(protocol, start, end)
        else:
            raise InvalidField(f"{item}.{key}.destinationPort", "must set number or range")
    return PortSpec(numeric, tuple(named))


def _protocol(value: object, where: str) -> str:
    protocol = value or "TCP"  # the CRD defaults protocol to TCP
    if protocol not in PORT_PROTOCOLS:
        raise InvalidField(f"{where}.protocol", f"{protocol!r} is not TCP, UDP or SCTP")
    return protocol


def _check_port(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidField(where, f"{value!r} must be a port number from 1 to 65535")


def _unknown(obj: PolicyObject, reason: str) -> Policy:
    unknown = UnknownEndpoint(f"{obj.ref}: {reason}")
    tier = {"AdminNetworkPolicy": ADMIN_TIER, "BaselineAdminNetworkPolicy": BASELINE_TIER}.get(obj.kind, CNP_ADMIN_TIER)
    rules = (Rule(Action.ALLOW, unknown, index=0, text="(invalid)"), Rule(Action.DENY, unknown, index=1,
                                                                           text="(invalid)"))
    return Policy(ref=obj.ref, tier=tier.name, order=None, selector=AllOf((PodSelection(), unknown)), ingress=rules,
                  egress=rules, name=_calico_name(obj))
