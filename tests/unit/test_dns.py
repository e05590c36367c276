"""DNS names and DNS reachability, with the answers worked out by hand from the Kubernetes DNS spec."""

from __future__ import annotations

from auditor.analysis import analyze
from auditor.dns.names import DnsSettings, dns_records
from auditor.findings.dns import dns_findings
from auditor.sources.manifests import build_state


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(namespace, name, labels, ip, ports=(), **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": dict({"containers": [{"name": "c", "image": "i", "ports": [
                {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}]}, **spec),
            "status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}}


def kube_dns():
    return [ns("kube-system"),
            pod("kube-system", "coredns-1", {"k8s-app": "kube-dns"}, "10.0.9.1",
                [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}]


def netpol(namespace, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


DENY_EGRESS = netpol("app", "default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})


def dns_allow(protocols=("UDP", "TCP")):
    return netpol("app", "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": p, "port": 53} for p in protocols]}]})


def findings(objects):
    return {(f.code, f.objects[0]): f for f in dns_findings(analyze(build_state([(o, "t") for o in objects])))}


def test_default_deny_egress_without_dns_exception_is_reported_with_the_policy():
    objects = kube_dns() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS]
    found = findings(objects)
    f = found[("dns-blocked", "app/Pod/web")]
    assert f.severity == "high" and "NetworkPolicy app/default-deny-egress" in f.objects


def test_the_usual_dns_exception_clears_it():
    objects = kube_dns() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS, dns_allow()]
    assert findings(objects) == {}


def test_udp_only_exception_leaves_tcp_blocked():
    objects = kube_dns() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS,
                            dns_allow(("UDP",))]
    assert set(findings(objects)) == {("dns-tcp-blocked", "app/Pod/web")}


def test_coredns_ingress_that_excludes_the_client_blocks_it():
    objects = kube_dns() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"),
                            netpol("kube-system", "coredns-only-from-monitoring", {
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}, "policyTypes": ["Ingress"],
                                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "mon"}}}]}]})]
    f = findings(objects)[("dns-blocked", "app/Pod/web")]
    assert "NetworkPolicy kube-system/coredns-only-from-monitoring" in f.objects


def test_pods_not_using_cluster_dns_are_not_checked():
    objects = kube_dns() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1", dnsPolicy="Default"),
                            pod("app", "agent", {"app": "agent"}, "172.18.0.2", hostNetwork=True), DENY_EGRESS]
    assert findings(objects) == {}


def nodelocal():
    return [{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-local-dns",
                                                                        "namespace": "kube-system"},
             "spec": {"selector": {"matchLabels": {"k8s-app": "node-local-dns"}}, "template": {
                 "metadata": {"labels": {"k8s-app": "node-local-dns"}},
                 "spec": {"hostNetwork": True, "containers": [{"name": "node-cache", "image": "i"}]}}}}]


def test_nodelocal_dns_makes_a_kube_dns_pod_allow_useless():
    # With NodeLocal DNSCache the query goes to 169.254.20.10 on the node: an allow to kube-dns pods misses it.
    objects = kube_dns() + nodelocal() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS,
                                          dns_allow()]
    f = findings(objects)[("dns-blocked", "app/Pod/web")]
    assert "169.254.20.10" in f.message and "k8s-app=kube-dns" in f.hint


def test_nodelocal_dns_allowed_by_link_local_address():
    allow = netpol("app", "allow-nodelocal", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]})
    objects = kube_dns() + nodelocal() + [ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS,
                                          allow]
    assert findings(objects) == {}


def state(objects):
    return build_state([(o, "t") for o in objects])


def test_dns_names():
    objects = [ns("x"),
               pod("x", "web-1", {"app": "web"}, "10.0.0.2", [("http", 8080, "TCP")]),
               pod("x", "db-0", {"app": "db"}, "10.0.0.5", hostname="db-0", subdomain="db"),
               pod("x", "v6", {"app": "v6"}, "fd00::5"),
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "x"},
                "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                         "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "x"},
                "spec": {"selector": {"app": "db"}, "clusterIP": "None", "ports": [{"port": 5432}]}},
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "x"},
                "spec": {"type": "ExternalName", "externalName": "db.example.com"}}]
    records = {(r.name, r.type, r.value) for r in dns_records(state(objects), DnsSettings("k8s.internal", "insecure"))}
    expected = {
        ("web.x.svc.k8s.internal", "A", "10.96.0.20"),
        ("_http._tcp.web.x.svc.k8s.internal", "SRV", "0 100 80 web.x.svc.k8s.internal."),
        ("db.x.svc.k8s.internal", "A", "10.0.0.5"),                  # headless: the endpoint's IP
        ("db-0.db.x.svc.k8s.internal", "A", "10.0.0.5"),             # hostname + subdomain of a headless Service
        ("ext.x.svc.k8s.internal", "CNAME", "db.example.com"),
        ("10-0-0-2.x.pod.k8s.internal", "A", "10.0.0.2"),            # pods insecure: dashed-IP records
        ("10-0-0-5.x.pod.k8s.internal", "A", "10.0.0.5"),
        ("fd00-0000-0000-0000-0000-0000-0000-0005.x.pod.k8s.internal", "AAAA", "fd00::5"),
    }
    assert records == expected


def test_pods_disabled_serves_no_pod_records():
    objects = [ns("x"), pod("x", "a", {"app": "a"}, "10.0.0.2")]
    assert dns_records(state(objects), DnsSettings("cluster.local", "disabled")) == []


def test_only_some_coredns_pods_reachable_is_partial():
    # Two CoreDNS pods; the egress allow names only coredns-1's IP: queries fail whenever kube-proxy picks the other.
    objects = kube_dns() + [pod("kube-system", "coredns-2", {"k8s-app": "kube-dns"}, "10.0.9.2"),
                            ns("app"), pod("app", "web", {"app": "web"}, "10.0.1.1"), DENY_EGRESS,
                            netpol("app", "dns-one", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                                "to": [{"ipBlock": {"cidr": "10.0.9.1/32"}}],
                                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]})]
    assert set(findings(objects)) == {("dns-partial", "app/Pod/web")}
