"""An independent reader of the Exposure contract (DESIGN.md): does an entry's peer cover a given peer?

Tests use it to check `netaudit exposure -o json` against what is known of the pods that exist: a peer is plain
facts (namespace and its labels, labels, service account, IPs, hostNetwork), read straight from the manifests, and
the entry is read as the contract words it, with none of auditor's engine. Calico selectors are evaluated with
auditor's parser of Calico's selector language (tested on its own, tests/unit/test_calico_selector.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from auditor.policy.selector import parse
from auditor.sets.ports import PortSet

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass
class PeerFacts:
    namespace: str | None = None  # None: an address outside the cluster
    namespace_labels: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    service_account: str = "default"
    service_account_labels: dict = field(default_factory=dict)
    ips: tuple = ()
    host_network: bool = False
    named_ports: tuple = ()  # (name, protocol, port)

    @property
    def pod(self) -> bool:
        """A pod with a workload endpoint: what pod selectors can match."""
        return self.namespace is not None and not self.host_network

    def wep_labels(self) -> dict:
        """The labels Calico gives this pod's workload endpoint (docs/semantics.md CAL-C4)."""
        labels = dict(self.labels)
        labels["projectcalico.org/namespace"] = self.namespace
        labels["projectcalico.org/orchestrator"] = "k8s"
        if len(self.service_account) < 63:
            labels["projectcalico.org/serviceaccount"] = self.service_account
        for key, value in self.ns_labels().items():
            labels["pcns." + key] = value
        labels["pcns.projectcalico.org/name"] = self.namespace
        for key, value in self.service_account_labels.items():
            labels["pcsa." + key] = value
        labels["pcsa.projectcalico.org/name"] = self.service_account
        return labels

    def ns_labels(self) -> dict:
        return {**self.namespace_labels, NAME_LABEL: self.namespace}


def label_selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels[key] not in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _address_in(facts: PeerFacts, cidr: str, excepts) -> bool:
    net = ipaddress.ip_network(cidr)
    for text in facts.ips:
        ip = ipaddress.ip_address(text)
        if ip.version == net.version and ip in net and not any(
                ip.version == ipaddress.ip_network(e).version and ip in ipaddress.ip_network(e) for e in excepts):
            return True
    return False


def _part(part: dict, labels: dict, calico_labels: dict | None = None) -> bool:
    if "names" in part:
        return labels.get(NAME_LABEL) in part["names"]
    if "selector" in part:
        return label_selector_matches(part["selector"], labels)
    return parse(part["calicoSelector"]).evaluate(calico_labels if calico_labels is not None else labels,
                                                  namespaced=False)


def peer_covers(peer: dict, facts: PeerFacts) -> bool:
    kind = peer["kind"]
    if kind == "External":
        if not _address_in(facts, peer["cidr"], peer.get("except") or []):
            return False
        return True
    if not facts.pod:
        return False
    if "within" in peer and not any(_address_in(facts, w["cidr"], w["except"]) for w in peer["within"]):
        return False
    if kind == "Cluster":
        return True
    assert kind == "Pods", kind
    ns_calico = {**facts.ns_labels(), "projectcalico.org/name": facts.namespace,
                 "projectcalico.org/namespace": facts.namespace}
    if not _part(peer["namespaces"], facts.ns_labels(), ns_calico):
        return False
    if not _part(peer["pods"], facts.labels, facts.wep_labels()):
        return False
    if "serviceAccounts" in peer:
        sa = peer["serviceAccounts"]
        sa_labels = {**facts.service_account_labels, "projectcalico.org/name": facts.service_account}
        if "names" in sa:
            if facts.service_account not in sa["names"]:
                return False
        elif not _part(sa, sa_labels):
            return False
    return True


def entry_covers(entry: dict, facts: PeerFacts) -> bool:
    if not peer_covers(entry["peer"], facts):
        return False
    return not any(peer_covers(cut, facts) for cut in entry.get("unless") or [])


def contract_ports(items: list[dict]) -> PortSet:
    out = PortSet.empty()
    for item in items:
        proto = item["protocol"]
        if "ports" in item:
            for low, high in item["ports"]:
                out = out | PortSet.ports(proto, low, high)
        elif proto in ("ICMP", "ICMPv6") and "types" not in item:
            out = out | PortSet.protocol(proto)
        elif proto in ("ICMP", "ICMPv6"):
            for icmp_type, code_low, code_high in item["types"]:  # type * 256 + code, as ports.py encodes them
                out = out | PortSet({proto: PortSet.protocol(proto).get(proto).span(icmp_type * 256 + code_low,
                                                                                     icmp_type * 256 + code_high)})
    return out


def named_ports(items: list[dict], facts: PeerFacts) -> PortSet:
    """The ports a peer gives the names in `items` (egress: named ports resolve on the peer), where the item's
    `ports`, if any, hold the number."""
    out = PortSet.empty()
    for item in items:
        for name, protocol, port in facts.named_ports:
            if name != item["name"] or item.get("protocol") not in (None, protocol):
                continue
            if "ports" in item and not PortSet.ports(protocol, port) <= contract_ports(item["ports"]):
                continue
            out = out | PortSet.ports(protocol, port)
    return out


def covered(document: dict, endpoint: str, direction: str, facts: PeerFacts,
            existing: bool = True) -> tuple[PortSet, PortSet]:
    """(allowed, unknown) the document's entries give the peer `facts` in `direction` of `endpoint` (egress
    named ports resolve on the peer). `existing`: the peer exists, so its address is known."""
    allowed = unknown = PortSet.empty()
    for entry in document["exposure"]:
        if entry["endpoint"] != endpoint or entry["direction"] != direction or entry["peer"]["kind"] == "Path":
            continue
        if not entry_covers(entry, facts):
            continue
        maybe = contract_ports(entry["unknown"]) | named_ports(entry.get("unknownNamedPorts") or [], facts)
        allowed = allowed | contract_ports(entry["allowed"]) | named_ports(entry.get("namedPorts") or [], facts)
        if entry.get("addressDependent") and facts.ips is not None and existing:
            # Unknown only for a pod yet to come, whose address is not known; for one that exists, the entry with
            # its `unless` (or `within`) is exact.
            allowed = allowed | maybe
        else:
            unknown = unknown | maybe
    return allowed, unknown - allowed
