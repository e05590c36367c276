"""CoreDNS Corefile parser: real-world Corefiles with what they mean worked out by hand from the CoreDNS docs
(corefile(5), plugin READMEs), coredns/caddy's parser and CoreDNS's key handling (core/dnsserver/register.go)."""

from __future__ import annotations

import textwrap

import pytest

from auditor.dns.corefile import (
    Corefile,
    CorefileError,
    Directive,
    Forward,
    KubernetesPlugin,
    Rewrite,
    Zone,
    parse_corefile,
)


def cf(text: str) -> Corefile:
    return parse_corefile(textwrap.dedent(text))


def kube(zones, pods="disabled", fallthrough=None, ttl=5, endpoint_pod_names=False, namespaces=(), line=1):
    return KubernetesPlugin(tuple(zones), pods, fallthrough, ttl, endpoint_pod_names, tuple(namespaces), line)


# ---------------------------------------------------------------------------------------------------------------
# Real-world Corefiles. Each case: text, then what must come out. Line numbers count from the first line of text.

# kubernetes/kubernetes cmd/kubeadm/app/phases/addons/dns/manifests.go (CoreDNSConfigMap), DNSDomain=cluster.local:
# the `{{- if .DNSDomain }} {` template trims to `cache 30 {`.
KUBEADM = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""

# Older kubeadm (and kind, which runs kubeadm), before the cache `disable` block.
KUBEADM_OLD = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""

# k3s manifests/coredns.yaml (%{CLUSTER_DOMAIN}% rendered), with the coredns-custom imports later k3s releases add.
K3S = """\
.:53 {
    errors
    health
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    hosts /etc/coredns/NodeHosts {
      ttl 60
      reload 15s
      fallthrough
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
"""

