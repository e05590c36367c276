"""What "the DNS exception works" means, as assertions on netaudit's own JSON: shared by the live e2e test (kind +
Calico) and its offline twin (tests/unit/test_e2e_offline.py), so the offline run proves the checks are right code.

In the scenario, namespace y has a default-deny egress policy plus the usual DNS exception (egress to the
k8s-app=kube-dns pods of kube-system on UDP and TCP 53) and egress to namespace x on TCP 80 (tests/e2e/scenario/
20-policies.yaml). Worked out by hand from those policies:
- every pod of y reaches every CoreDNS pod on exactly 53/UDP and 53/TCP, nothing else and nothing unknown (the
  CoreDNS pods' ingress is open: kube-system has no policy);
- no pod of y reaches any pod of z (the default-deny egress stands: the DNS allow is what opens DNS, not an open
  egress);
- `netaudit dns` finds the CoreDNS path and no DNS finding about y; `netaudit check` has no dns-* finding about y.
"""

from __future__ import annotations

DNS_PORTS = {("TCP", ((53, 53),)), ("UDP", ((53, 53),))}


def _ports(entries) -> set:
    return {(e["protocol"], tuple(tuple(r) for r in e["ports"])) for e in entries}


def check_dns_exception(matrix: dict, dns: dict, check: dict, namespace: str = "y") -> None:
    endpoints = matrix["endpoints"]
    coredns = [e["id"] for e in endpoints if e.get("namespace") == "kube-system"
               and (e.get("labels") or {}).get("k8s-app") == "kube-dns"]
    assert coredns, "no CoreDNS pod (k8s-app=kube-dns in kube-system) in the matrix: nothing would be checked"
    clients = [e["id"] for e in endpoints if e.get("namespace") == namespace and e.get("kind") == "Pod"]
    others = [e["id"] for e in endpoints if e.get("namespace") == "z" and e.get("kind") == "Pod"]
    assert clients and others, "the scenario's pods of y and z are missing from the matrix"
    connections = {(c["from"], c["to"]): c for c in matrix["connections"]}
    for client in clients:
        for server in coredns:
            conn = connections.get((client, server))
            assert conn is not None, f"{client} cannot reach {server} at all: the DNS exception does not work"
            assert _ports(conn["allowed"]) == DNS_PORTS, f"{client} -> {server}: {conn['allowed']}"
            assert not conn["unknown"], f"{client} -> {server}: unknown {conn['unknown']}"
        for other in others:
            assert (client, other) not in connections, f"{client} reaches {other}: y's default-deny egress is gone"
    assert dns["path"]["kind"] == "coredns", dns["path"]
    about_y = [f for f in dns["findings"] if any(o.startswith(f"{namespace}/") for o in f["objects"])]
    assert not about_y, about_y
    dns_findings = [f for f in check["findings"] if f["code"].startswith("dns-")
                    and any(o.startswith(f"{namespace}/") for o in f["objects"])]
    assert not dns_findings, dns_findings
