"""Every finding: one small cluster that triggers it and one that does not (answers worked out by hand), plus the
`check` command's formats and exit codes, and SARIF validated against the official 2.1.0 schema."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from auditor.analysis import analyze
from auditor.cli import main
from auditor.findings import CATALOGUE, run_checks
from auditor.model import Unreadable
from auditor.sources.manifests import build_state

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(namespace, name, labels, ip, ports=(), **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": dict({"containers": [{"name": "c", "image": "i", "ports": [
                {"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports]}]}, **spec),
            "status": {"podIP": ip}}


def np(namespace, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


DENY_ALL = np("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
BASE = [ns("x"), pod("x", "a", {"app": "a"}, "10.0.0.1", [("http", 8080)]), pod("x", "b", {"app": "b"}, "10.0.0.2")]


def codes(objects, unreadable=()):
    state = build_state([(o, "t.yaml:1") for o in objects])
    state.unreadable.extend(unreadable)
    return {f.code for f in run_checks(analyze(state))}


CASES = {
    # code: (objects that trigger it, objects that do not)
    "no-ingress-isolation": (BASE, BASE + [DENY_ALL]),
    "no-egress-isolation": (BASE, BASE + [DENY_ALL]),
    "policy-selects-nothing": (
        BASE + [DENY_ALL, np("x", "ghost", {"podSelector": {"matchLabels": {"app": "nope"}}})],
        BASE + [DENY_ALL, np("x", "real", {"podSelector": {"matchLabels": {"app": "a"}}})]),
    "peer-matches-nothing": (
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}]})]),
    "named-port-unresolved": (
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {"matchLabels": {"app": "a"}},
                                        "ingress": [{"ports": [{"port": "https"}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {"matchLabels": {"app": "a"}},
                                        "ingress": [{"ports": [{"port": "http"}]}]})]),
    "rules-ignored": (
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Ingress"],
                                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})]),
    "ipblock-covers-cluster": (
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                                        "except": ["10.0.0.0/8"]}}]}]})]),
    "allow-from-anywhere": (
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 8080}]}]})]),
    "host-network-pod": (BASE + [pod("x", "agent", {"app": "agent"}, "172.18.0.2", hostNetwork=True)], BASE),
    "service-unreachable": (
        BASE + [DENY_ALL, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"},
                           "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]}}],
        BASE + [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"},
                 "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]}}]),
    "rule-shadowed": (
        BASE + [ns("c"), {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                          "metadata": {"name": "p", "namespace": "x"},
                          "spec": {"selector": "all()", "ingress": [
                              {"action": "Deny"}, {"action": "Allow", "protocol": "TCP",
                                                   "destination": {"ports": [8080]}}]}}],
        BASE + [{"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                 "metadata": {"name": "p", "namespace": "x"},
                 "spec": {"selector": "all()", "ingress": [
                     {"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}, {"action": "Deny"}]}}]),
}


# --- exposure (auditor/findings/exposure.py) --------------------------------------------------------------------
def svc(name, spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "x"}, "spec": spec}


LB_A = svc("a-lb", {"type": "LoadBalancer", "selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]})
INGRESS_SETUP = [ns("edge"), pod("edge", "nginx", {"app.kubernetes.io/name": "ingress-nginx",
                                                   "app.kubernetes.io/component": "controller"}, "10.0.5.1"),
                 {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
                  "spec": {"controller": "k8s.io/ingress-nginx"}},
                 svc("a", {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]}),
                 {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a", "namespace": "x"},
                  "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "a",
                                                                                       "port": {"number": 80}}}}}]
FROM_EDGE = np("x", "from-edge", {"podSelector": {}, "ingress": [{"from": [
    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}]}]})
NODE = pod("x", "node-agent", {"agent": "yes"}, "172.18.0.2", hostNetwork=True)
NODEPORT_A = svc("a-np", {"type": "NodePort", "selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]})
NODES_ONLY = np("x", "nodes-only", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "172.18.0.0/16"}}]}]})
CASES.update({
    # A LoadBalancer anyone may use, and a pod that admits anyone: internet-facing. Limited to a private range, not.
    "exposed-to-internet": (BASE + [LB_A], BASE + [dict(LB_A, spec=dict(LB_A["spec"],
                                                                         loadBalancerSourceRanges=["10.0.0.0/8"]))]),
    # The controller's pods are in `edge`; a deny-all in x keeps them out, an allow from `edge` lets them in.
    "route-blocked-by-policy": (BASE + INGRESS_SETUP + [DENY_ALL], BASE + INGRESS_SETUP + [FROM_EDGE]),
    # namespaceSelector {} admits namespaces created tomorrow; a named namespace does not.
    "exposed-to-future-pods": (
        BASE + [np("x", "p", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})],
        BASE + [np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}]})]),
    # Only the nodes' addresses (172.18/16: the hostNetwork pod shows one) are admitted; through the NodePort with
    # externalTrafficPolicy Cluster, SNAT makes every client look like a node. With Local the policy sees clients.
    "nodeport-bypasses-policy": (
        BASE + [NODE, NODEPORT_A, NODES_ONLY],
        BASE + [NODE, dict(NODEPORT_A, spec=dict(NODEPORT_A["spec"], externalTrafficPolicy="Local")), NODES_ONLY]),
})


@pytest.mark.parametrize("code", sorted(CASES))
def test_finding_triggers_and_does_not(code):
    bad, good = CASES[code]
    assert code in codes(bad), f"{code} should be found"
    assert code not in codes(good), f"{code} should not be found"


def test_unknown_verdicts_for_lack_of_permission():
    denied = Unreadable("networkpolicies.networking.k8s.io", None, "forbidden: list is not allowed")
    assert "unknown-verdicts" in codes(BASE, [denied])
    assert "unknown-verdicts" not in codes(BASE)


def test_dns_blocked_is_in_the_catalogue_run():
    objects = BASE + [ns("kube-system"), pod("kube-system", "coredns", {"k8s-app": "kube-dns"}, "10.0.9.1"),
                      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns",
                                                                           "namespace": "kube-system"},
                       "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP",
                                                                            "name": "tcp"}]}}]
    assert "dns-blocked" in codes(objects + [DENY_ALL])
    assert "dns-blocked" not in codes(objects)


KUBE_DNS = [ns("kube-system"), pod("kube-system", "coredns", {"k8s-app": "kube-dns"}, "10.0.9.1"),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                      "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP", "name": "tcp"}]}}]


def test_dns_service_missing_and_no_backends():
    assert "dns-service-missing" in codes(BASE) and "dns-service-missing" not in codes(BASE + KUBE_DNS)
    no_backends = KUBE_DNS[:1] + KUBE_DNS[2:]  # the Service, but no CoreDNS pod
    assert "dns-no-backends" in codes(BASE + no_backends) and "dns-no-backends" not in codes(BASE + KUBE_DNS)


def test_dns_unknown_when_a_policy_cannot_be_read():
    broken = np("x", "broken", {"podSelector": {}, "policyTypes": ["Egress"],
                                "egress": [{"to": [{"podSelector": {"matchLabels": {"a": 1}}}]}]})
    assert "dns-unknown" in codes(BASE + KUBE_DNS + [broken])
    assert "dns-unknown" not in codes(BASE + KUBE_DNS)


def test_every_catalogue_code_is_tested():
    tested = set(CASES) | {"unknown-verdicts", "dns-blocked", "dns-tcp-blocked", "dns-partial", "dns-unknown",
                           "dns-no-backends", "dns-service-missing", "admin-policy-ignored", "admin-policy-portability",
                           "anp-named-port", "admin-peer-unsupported", "calico-types-empty", "long-service-account",
                           "staged-policy", "unmodelled"}
    assert set(CATALOGUE) <= tested


def write(tmp_path, objects) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


def test_check_exit_codes(tmp_path):
    path = write(tmp_path, CASES["policy-selects-nothing"][0])  # a medium finding, and low ones; no high
    run = CliRunner().invoke
    assert run(main, ["check", "-f", path, "-q"]).exit_code == 0  # default --fail-on high
    assert run(main, ["check", "-f", path, "-q", "--fail-on", "medium"]).exit_code == 1
    assert run(main, ["check", "-f", path, "-q", "--fail-on", "never"]).exit_code == 0
    clean = write(tmp_path, BASE + [DENY_ALL])  # only the info "dns-service-missing" remains
    assert run(main, ["check", "-f", clean, "-q", "--fail-on", "low"]).exit_code == 0
    assert run(main, ["check", "-f", clean, "-q", "--fail-on", "info"]).exit_code == 1


def test_check_json(tmp_path):
    path = write(tmp_path, CASES["policy-selects-nothing"][0])
    doc = json.loads(CliRunner().invoke(main, ["check", "-f", path, "-q", "-o", "json"]).stdout)
    assert doc["kind"] == "Findings"
    found = [f for f in doc["findings"] if f["code"] == "policy-selects-nothing"]
    assert found and found[0]["objects"] == ["NetworkPolicy x/ghost"] and found[0]["severity"] == "medium"


def test_check_sarif_validates_against_the_schema(tmp_path):
    objects = CASES["policy-selects-nothing"][0] + CASES["host-network-pod"][0][-1:]
    path = write(tmp_path, objects)
    result = CliRunner().invoke(main, ["check", "-f", path, "-q", "-o", "sarif", "--fail-on", "never"])
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, SCHEMA)
    results = sarif["runs"][0]["results"]
    ghost = next(r for r in results if r["ruleId"] == "policy-selects-nothing")
    location = ghost["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("cluster.yaml") and location["region"]["startLine"] >= 1
    assert {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]} == {r["ruleId"] for r in results}


def test_check_on_the_demo_reports_the_dns_gap():
    result = CliRunner().invoke(main, ["check", "-f", "examples/shop", "-q"])
    assert result.exit_code == 1
    assert "shop-data/StatefulSet/postgres cannot reach the CoreDNS pods" in result.output
    assert textwrap.dedent("fix: allow egress to namespace kube-system").strip() in result.output


ANP_NAMED = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
             "metadata": {"name": "named"},
             "spec": {"priority": 5, "subject": {"namespaces": {}},
                      "ingress": [{"action": "Allow", "from": [{"namespaces": {}}],
                                   "ports": [{"namedPort": "http"}]}]}}
ANP_NODES = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
             "metadata": {"name": "nodes"},
             "spec": {"priority": 6, "subject": {"namespaces": {}},
                      "egress": [{"action": "Deny", "to": [{"nodes": {}}]}]}}


def codes_with(objects, calico_version=None):
    from auditor.analysis import AnalyzeOptions
    state = build_state([(o, "t.yaml:1") for o in objects])
    return {f.code for f in run_checks(analyze(state, AnalyzeOptions(calico_version=calico_version)))}


def test_calico_version_differences_are_findings_either_way():
    # No version: the portability findings. Calico 3.31: what that version really does. Calico 3.32: ignored.
    unknown_version = codes_with(BASE + [ANP_NAMED, ANP_NODES])
    assert {"admin-policy-portability", "anp-named-port", "admin-peer-unsupported"} <= unknown_version
    v331 = codes_with(BASE + [ANP_NAMED, ANP_NODES], "3.31")
    assert {"anp-named-port", "admin-peer-unsupported"} <= v331 and "admin-policy-portability" not in v331
    v332 = codes_with(BASE + [ANP_NAMED], "3.32")
    assert "admin-policy-ignored" in v332 and "anp-named-port" not in v332
    assert not {"admin-policy-portability", "anp-named-port", "admin-peer-unsupported"} & codes_with(BASE)


def test_staged_policies_and_raw_calico_types():
    staged = {"apiVersion": "projectcalico.org/v3", "kind": "StagedNetworkPolicy",
              "metadata": {"name": "s", "namespace": "x"}, "spec": {"selector": "all()", "ingress": [
                  {"action": "Deny"}]}}
    raw = {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "r", "namespace": "x"}, "spec": {"selector": "all()", "ingress": [
               {"action": "Allow"}]}}
    assert "staged-policy" in codes(BASE + [staged]) and "staged-policy" not in codes(BASE)
    assert "calico-types-empty" in codes(BASE + [raw])
    typed = dict(raw, spec=dict(raw["spec"], types=["Ingress"]))
    assert "calico-types-empty" not in codes(BASE + [typed])


def test_long_service_account_and_unmodelled_fields():
    long_sa = "s" * 63
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
              "metadata": {"name": "p", "namespace": "x"},
              "spec": {"selector": "all()", "ingress": [{"action": "Allow", "source": {
                  "serviceAccounts": {"names": [long_sa]}}}]}}
    assert "long-service-account" in codes(BASE + [policy])
    http = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "h", "namespace": "x"},
            "spec": {"selector": "all()", "ingress": [{"action": "Allow", "http": {"methods": ["GET"]}}]}}
    assert "unmodelled" in codes(BASE + [http]) and "unmodelled" not in codes(BASE)


def test_global_in_a_gnp_namespace_selector_is_refused_by_the_v3_api_only():
    # libcalico-go/lib/validator/v3/validator.go refuses global() in a GNP's own namespaceSelector; a raw
    # crd.projectcalico.org/v1 object is stored as written and Felix evaluates global() as true (CAL-C6).
    def gnp(api_version):
        return {"apiVersion": api_version, "kind": "GlobalNetworkPolicy", "metadata": {"name": "g"},
                "spec": {"selector": "app == 'a'", "namespaceSelector": "global()", "types": ["Ingress"]}}

    def alerts(obj):
        return [a for a in analyze(build_state([(o, "t.yaml:1") for o in BASE + [obj]])).alerts
                if "global()" in a.message]

    assert len(alerts(gnp("projectcalico.org/v3"))) == 1
    assert alerts(gnp("crd.projectcalico.org/v1")) == []