# Amazon EKS add-on (kubectl get configmap coredns, label eks.amazonaws.com/component: coredns); note the
# indentation of health's '}'. No ttl: the plugin default, 5.
EKS = """\
.:53 {
    errors
    health {
        lameduck 5s
      }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""

# An older EKS-era Corefile (CoreDNS 1.6): `upstream` is obsolete; fallthrough zones outside the plugin's zones.
EKS_OLD = """\
.:53 {
    errors
    health
    ready
    kubernetes cluster.local {
      pods insecure
      upstream
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 300
    loop
    reload
    loadbalance
    autopath @kubernetes
}
"""

# coredns/helm chart default values rendered by templates/configmap.yaml (as on RKE2 and many Helm installs).
HELM = """\
.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus 0.0.0.0:9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""

# kubernetes cluster/addons/dns/nodelocaldns/nodelocaldns.yaml, pillars rendered (cluster.local, 169.254.20.10,
# 10.96.0.10, upstream 10.96.0.11 for kube-dns-upstream). The node cache forwards the cluster zones to CoreDNS.
NODELOCAL = """\
cluster.local:53 {
    errors
    cache {
            success 9984 30
            denial 9984 5
    }
    reload
    loop
    bind 169.254.20.10 10.96.0.10
    forward . 10.96.0.11 {
            force_tcp
    }
    prometheus :9253
    health 169.254.20.10:8080
    }
in-addr.arpa:53 {
    errors
    cache 30
    reload
    loop
    bind 169.254.20.10 10.96.0.10
    forward . 10.96.0.11 {
            force_tcp
    }
    prometheus :9253
    }
ip6.arpa:53 {
    errors
    cache 30
    reload
    loop
    bind 169.254.20.10 10.96.0.10
    forward . 10.96.0.11 {
            force_tcp
    }
    prometheus :9253
    }
.:53 {
    errors
    cache 30
    reload
    loop
    bind 169.254.20.10 10.96.0.10
    forward . /etc/resolv.conf
    prometheus :9253
    }
"""

# kubernetes.io "Customizing DNS Service", CoreDNS configuration equivalent to kube-dns: stub domains as extra
# server blocks, one of them below the cluster domain.
K8S_DOCS_STUBS = """\
.:53 {
        errors
        health
        kubernetes cluster.local in-addr.arpa ip6.arpa {
           pods insecure
           fallthrough in-addr.arpa ip6.arpa
        }
        federation cluster.local {
           foo foo.feddomain.com
        }
        prometheus :9153
        forward .  8.8.8.8 8.8.4.4
        cache 30
    }
    abc.com:53 {
        errors
        cache 30
        forward . 1.2.3.4
    }
    my.cluster.local:53 {
        errors
        cache 30
        forward . 2.3.4.5
    }
"""

# A custom cluster domain with every kubernetes option this parser reads, and a corp stub domain.
CUSTOM_DOMAIN = """\
.:53 {
    errors
    kubernetes K8S.Example.Internal in-addr.arpa ip6.arpa {
        pods verified
        endpoint_pod_names
        namespaces default kube-system
        namespaces apps
        fallthrough
        ttl 0
        noendpoints
    }
    forward . 172.16.0.1
    cache 30
}
corp.example:53 {
    errors
    cache 30
    forward . 10.0.0.53 10.0.0.54:5353
}
"""

# The Corefile of this repository's live DNS integration test.
INTEGRATION = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes corp.internal in-addr.arpa ip6.arpa {
       pods verified
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""

# plugin/rewrite README forms: simple, with a match type, block form (name + answer), ttl, and a plain-name
# rewrite of an external name onto a Service (a common cluster customisation).
REWRITES = """\
.:53 {
    rewrite name exact api.example.com ingress-nginx-controller.ingress-nginx.svc.cluster.local
    rewrite stop {
        name regex (.*)-(us-west-1)\\.coredns\\.rocks {1}.service.{2}.consul
        answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.coredns.rocks
    }
    rewrite continue {
        ttl regex (.*)\\.coredns\\.rocks 15
    }
    rewrite edns0 local set 0xffee {client_ip}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods disabled
    }
    forward . 1.1.1.1
}
"""

# Custom zones served from the hosts plugin (plugin/hosts README): inline entries, and a zone of its own.
HOSTS = """\
.:53 {
    hosts {
        192.168.1.100 custom.example.com
        192.168.1.101 other.example.com alias.example.com
        fallthrough
    }
    kubernetes cluster.local
    forward . /etc/resolv.conf
}
internal.example:53 {
    hosts /etc/coredns/internal.hosts internal.example {
        10.1.2.3 db.internal.example
        ttl 60
        fallthrough
    }
    log
}
"""

# Several keys per block, with the per-key port rule: `example.org example.net:5353` puts example.org on the
# default port 53 and only example.net on 5353 (register.go splits each key on its own).
MULTI_KEYS = """\
example.org example.net:53 {
    whoami
}
dns://.:53 {
    kubernetes cluster.local {
        pods insecure
    }
}
tls://example.com grpc://example.com quic://example.com https://example.com:8443 {
    whoami
}
a.test b.test:5353 {
    whoami
}
c.test,
  d.test {
    whoami
}
"""

COMMENTS_QUOTES = """\
# Corefile with comments
.:53 {   # the root zone
    errors#glued comment
    template IN A "my zone.example" {
        answer "{{ .Name }} 60 IN A 10.0.0.1"
        match "^(?P<a>[0-9]*)\\"quoted\\"$"
    }
    kubernetes "cluster.local" {
        pods "verified"
        # pods insecure
    }
    log "a multi
line string"
    cache 30
}
"""

SNIPPETS = """\
(common) {
    errors
    cache 30
}
(kube) {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        import fall
    }
}
(fall) {
    fallthrough in-addr.arpa ip6.arpa
}
.:53 {
    import common
    import kube
    forward . {$UPSTREAM_DNS}
    import /etc/coredns/custom/*.override
}
corp.example:53 {
    import common
    forward . 10.0.0.53
}
import extra.server
"""

REVERSE_CIDR = """\
10.0.0.0/17 cluster.local {
    kubernetes {
        pods verified
    }
}
10.0.0.0/8:53 fd00::/8 {
    whoami
}
.:53 {
    forward . 9.9.9.9
}
"""

BRACELESS = """\
.:53
kubernetes cluster.local
forward . 8.8.8.8
"""

CASES = {
    "kubeadm": dict(
        text=KUBEADM,
        keys=[(".:53",)],
        zones=[(Zone(".", 53, "dns"),)],
        names=["errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache", "loop", "reload",
               "loadbalance"],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), ttl=30, line=7),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 13),),
        stubs={},
        warnings=[],
    ),
    "kubeadm-old/kind": dict(
        text=KUBEADM_OLD,
        keys=[(".:53",)],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), ttl=30, line=7),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 13),),
        stubs={},
        warnings=[],
    ),
    "k3s": dict(
        text=K3S,
        keys=[(".:53",)],
        names=["errors", "health", "ready", "kubernetes", "hosts", "prometheus", "forward", "cache", "loop", "reload",
               "loadbalance"],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), line=5),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 15),),
        stubs={},
        warnings=["line 20: import /etc/coredns/custom/*.override", "line 22: import /etc/coredns/custom/*.server"],
    ),
    "eks": dict(
        text=EKS,
        keys=[(".:53",)],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), line=7),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 12),),
        stubs={},
        warnings=[],
    ),
    "eks-old": dict(
        text=EKS_OLD,
        kube=kube(["cluster.local."], pods="insecure", fallthrough=("in-addr.arpa.", "ip6.arpa."), line=5),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 11),),
        warnings=["line 7: kubernetes option 'upstream' is obsolete"],
    ),
    "helm-chart": dict(
        text=HELM,
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), ttl=30, line=7),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 13),),
        warnings=[],
    ),
    "nodelocaldns": dict(
        text=NODELOCAL,
        keys=[("cluster.local:53",), ("in-addr.arpa:53",), ("ip6.arpa:53",), (".:53",)],
        zones=[(Zone("cluster.local.", 53, "dns"),), (Zone("in-addr.arpa.", 53, "dns"),),
               (Zone("ip6.arpa.", 53, "dns"),), (Zone(".", 53, "dns"),)],
        kube=None,
        domain=None,
        forwards=(Forward("cluster.local.", ("10.96.0.11",), 10), Forward("in-addr.arpa.", ("10.96.0.11",), 22),
                  Forward("ip6.arpa.", ("10.96.0.11",), 33), Forward(".", ("/etc/resolv.conf",), 44)),
        stubs={"cluster.local.": ("10.96.0.11",), "in-addr.arpa.": ("10.96.0.11",), "ip6.arpa.": ("10.96.0.11",)},
        routes={"kubernetes.default.svc.cluster.local.": 0, "10.0.96.10.in-addr.arpa.": 1, "example.com.": 3},
        warnings=[],
    ),
    "k8s-docs-stub-domains": dict(
        text=K8S_DOCS_STUBS,
        keys=[(".:53",), ("abc.com:53",), ("my.cluster.local:53",)],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), line=4),
        domain="cluster.local",
        forwards=(Forward(".", ("8.8.8.8", "8.8.4.4"), 12), Forward("abc.com.", ("1.2.3.4",), 18),
                  Forward("my.cluster.local.", ("2.3.4.5",), 23)),
        stubs={"abc.com.": ("1.2.3.4",), "my.cluster.local.": ("2.3.4.5",)},
        routes={"kubernetes.default.svc.cluster.local.": 0, "foo.my.cluster.local.": 2, "my.cluster.local": 2,
                "www.abc.com.": 1, "abc.com.evil.": 0, "widget.com.": 0},
        warnings=[],
    ),
    "custom-cluster-domain": dict(
        text=CUSTOM_DOMAIN,
        keys=[(".:53",), ("corp.example:53",)],
        kube=kube(["k8s.example.internal.", "in-addr.arpa.", "ip6.arpa."], pods="verified", fallthrough=(),
                  ttl=0, endpoint_pod_names=True, namespaces=("default", "kube-system", "apps"), line=3),
        domain="k8s.example.internal",
        forwards=(Forward(".", ("172.16.0.1",), 12), Forward("corp.example.", ("10.0.0.53", "10.0.0.54:5353"), 18)),
        stubs={"corp.example.": ("10.0.0.53", "10.0.0.54:5353")},
        routes={"foo.corp.example.": 1, "FOO.Corp.Example": 1, "corp.example.": 1,
                "kubernetes.default.svc.cluster.local.": 0, "notcorp.example.": 0, "x.k8s.example.internal.": 0},
        warnings=[],
    ),
    "integration-test": dict(
        text=INTEGRATION,
        kube=kube(["corp.internal.", "in-addr.arpa.", "ip6.arpa."], pods="verified",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), ttl=30, line=7),
        domain="corp.internal",
        warnings=[],
    ),
    "rewrites": dict(
        text=REWRITES,
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="disabled", line=11),
        domain="cluster.local",
        rewrites=(
            Rewrite(("name", "exact", "api.example.com", "ingress-nginx-controller.ingress-nginx.svc.cluster.local"),
                    2),
            Rewrite(("stop", "name", "regex", "(.*)-(us-west-1)\\.coredns\\.rocks", "{1}.service.{2}.consul",
                     "answer", "name", "(.*)\\.service\\.(us-west-1)\\.consul", "{1}-{2}.coredns.rocks"), 3),
            Rewrite(("continue", "ttl", "regex", "(.*)\\.coredns\\.rocks", "15"), 7),
            Rewrite(("edns0", "local", "set", "0xffee", "{client_ip}"), 10),
        ),
        warnings=[],
    ),
    "hosts-custom-zones": dict(
        text=HOSTS,
        keys=[(".:53",), ("internal.example:53",)],
        kube=kube(["cluster.local."], line=7),
        domain="cluster.local",
        forwards=(Forward(".", ("/etc/resolv.conf",), 8),),
        stubs={},
        routes={"db.internal.example.": 1, "custom.example.com.": 0},
        warnings=[],
    ),
    "multiple-keys-and-schemes": dict(
        text=MULTI_KEYS,
        keys=[("example.org", "example.net:53"), ("dns://.:53",),
              ("tls://example.com", "grpc://example.com", "quic://example.com", "https://example.com:8443"),
              ("a.test", "b.test:5353"), ("c.test", "d.test")],
        zones=[(Zone("example.org.", 53, "dns"), Zone("example.net.", 53, "dns")),
               (Zone(".", 53, "dns"),),
               (Zone("example.com.", 853, "tls"), Zone("example.com.", 443, "grpc"), Zone("example.com.", 853, "quic"),
                Zone("example.com.", 8443, "https")),
               (Zone("a.test.", 53, "dns"), Zone("b.test.", 5353, "dns")),
               (Zone("c.test.", 53, "dns"), Zone("d.test.", 53, "dns"))],
        kube=kube(["cluster.local."], pods="insecure", line=5),
        domain="cluster.local",
        routes={"www.example.org.": 0, "example.net.": 0, "example.com.": 1, "x.a.test.": 3, "x.b.test.": 1,
                "d.test.": 4},
        routes_5353={"x.b.test.": 3, "x.a.test.": None},
        warnings=[],
    ),
    "comments-and-quotes": dict(
        text=COMMENTS_QUOTES,
        keys=[(".:53",)],
        names=["errors", "template", "kubernetes", "log", "cache"],
        kube=kube(["cluster.local."], pods="verified", line=8),
        domain="cluster.local",
        warnings=[],
    ),
    "snippets-and-import": dict(
        text=SNIPPETS,
        keys=[(".:53",), ("corp.example:53",)],
        names=["errors", "cache", "kubernetes", "forward"],
        kube=kube(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], pods="insecure",
                  fallthrough=("in-addr.arpa.", "ip6.arpa."), line=6),
        domain="cluster.local",
        forwards=(Forward(".", ("{$UPSTREAM_DNS}",), 17), Forward("corp.example.", ("10.0.0.53",), 22)),
        stubs={"corp.example.": ("10.0.0.53",)},
        warnings=["line 17: environment variable {$UPSTREAM_DNS} is left as written",
                  "line 18: import /etc/coredns/custom/*.override", "line 24: import extra.server"],
    ),
    "reverse-cidr-keys": dict(
        text=REVERSE_CIDR,
        kube=kube([f"{i}.0.10.in-addr.arpa." for i in range(128)] + ["cluster.local."], pods="verified", line=2),
        domain="cluster.local",
        routes={"5.3.0.10.in-addr.arpa.": 0, "5.3.200.10.in-addr.arpa.": 1, "1.0.0.0.0.0.0.0.d.f.ip6.arpa.": 1,
                "4.3.2.1.in-addr.arpa.": 2, "x.cluster.local.": 0},
        forwards=(Forward(".", ("9.9.9.9",), 10),),
        warnings=[],
    ),
    "braceless-single-server": dict(
        text=BRACELESS,
        keys=[(".:53",)],
        names=["kubernetes", "forward"],
        kube=kube(["cluster.local."], line=2),
        domain="cluster.local",
        forwards=(Forward(".", ("8.8.8.8",), 3),),
        warnings=[],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_real_world_corefiles(case):
    corefile = parse_corefile(case["text"])
    if "keys" in case:
        assert [b.keys for b in corefile.blocks] == case["keys"]
    if "zones" in case:
        assert [b.zones for b in corefile.blocks] == case["zones"]
    if "names" in case:
        assert [d.name for d in corefile.blocks[0].directives] == case["names"]
    if "kube" in case:
        assert corefile.kubernetes() == case["kube"]
    if "domain" in case:
        assert corefile.cluster_domain() == case["domain"]
    if "forwards" in case:
        assert corefile.forwards() == case["forwards"]
    if "stubs" in case:
        assert corefile.stub_domains() == case["stubs"]
    if "rewrites" in case:
        assert corefile.rewrites() == case["rewrites"]
    for qname, index in case.get("routes", {}).items():
        assert corefile.block_for(qname) is (None if index is None else corefile.blocks[index]), qname
    for qname, index in case.get("routes_5353", {}).items():
        assert corefile.block_for(qname, port=5353) is (None if index is None else corefile.blocks[index]), qname
    assert len(corefile.warnings) == len(case["warnings"]), corefile.warnings
    for expected, got in zip(case["warnings"], corefile.warnings):
        assert got.startswith(expected), (expected, got)


# ---------------------------------------------------------------------------------------------------------------
# Details of the cases above


def test_kubeadm_structure():
    corefile = parse_corefile(KUBEADM)
    (block,) = corefile.blocks
    assert block.line == 1
    assert block.directives[1] == Directive("health", (), (Directive("lameduck", ("5s",), (), 4),), 3)
    assert block.directives[5] == Directive("forward", (".", "/etc/resolv.conf"),
                                            (Directive("max_concurrent", ("1000",), (), 14),), 13)
    assert block.directives[6] == Directive("cache", ("30",), (
        Directive("disable", ("success", "cluster.local"), (), 17),
        Directive("disable", ("denial", "cluster.local"), (), 18)), 16)
    assert block.directives[-1] == Directive("loadbalance", (), (), 22)
    assert corefile.block_for("kubernetes.default.svc.cluster.local.") is block
    assert corefile.block_for("10.0.96.10.in-addr.arpa") is block
    assert corefile.block_for("example.com", port=5353) is None


def test_brief_stub_domain_routing():
    corefile = cf("""\
        .:53 {
            kubernetes cluster.local in-addr.arpa ip6.arpa {
                pods insecure
                fallthrough in-addr.arpa ip6.arpa
            }
            forward . /etc/resolv.conf
        }
        corp.example:53 {
            forward . 10.0.0.53
        }
        """)
    root, corp = corefile.blocks
    assert corefile.block_for("foo.corp.example.") is corp
    assert corefile.block_for("kubernetes.default.svc.cluster.local.") is root
    assert corefile.stub_domains() == {"corp.example.": ("10.0.0.53",)}
    assert corefile.forwards() == (Forward(".", ("/etc/resolv.conf",), 6), Forward("corp.example.", ("10.0.0.53",), 9))


def test_hosts_inline_entries_are_nested_directives():
    corefile = parse_corefile(HOSTS)
    hosts = corefile.blocks[0].directives[0]
    assert hosts == Directive("hosts", (), (
        Directive("192.168.1.100", ("custom.example.com",), (), 3),
        Directive("192.168.1.101", ("other.example.com", "alias.example.com"), (), 4),
        Directive("fallthrough", (), (), 5)), 2)
    internal = corefile.blocks[1].directives[0]
    assert internal.args == ("/etc/coredns/internal.hosts", "internal.example")
    assert [d.name for d in internal.block] == ["10.1.2.3", "ttl", "fallthrough"]


def test_comments_and_quoted_strings():
    corefile = parse_corefile(COMMENTS_QUOTES)
    (block,) = corefile.blocks
    errors, template, kubernetes, log, cache = block.directives
    assert errors == Directive("errors", (), (), 3)  # `errors#glued comment`: '#' starts a comment mid-word
    assert template.args == ("IN", "A", "my zone.example")
    assert template.block == (
        Directive("answer", ("{{ .Name }} 60 IN A 10.0.0.1",), (), 5),
        Directive("match", ('^(?P<a>[0-9]*)"quoted"$',), (), 6),  # \" is the only escape
    )
    assert kubernetes.args == ("cluster.local",)
    assert log == Directive("log", ("a multi\nline string",), (), 12)
    assert cache == Directive("cache", ("30",), (), 14)  # line counting continues through the quoted newline


def test_backslashes_other_than_before_a_quote_are_kept():
    corefile = cf(r"""
        . {
            rewrite name regex "a\.b\\c" x
        }
        """)
    assert corefile.blocks[0].directives[0].args == ("name", "regex", "a\\.b\\\\c", "x")


def test_snippets_are_expanded_with_their_own_line_numbers():
    corefile = parse_corefile(SNIPPETS)
    root, corp = corefile.blocks
    assert [(d.name, d.line) for d in root.directives] == [
        ("errors", 2), ("cache", 3), ("kubernetes", 6), ("forward", 17)]
    assert root.directives[2].block == (Directive("pods", ("insecure",), (), 7),
                                        Directive("fallthrough", ("in-addr.arpa", "ip6.arpa"), (), 12))
    assert [(d.name, d.args) for d in corp.directives] == [("errors", ()), ("cache", ("30",)),
                                                           ("forward", (".", "10.0.0.53"))]


def test_snippet_on_one_line_and_at_top_level():
    corefile = cf("""\
        (opts) { pods verified }
        (zone) {
            example.org {
                whoami
            }
        }
        import zone
        .:53 {
            kubernetes cluster.local {
                import opts
            }
        }
        """)
    assert [b.keys for b in corefile.blocks] == [("example.org",), (".:53",)]
    assert corefile.kubernetes().pods == "verified"
    assert corefile.warnings == ()


def test_env_placeholders_are_kept_and_warned():
    corefile = cf("""\
        {$ZONE}:{$PORT} {
            forward . {%UPSTREAM%}
        }
        """)
    (block,) = corefile.blocks
    assert block.keys == ("{$ZONE}:{$PORT}",)
    assert block.zones == (Zone("{$ZONE}.", 53, "dns"),)
    assert block.directives[0].args == (".", "{%UPSTREAM%}")
    assert corefile.warnings == (
        "line 1: environment variable {$ZONE} is left as written (CoreDNS substitutes it at startup)",
        "line 1: environment variable {$PORT} is left as written (CoreDNS substitutes it at startup)",
        "line 2: environment variable {%UPSTREAM%} is left as written (CoreDNS substitutes it at startup)",
        "line 1: port {$PORT} of server block key '{$ZONE}:{$PORT}' is an environment variable; assuming the default",
    )


def test_kubernetes_defaults_take_the_server_block_zones():
    corefile = cf("""\
        cluster.local:53 in-addr.arpa:53 {
            kubernetes
        }
        .:53 {
            forward . 8.8.8.8
        }
        """)
    assert corefile.kubernetes() == kube(["cluster.local.", "in-addr.arpa."], line=2)
    assert corefile.cluster_domain() == "cluster.local"
    assert corefile.block_for("web.default.svc.cluster.local") is corefile.blocks[0]


@pytest.mark.parametrize("body, pods, fallthrough", [
    ("pods disabled", "disabled", None),
    ("pods insecure", "insecure", None),
    ("pods verified\nfallthrough", "verified", ()),
    ("fallthrough in-addr.arpa ip6.arpa", "disabled", ("in-addr.arpa.", "ip6.arpa.")),
    ("fallthrough Example.ORG", "disabled", ("example.org.",)),
    ("", "disabled", None),
])
def test_pods_and_fallthrough(body, pods, fallthrough):
    corefile = parse_corefile(".:53 {\n  kubernetes cluster.local {\n" + body + "\n  }\n}\n")
    plugin = corefile.kubernetes()
    assert (plugin.pods, plugin.fallthrough, plugin.ttl) == (pods, fallthrough, 5)


def test_kubernetes_of_the_block_that_serves_the_cluster_zone():
    corefile = cf("""\
        .:53 {
            kubernetes other.cluster {
                pods insecure
            }
        }
        cluster.local:53 {
            kubernetes {
                pods verified
            }
        }
        """)
    # Both plugins serve their own main zone; the first that does is taken.
    assert corefile.kubernetes().zones == ("other.cluster.",)
    corefile = cf("""\
        .:53 {
            kubernetes cluster.local {
                pods insecure
            }
        }
        cluster.local:53 {
            forward . 10.0.0.1
        }
        lab:53 {
            kubernetes lab {
                pods verified
            }
        }
        """)
    # The first plugin's zone is routed to another block: the lab one is the plugin that answers.
    assert corefile.kubernetes().zones == ("lab.",)
    assert corefile.cluster_domain() == "lab"
    assert corefile.warnings == ()


def test_no_kubernetes_plugin():
    corefile = cf("""\
        . {
            forward . 8.8.8.8
        }
        """)
    assert corefile.kubernetes() is None
    assert corefile.cluster_domain() is None
    assert corefile.rewrites() == ()


def test_forward_in_root_block_to_a_subdomain_is_a_stub_domain():
    corefile = cf("""\
        . {
            forward lab.example.local 10.20.0.1
            forward example.local 10.0.0.1
            forward . /etc/resolv.conf
        }
        """)
    assert corefile.forwards() == (Forward("lab.example.local.", ("10.20.0.1",), 2),
                                   Forward("example.local.", ("10.0.0.1",), 3),
                                   Forward(".", ("/etc/resolv.conf",), 4))
    assert corefile.stub_domains() == {"lab.example.local.": ("10.20.0.1",), "example.local.": ("10.0.0.1",)}


def test_forward_from_outside_the_block_never_applies():
    corefile = cf("""\
        example.org {
            forward example.net 10.0.0.1
            forward . 10.0.0.2
        }
        """)
    assert corefile.forwards() == (Forward("example.org.", ("10.0.0.2",), 3),)
    assert corefile.warnings == ("line 2: forward example.net is outside the zones of its server block "
                                 "(example.org): it never applies",)


def test_views_may_serve_the_same_zone_twice():
    corefile = cf("""\
        . {
            view internal {
                expr incidr(client_ip(), '10.0.0.0/8')
            }
            forward . 10.0.0.1
        }
        . {
            forward . 8.8.8.8
        }
        """)
    assert len(corefile.blocks) == 2
    assert corefile.block_for("example.com") is corefile.blocks[0]


def test_tolerated_oddities_are_warnings():
    corefile = cf("""\
        empty.example {
        }
        cache {
            whoami
        }
        .:53 {
            kubernetes cluster.local {
                resyncperiod 30s
                foo bar
            }
            unknownplugin with args
        }
        """)
    assert corefile.warnings == (
        "line 1: server block 'empty.example' has no plugins: CoreDNS answers SERVFAIL to every query it routes there",
        "line 3: server block key 'cache' is also a plugin name: is the 'cache' directive outside its server block?",
        "line 9: kubernetes: unknown property 'foo' (CoreDNS refuses properties it does not know)",
    )


def test_kubernetes_zone_outside_the_block_is_warned():
    corefile = cf("""\
        example.org {
            kubernetes cluster.local
        }
        """)
    assert corefile.warnings == ("line 2: kubernetes zone cluster.local. is outside the zones of its server block "
                                 "(example.org): CoreDNS never routes those queries to it",)


def test_empty_corefile():
    corefile = parse_corefile("# nothing here\n\n")
    assert corefile.blocks == ()
    assert corefile.kubernetes() is None
    assert corefile.block_for("example.com") is None
    assert corefile.warnings == ("no server blocks: CoreDNS serves nothing",)


def test_crlf_and_bom():
    corefile = parse_corefile("\ufeff.:53 {\r\n    kubernetes cluster.local\r\n}\r\n")
    assert corefile.cluster_domain() == "cluster.local"
    assert corefile.kubernetes().line == 2


# ---------------------------------------------------------------------------------------------------------------
# Broken Corefiles: the line (and column) of the error.

BROKEN = {
    "missing closing brace": ("""\
.:53 {
    errors
    kubernetes cluster.local {
        pods insecure
    }
    forward . 8.8.8.8
""", 1, 6, "missing '}': the '{' on this line is never closed"),
    "missing brace of a nested block": ("""\
.:53 {
    forward . 8.8.8.8 {
        force_tcp
    cache 30
}
""", 1, 6, "missing '}': the '{' on this line is never closed"),
    "brace glued to the last argument": ("""\
.:53 {
    forward . 8.8.8.8
    cache 30}
""", 1, 6, "missing '}': the '{' on this line is never closed (line 3 has '30}': put a space before '}')"),
    "stray closing brace": ("""\
.:53 {
    errors
    kubernetes cluster.local {
        pods insecure
    }
}
}
""", 7, 1, "unexpected '}'"),
    "brace on a directive's line": ("""\
. { whoami }
""", 1, 12, "unexpected '}' on the same line as directive 'whoami' (the '}' closing a server block must be on "
            "its own line)"),
    "unterminated quote": ("""\
.:53 {
    errors
    template IN A example.org {
        answer "{{ .Name }} 60 IN A 10.0.0.1
    }
}
""", 4, 16, "unterminated quoted string"),
    "bad port": ("""\
.:abc {
    whoami
}
""", 1, 1, "bad port 'abc' in server block key '.:abc'"),
    "bad port on the second block": ("""\
.:53 {
    whoami
}

example.org example.net:5x3 {
    whoami
}
""", 5, 13, "bad port '5x3' in server block key 'example.net:5x3'"),
    "port out of range": ("""\
.:65536 {
}
""", 1, 1, "bad port '65536' in server block key '.:65536' (must be 0-65535)"),
    "empty port": ("""\
example.org: {
}
""", 1, 1, "bad port: nothing after ':' in server block key 'example.org:'"),
    "pods with an invalid value": ("""\
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods enabled
    }
}
""", 4, None, "kubernetes: wrong value for pods: 'enabled', must be one of: disabled, verified, insecure"),
    "pods without a value": ("""\
.:53 {
    kubernetes cluster.local {
        pods
    }
}
""", 3, None, "kubernetes: pods takes exactly one argument, got 0"),
    "ttl out of range": ("""\
.:53 {
    kubernetes cluster.local {
        ttl 7200
    }
}
""", 3, None, "kubernetes: ttl must be in range [0, 3600]: 7200"),
    "only reverse zones": ("""\
.:53 {
    kubernetes in-addr.arpa
}
""", 2, None, "kubernetes: non-reverse zone name must be used"),
    "kubernetes twice": ("""\
.:53 {
    kubernetes cluster.local
    kubernetes other.local
}
""", 3, None, "kubernetes: this plugin can only be used once per server block"),
    "directive after the last block": ("""\
.:53 {
    whoami
}
cache 30
""", 4, 1, "directive 'cache' outside any server block"),
    "directive before the first block": ("""\
errors
.:53 {
    whoami
}
""", 1, 1, "directive 'errors' outside any server block"),
    "missing block": ("""\
.:53 {
    whoami
}
example.org:53
""", 4, 1, "expected '{' after server block key(s) 'example.org:53'"),
    "key line then a block that was meant as a server": ("""\
cluster.local:53
    kubernetes
}
""", 3, 1, "unexpected '}' (is the '{' after 'cluster.local:53' on line 1 missing?)"),
    "two servers, the first without braces": ("""\
example.org
    whoami
example.net {
    whoami
}
""", 1, 1, "expected '{' after server block key(s) 'example.org'"),
    "brace glued to the key": ("""\
.:53{
    whoami
}
""", 1, 1, "put a space between '.:53' and '{'"),
    "empty key": ("""\
{
    whoami
}
""", 1, 1, "'{' without server block keys (empty key)"),
    "empty quoted key": ("""\
"" {
    whoami
}
""", 1, 1, "empty server block key"),
    "empty zone": ("""\
:53 {
    whoami
}
""", 1, 1, "empty zone in server block key ':53'"),
    "empty label": ("""\
example..org {
    whoami
}
""", 1, 1, "zone 'example..org.' in 'example..org' is not a valid domain name (empty label)"),
    "unknown scheme": ("""\
udp://.:53 {
    whoami
}
""", 1, 1, "unknown transport 'udp://' in server block key 'udp://.:53'"),
    "trailing comma": ("""\
example.org, {
    whoami
}
""", 1, 14, "expected another server block key after ','"),
    "zone defined twice": ("""\
.:53 {
    whoami
}
dns://.:53 {
    whoami
}
""", 4, 1, "cannot serve dns://.:53 - it is already defined (line 1)"),
    "forward without TO": ("""\
. {
    forward .
}
""", 2, None, "forward needs FROM and at least one TO"),
    "forward with 16 upstreams": (
        ". {\n    forward . " + " ".join(f"10.0.0.{i}" for i in range(16)) + "\n}\n",
        2, None, "forward: more than 15 TOs configured: 16"),
    "import with two arguments": ("""\
. {
    import a b
}
""", 2, 5, "import takes exactly one argument (a snippet name, a file or a glob)"),
    "snippet redeclared": ("""\
(a) {
    whoami
}
(a) {
    log
}
""", 4, 1, "redeclaration of previously declared snippet a"),
    "snippet imports itself": ("""\
(loop) {
    whoami
    import loop
}
""", 3, 5, "snippet 'loop' imports itself"),
    "snippets import each other": ("""\
(a) {
    import b
}
(b) {
    import a
}
. {
    import a
}
""", 5, 5, "maximum snippet import depth (1000) exceeded importing 'a'"),
    "unclosed snippet": ("""\
(a) {
    whoami
""", 1, 5, "missing '}': the '{' on this line is never closed"),
    "glob with two wildcards": ("""\
import /etc/coredns/*/*.server
""", 1, 1, "import glob pattern may only contain one wildcard (*): /etc/coredns/*/*.server"),
}


@pytest.mark.parametrize("text, line, column, message", BROKEN.values(), ids=BROKEN.keys())
def test_broken_corefiles(text, line, column, message):
    with pytest.raises(CorefileError) as info:
        parse_corefile(text)
    err = info.value
    assert (err.line, err.column, err.message) == (line, column, message)
    assert str(err) == f"Corefile line {line}: {message}"
    assert isinstance(err, ValueError)


def test_error_string_matches_the_documented_form():
    with pytest.raises(CorefileError, match=r"^Corefile line 7: unexpected '}'$"):
        parse_corefile(BROKEN["stray closing brace"][0])
