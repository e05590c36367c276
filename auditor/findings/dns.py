"""DNS findings: pods that use cluster DNS and cannot reach it (the most common real outage of network policy).

`dns/reachability.py` works out who reaches DNS; this module judges it and names the policies that block it, from
the explain trace of one blocked query.
"""

from __future__ import annotations

from ..dns.reachability import DNS_SERVICE, NODELOCAL_ADDRESS, ClientDns, DnsPath, DnsTarget, dns_reachability
from ..engine.explain import explain
from .finding import Finding, finding


def dns_findings(analysis, dns_service: tuple[str, str] = DNS_SERVICE) -> list[Finding]:
    reach = dns_reachability(analysis, dns_service)
    path = reach.path
    if path.kind == "none":
        if not reach.clients:
            return []
        return [finding("dns-service-missing", f"no DNS Service {path.service} in the input: DNS reachability "
                             "was not checked", [f"Service {path.service}"],
                             "read the cluster live, or include the kube-dns Service and CoreDNS in the manifests")]
    if not reach.targets:
        return [finding("dns-no-backends", f"the DNS Service {path.service} has no ready backends on port 53",
                             [f"Service {path.service}"], "check the CoreDNS Deployment")]
    findings = []
    for client in reach.clients:
        findings.extend(_client_findings(analysis, client, path, reach.targets))
    return findings


def _blockers(analysis, pod, target: DnsTarget) -> list[str]:
    """The policies that decide the denial, named from the explain trace of one blocked query."""
    exp = explain(analysis, pod.id, target.id, target.protocol, target.port)
    names = []
    for trace in (exp.egress, exp.ingress):
        if trace.verdict == "denied":
            for tier in trace.tiers:
                names.extend(p for p, selected in tier.policies if selected is not False)
    return list(dict.fromkeys(names))


def _client_findings(analysis, client: ClientDns, path: DnsPath, targets: list[DnsTarget]) -> list[Finding]:
    if path.kind == "nodelocal":
        where = f"NodeLocal DNSCache ({', '.join(path.targets)}) on 53"
        hint = (f"allow egress to {NODELOCAL_ADDRESS}/32 (and the kube-dns ClusterIP/32) on UDP and TCP 53; with "
                "NodeLocal DNSCache a rule on k8s-app=kube-dns pods does not match")
    else:
        where = f"the CoreDNS pods behind {path.service} on 53"
        hint = ("allow egress to namespace kube-system, pods k8s-app=kube-dns, on UDP 53 and TCP 53 (and make sure "
                "CoreDNS's own ingress admits it)")
    name, pod = client.client, client.pod
    udp, tcp = client.status["UDP"], client.status["TCP"]
    sample = next((t for t in targets if t.protocol == "UDP"), targets[0])
    blockers = _blockers(analysis, pod, sample) if udp in ("denied", "partial") else []
    by = f" (blocked by {', '.join(blockers)})" if blockers else ""
    objects = [name] + blockers
    if udp == "denied":
        return [finding("dns-blocked", f"{name} cannot reach {where}/UDP: it cannot resolve names{by}",
                             objects, hint, udp=udp, tcp=tcp)]
    if udp == "partial":
        return [finding("dns-partial", f"{name} reaches only some of {where}/UDP: name resolution fails "
                             f"intermittently{by}", objects, hint, udp=udp, tcp=tcp)]
    if udp == "unknown":
        return [finding("dns-unknown", f"{name}: whether it can reach {where}/UDP is unknown", [name],
                             "see the warnings for what could not be read", udp=udp, tcp=tcp)]
    if tcp != "allowed":
        tcp_sample = next((t for t in targets if t.protocol == "TCP"), None)
        tcp_blockers = _blockers(analysis, pod, tcp_sample) if tcp_sample and tcp == "denied" else []
        by_tcp = f" (blocked by {', '.join(tcp_blockers)})" if tcp_blockers else ""
        return [finding("dns-tcp-blocked", f"{name} reaches {where}/UDP but TCP is {tcp}: large answers "
                             f"(truncated over UDP) will fail{by_tcp}", [name] + tcp_blockers, hint, udp=udp, tcp=tcp)]
    return []
