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

from dataclasses import dataclass

from ..engine.explain import explain
from ..engine.matrix import endpoint_id
from ..engine.ports import PortSet
from ..engine.services import FlowIndex, service_backends
from ..findings import Finding

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


def dns_findings(analysis, dns_service: tuple[str, str] = DNS_SERVICE) -> list[Finding]:
    path = dns_path(analysis, dns_service)
    uni = analysis.universe
    clients: dict[str, list] = {}
    for cls in uni.classes[:uni.pod_count]:
        for pod in cls.pods:
            if uses_cluster_dns(pod) and not (pod.namespace, pod.labels.get("k8s-app")) == ("kube-system",
                                                                                               "kube-dns"):
                clients.setdefault(endpoint_id(pod, "workload"), []).append((cls.index, pod))
    if path.kind == "none":
        if not clients:
            return []
        return [Finding("dns-service-missing", "info", f"no DNS Service {path.service} in the input: DNS reachability "
                        "was not checked", (f"Service {path.service}",),
                        "read the cluster live, or include the kube-dns Service and CoreDNS in the manifests")]
    index = FlowIndex(analysis)
    findings = []
    if path.kind == "coredns":
        targets = [(b.pod.id, uni.class_of_pod[b.pod.id], b.protocol, b.target_port)
                   for spb in service_backends(analysis.state)
                   if (spb.service.namespace, spb.service.name) == dns_service and spb.port.port == 53
                   for b in spb.backends if b.pod is not None and b.ready and b.target_port]
        if not targets:
            return [Finding("dns-no-backends", "high", f"the DNS Service {path.service} has no ready backends on "
                            "port 53", (f"Service {path.service}",), "check the CoreDNS Deployment")]
    else:
        targets = [(f"ip:{address}", uni.region_class(address).index, proto, 53)
                   for address in path.targets for proto in ("UDP", "TCP")]

    for client, members in sorted(clients.items()):
        src, pod = members[0]
        status = {}
        for proto in ("UDP", "TCP"):
            wanted = [t for t in targets if t[2] == proto]
            results = []
            for _target, dst, _, port in wanted:
                allowed, unknown, _ = index.sets(src, dst)
                probe = PortSet.ports(proto, port)
                results.append("allowed" if probe <= allowed else "unknown" if probe & unknown else "denied")
            if path.kind == "nodelocal":
                # Which address the pod uses depends on kube-proxy's mode: any one allowed may be enough.
                status[proto] = "allowed" if "allowed" in results else "unknown" if "unknown" in results else "denied"
            else:
                status[proto] = ("allowed" if results and all(r == "allowed" for r in results) else
                                 "denied" if results and all(r == "denied" for r in results) else
                                 "partial" if "allowed" in results else "unknown")
        findings.extend(_client_findings(analysis, client, pod, status, path, targets))
    return findings


def _blockers(analysis, pod, target) -> list[str]:
    """The policies that decide the denial, named from the explain trace of one blocked query."""
    target_id, _, proto, port = target
    exp = explain(analysis, pod.id, target_id, proto, port)
    names = []
    for trace in (exp.egress, exp.ingress):
        if trace.verdict == "denied":
            for tier in trace.tiers:
                names.extend(p for p, selected in tier.policies if selected is not False)
    return list(dict.fromkeys(names))


def _client_findings(analysis, client, pod, status, path: DnsPath, targets) -> list[Finding]:
    if path.kind == "nodelocal":
        where = f"NodeLocal DNSCache ({', '.join(path.targets)}) on 53"
        hint = (f"allow egress to {NODELOCAL_ADDRESS}/32 (and the kube-dns ClusterIP/32) on UDP and TCP 53; with "
                "NodeLocal DNSCache a rule on k8s-app=kube-dns pods does not match")
    else:
        where = f"the CoreDNS pods behind {path.service} on 53"
        hint = ("allow egress to namespace kube-system, pods k8s-app=kube-dns, on UDP 53 and TCP 53 (and make sure "
                "CoreDNS's own ingress admits it)")
    udp, tcp = status["UDP"], status["TCP"]
    sample = next((t for t in targets if t[2] == "UDP"), targets[0]) if targets else None
    blockers = _blockers(analysis, pod, sample) if sample and udp in ("denied", "partial") else []
    by = f" (blocked by {', '.join(blockers)})" if blockers else ""
    objects = (client,) + tuple(blockers)
    if udp == "denied":
        return [Finding("dns-blocked", "high", f"{client} cannot reach {where}/UDP: it cannot resolve names{by}",
                        objects, hint, {"udp": udp, "tcp": tcp})]
    if udp == "partial":
        return [Finding("dns-partial", "medium", f"{client} reaches only some of {where}/UDP: name resolution "
                        f"fails intermittently{by}", objects, hint, {"udp": udp, "tcp": tcp})]
    if udp == "unknown":
        return [Finding("dns-unknown", "low", f"{client}: whether it can reach {where}/UDP is unknown",
                        (client,), "see the warnings for what could not be read", {"udp": udp, "tcp": tcp})]
    if tcp != "allowed":
        tcp_sample = next((t for t in targets if t[2] == "TCP"), None)
        tcp_blockers = _blockers(analysis, pod, tcp_sample) if tcp_sample and tcp == "denied" else []
        by_tcp = f" (blocked by {', '.join(tcp_blockers)})" if tcp_blockers else ""
        return [Finding("dns-tcp-blocked", "medium", f"{client} reaches {where}/UDP but TCP is {tcp}: large answers "
                        f"(truncated over UDP) will fail{by_tcp}", (client,) + tuple(tcp_blockers), hint,
                        {"udp": udp, "tcp": tcp})]
    return []
