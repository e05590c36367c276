"""Can every pod that depends on cluster DNS still reach it? The most common real outage of network policy.

A pod with dnsPolicy ClusterFirst (the default) sends queries to the kube-dns ClusterIP, which kube-proxy DNATs
to a CoreDNS pod: policy then judges the flow pod -> CoreDNS pod on 53/UDP and 53/TCP (docs/semantics.md DNS-D4). UDP
carries normal queries; TCP carries truncated (large) answers, so a TCP block is a quieter failure.

With NodeLocal DNSCache, queries end on the pod's own node at the link-local address (169.254.20.10) or, with
kube-proxy in iptables mode, at the kube-dns ClusterIP bound on the node: there is no CoreDNS pod in the path, so
the pod's egress must allow those addresses on port 53, and allows keyed on `k8s-app=kube-dns` do not help.

hostNetwork pods are left out: pod policy does not govern them (docs/semantics.md K8S-A11). Pods with dnsPolicy
Default or None do not use cluster DNS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.matrix import endpoint_id
from ..engine.services import FlowIndex, service_backends
from ..model import Pod
from ..sets.ports import PortSet

NODELOCAL_ADDRESS = "169.254.20.10"
DNS_SERVICE = ("kube-system", "kube-dns")


@dataclass
class DnsPath:
    kind: str  # "coredns" | "nodelocal" | "none"
    targets: list[str]  # what the pods must reach
    service: str


def dns_path(analysis, dns_service: tuple[str, str] = DNS_SERVICE) -> DnsPath:
    state = analysis.state
    nodelocal = [p for p in state.pods if p.namespace == "kube-system" and (
        p.labels.get("k8s-app") == "node-local-dns" or p.workload.endswith("/node-local-dns"))]
    svc = next((s for s in state.services if (s.namespace, s.name) == dns_service), None)
    service = f"{dns_service[0]}/{dns_service[1]}"
    if nodelocal:
        targets = [NODELOCAL_ADDRESS] + (list(svc.cluster_ips) if svc else [])
        return DnsPath("nodelocal", targets, service)
    if svc is None:
        return DnsPath("none", [], service)
    return DnsPath("coredns", [], service)


def uses_cluster_dns(pod) -> bool:
    if pod.host_network:
        return False
    return pod.dns_policy in ("ClusterFirst", "ClusterFirstWithHostNet")


@dataclass(frozen=True)
class DnsTarget:
    """An address a client's DNS queries end at, as policy sees them (after DNAT): a CoreDNS pod or a NodeLocal
    address, on one protocol and port."""

    id: str  # a pod id, or ip:<address>
    class_index: int
    protocol: str
    port: int


@dataclass
class ClientDns:
    """One workload that uses cluster DNS: whether its pods reach DNS, per protocol (UDP, TCP):
    allowed | denied | partial (some backends only) | unknown."""

    client: str  # the workload id
    pod: Pod  # one of its pods, to explain a denial with
    status: dict[str, str] = field(default_factory=dict)


@dataclass
class DnsReachability:
    path: DnsPath
    targets: list[DnsTarget]
    clients: list[ClientDns]  # statuses are filled only when there are targets


def dns_reachability(analysis, dns_service: tuple[str, str] = DNS_SERVICE) -> DnsReachability:
    """For every workload that uses cluster DNS, whether it reaches the DNS backends on 53/UDP and 53/TCP."""
    path = dns_path(analysis, dns_service)
    uni = analysis.universe
    members: dict[str, list] = {}
    for cls in uni.classes[:uni.pod_count]:
        for pod in cls.pods:
            if uses_cluster_dns(pod) and not (pod.namespace, pod.labels.get("k8s-app")) == ("kube-system",
                                                                                               "kube-dns"):
                members.setdefault(endpoint_id(pod, "workload"), []).append((cls.index, pod))
    clients = [ClientDns(client, found[0][1]) for client, found in sorted(members.items())]
    if path.kind == "none":
        return DnsReachability(path, [], clients)
    if path.kind == "coredns":
        targets = [DnsTarget(b.pod.id, uni.class_of_pod[b.pod.id], b.protocol, b.target_port)
                   for spb in service_backends(analysis.state)
                   if (spb.service.namespace, spb.service.name) == dns_service and spb.port.port == 53
                   for b in spb.backends if b.pod is not None and b.ready and b.target_port]
    else:
        targets = [DnsTarget(f"ip:{address}", uni.region_class(address).index, proto, 53)
                   for address in path.targets for proto in ("UDP", "TCP")]
    if not targets:
        return DnsReachability(path, targets, clients)
    index = FlowIndex(analysis)
    for client in clients:
        src = uni.class_of_pod[client.pod.id]
        for proto in ("UDP", "TCP"):
            results = []
            for target in targets:
                if target.protocol != proto:
                    continue
                allowed, unknown, _ = index.sets(src, target.class_index)
                probe = PortSet.ports(proto, target.port)
                results.append("allowed" if probe <= allowed else "unknown" if probe & unknown else "denied")
            if path.kind == "nodelocal":
                # Which address the pod uses depends on kube-proxy's mode: any one allowed may be enough.
                client.status[proto] = ("allowed" if "allowed" in results else "unknown" if "unknown" in results
                                        else "denied")
            else:
                client.status[proto] = ("allowed" if results and all(r == "allowed" for r in results) else
                                        "denied" if results and all(r == "denied" for r in results) else
                                        "partial" if "allowed" in results else "unknown")
    return DnsReachability(path, targets, clients)
