"""Every finding: one small cluster that triggers it and one that does not (answers worked out by hand), plus the
`check` command's formats and exit codes, and SARIF validated against the official 2.1.0 schema.

`CASES` is the one registry of trigger / non-trigger pairs: `test_finding_triggers_and_does_not` runs every entry,
and `test_every_catalogue_code_has_a_trigger_and_a_non_trigger_case` compares the registry with the catalogue, so
a code counts as tested only if a test really triggers it and really does not in a near-identical cluster."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from auditor.analysis import AnalyzeOptions, analyze
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


KUBE_DNS = [ns("kube-system"), pod("kube-system", "coredns", {"k8s-app": "kube-dns"}, "10.0.9.1"),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                      "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP", "name": "tcp"}]}}]
CLIENT_EGRESS_DENIED = np("x", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})


def dns_allow(protocols=("UDP", "TCP"), peer=None):
    peer = peer or {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return np("x", "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"],
                                 "egress": [{"to": [peer], "ports": [{"protocol": p, "port": 53} for p in protocols]}]})


def calico(kind, name, spec, namespace="x", version="projectcalico.org/v3"):
    meta = {"name": name} if kind.startswith(("Global", "StagedGlobal")) else {"name": name, "namespace": namespace}
    return {"apiVersion": version, "kind": kind, "metadata": meta, "spec": spec}


ANP_NAMED = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
             "metadata": {"name": "named"},
             "spec": {"priority": 5, "subject": {"namespaces": {}},
                      "ingress": [{"action": "Allow", "from": [{"namespaces": {}}],
                                   "ports": [{"namedPort": "http"}]}]}}
ANP_NUMBERED = {**ANP_NAMED, "spec": {**ANP_NAMED["spec"], "ingress": [
    {"action": "Allow", "from": [{"namespaces": {}}], "ports": [{"portNumber": {"protocol": "TCP", "port": 8080}}]}]}}
ANP_NODES = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
             "metadata": {"name": "nodes"},
             "spec": {"priority": 6, "subject": {"namespaces": {}},
                      "egress": [{"action": "Deny", "to": [{"nodes": {}}]}]}}
ANP_NETWORKS = {**ANP_NODES, "spec": {**ANP_NODES["spec"], "egress": [
    {"action": "Deny", "to": [{"networks": ["172.18.0.0/16"]}]}]}}
CNP = {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy", "metadata": {"name": "c"},
       "spec": {"tier": "Admin", "priority": 5, "subject": {"namespaces": {}},
                "ingress": [{"action": "Accept", "from": [{"namespaces": {}}]}]}}
SERVICE_A = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"},
             "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]}}


@dataclass(frozen=True)
class Case:
    """A cluster that triggers a code and a near-identical one that does not (the same Calico version for both;
    `unreadable`: resources the source could not read, in the triggering run only)."""

    trigger: list
    clean: list
    unreadable: tuple = ()
    calico_version: str | None = None


CASES: dict[str, Case] = {
    "no-ingress-isolation": Case(BASE, BASE + [DENY_ALL]),
    "no-egress-isolation": Case(BASE, BASE + [DENY_ALL]),
    "policy-selects-nothing": Case(
        BASE + [DENY_ALL, np("x", "ghost", {"podSelector": {"matchLabels": {"app": "nope"}}})],
        BASE + [DENY_ALL, np("x", "real", {"podSelector": {"matchLabels": {"app": "a"}}})]),
    "peer-matches-nothing": Case(
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}]})]),
    "named-port-unresolved": Case(
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {"matchLabels": {"app": "a"}},
                                        "ingress": [{"ports": [{"port": "https"}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {"matchLabels": {"app": "a"}},
                                        "ingress": [{"ports": [{"port": "http"}]}]})]),
    "rules-ignored": Case(
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Ingress"],
                                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})]),
    "ipblock-covers-cluster": Case(
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                                        "except": ["10.0.0.0/8"]}}]}]})]),
    "allow-from-anywhere": Case(
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]})],
        BASE + [DENY_ALL, np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 8080}]}]})]),
    "host-network-pod": Case(BASE + [pod("x", "agent", {"app": "agent"}, "172.18.0.2", hostNetwork=True)], BASE),
    "service-unreachable": Case(BASE + [DENY_ALL, SERVICE_A], BASE + [SERVICE_A]),
    "rule-shadowed": Case(
        BASE + [ns("c"), calico("NetworkPolicy", "p", {"selector": "all()", "ingress": [
            {"action": "Deny"}, {"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}]})],
        BASE + [calico("NetworkPolicy", "p", {"selector": "all()", "ingress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}, {"action": "Deny"}]})]),
    # --- the audit's completeness -----------------------------------------------------------------------------------
    "unknown-verdicts": Case(
        BASE, BASE, unreadable=(Unreadable("networkpolicies.networking.k8s.io", None, "forbidden: list"),)),
    "input-skipped": Case(  # a label value YAML turned into a number: read, with an error (and unknown verdicts)
        BASE + [pod("x", "c", {"app": "c", "tier": 1.10}, "10.0.0.3")],
        BASE + [pod("x", "c", {"app": "c", "tier": "1.10"}, "10.0.0.3")]),
    # --- DNS --------------------------------------------------------------------------------------------------------
    "dns-blocked": Case(BASE + KUBE_DNS + [DENY_ALL], BASE + KUBE_DNS),
    "dns-tcp-blocked": Case(BASE + KUBE_DNS + [CLIENT_EGRESS_DENIED, dns_allow(("UDP",))],
                            BASE + KUBE_DNS + [CLIENT_EGRESS_DENIED, dns_allow()]),
    "dns-partial": Case(  # two CoreDNS pods, the allow names one pod's IP: kube-proxy may pick the other
        BASE + KUBE_DNS + [pod("kube-system", "coredns-2", {"k8s-app": "kube-dns"}, "10.0.9.2"),
                           CLIENT_EGRESS_DENIED, dns_allow(peer={"ipBlock": {"cidr": "10.0.9.1/32"}})],
        BASE + KUBE_DNS + [pod("kube-system", "coredns-2", {"k8s-app": "kube-dns"}, "10.0.9.2"),
                           CLIENT_EGRESS_DENIED, dns_allow(peer={"ipBlock": {"cidr": "10.0.9.0/30"}})]),
    # A namespaceSelector that cannot be read (a number as label value): CoreDNS may or may not be in its reach.
    "dns-unknown": Case(
        BASE + KUBE_DNS + [np("x", "broken", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
            {"namespaceSelector": {"matchLabels": {"a": 1}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        ]}]})],
        BASE + KUBE_DNS + [np("x", "fine", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
            {"namespaceSelector": {"matchLabels": {"a": "1"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        ]}]})]),
    "dns-no-backends": Case(BASE + KUBE_DNS[:1] + KUBE_DNS[2:], BASE + KUBE_DNS),  # the Service, no CoreDNS pod
    "dns-service-missing": Case(BASE, BASE + KUBE_DNS),
    # --- Calico and admin policies -----------------------------------------------------------------------------------
    "admin-policy-ignored": Case(BASE + [ANP_NAMED], BASE + [CNP], calico_version="3.32"),
    "admin-policy-portability": Case(BASE + [ANP_NUMBERED], BASE),  # no --calico-version: which enforce it?
    "anp-named-port": Case(BASE + [ANP_NAMED], BASE + [ANP_NUMBERED], calico_version="3.31"),
    "admin-peer-unsupported": Case(BASE + [ANP_NODES], BASE + [ANP_NETWORKS], calico_version="3.31"),
    "calico-types-empty": Case(
        BASE + [calico("NetworkPolicy", "r", {"selector": "all()", "ingress": [{"action": "Allow"}]},
                       version="crd.projectcalico.org/v1")],
        BASE + [calico("NetworkPolicy", "r", {"selector": "all()", "types": ["Ingress"],
                                              "ingress": [{"action": "Allow"}]}, version="crd.projectcalico.org/v1")]),
    "staged-policy": Case(
        BASE + [calico("StagedNetworkPolicy", "s", {"selector": "all()", "ingress": [{"action": "Deny"}]})],
        BASE + [calico("NetworkPolicy", "s", {"selector": "all()", "ingress": [{"action": "Deny"}]})]),
    "unmodelled": Case(
        BASE + [calico("NetworkPolicy", "h", {"selector": "all()", "ingress": [
            {"action": "Allow", "http": {"methods": ["GET"]}}]})],
        BASE + [calico("NetworkPolicy", "h", {"selector": "all()", "ingress": [{"action": "Allow"}]})]),
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
    "exposed-to-internet": Case(BASE + [LB_A], BASE + [dict(LB_A, spec=dict(LB_A["spec"],
                                                                             loadBalancerSourceRanges=["10.0.0.0/8"]))]),
    # The controller's pods are in `edge`; a deny-all in x keeps them out, an allow from `edge` lets them in.
    "route-blocked-by-policy": Case(BASE + INGRESS_SETUP + [DENY_ALL], BASE + INGRESS_SETUP + [FROM_EDGE]),
    # namespaceSelector {} admits namespaces created tomorrow; a named namespace does not.
    "exposed-to-future-pods": Case(
        BASE + [np("x", "p", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})],
        BASE + [np("x", "p", {"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}]})]),
    # Only the nodes' addresses (172.18/16: the hostNetwork pod shows one) are admitted; through the NodePort with
    # externalTrafficPolicy Cluster, SNAT makes every client look like a node. With Local the policy sees clients.
    "nodeport-bypasses-policy": Case(
        BASE + [NODE, NODEPORT_A, NODES_ONLY],
        BASE + [NODE, dict(NODEPORT_A, spec=dict(NODEPORT_A["spec"], externalTrafficPolicy="Local")), NODES_ONLY]),
})


def codes(objects, unreadable=(), calico_version=None):
    state = build_state([(o, "t.yaml:1") for o in objects])
    state.unreadable.extend(unreadable)
    return {f.code for f in run_checks(analyze(state, AnalyzeOptions(calico_version=calico_version)))}


@pytest.mark.parametrize("code", sorted(CASES))
def test_finding_triggers_and_does_not(code):
    case = CASES[code]
    assert code in codes(case.trigger, case.unreadable, case.calico_version), f"{code} should be found"
    assert code not in codes(case.clean, (), case.calico_version), f"{code} should not be found"


def test_every_catalogue_code_has_a_trigger_and_a_non_trigger_case():
    assert set(CASES) == set(CATALOGUE), (f"untested: {sorted(set(CATALOGUE) - set(CASES))}; "
                                         f"not in the catalogue: {sorted(set(CASES) - set(CATALOGUE))}")


def test_input_skipped_fails_the_default_gate(tmp_path):
    (tmp_path / "good.yaml").write_text(yaml.safe_dump_all(BASE + [DENY_ALL]))
    clean = CliRunner().invoke(main, ["check", "-f", str(tmp_path), "-q"])
    assert clean.exit_code == 0 and "input-skipped" not in clean.output
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [c\n")
    result = CliRunner().invoke(main, ["check", "-f", str(tmp_path), "-q"])
    assert result.exit_code == 1  # the default --fail-on high: the audit is incomplete
    assert "input-skipped" in result.stdout
    doc = json.loads(CliRunner().invoke(main, ["check", "-f", str(tmp_path), "-q", "-o", "json"]).stdout)
    (skipped,) = [f for f in doc["findings"] if f["code"] == "input-skipped"]
    assert "broken.yaml:3: invalid YAML" in skipped["message"] and skipped["severity"] == "high"
    assert "error: " in result.stderr and "broken.yaml:3" in result.stderr  # printed even with -q
    sarif = json.loads(CliRunner().invoke(main, ["check", "-f", str(tmp_path), "-q", "-o", "sarif"]).stdout)
    jsonschema.validate(sarif, SCHEMA)
    skipped = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "input-skipped")
    location = skipped["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("broken.yaml") and location["region"]["startLine"] == 3


def test_the_calico_version_decides_which_admin_findings_apply():
    # No version: the portability findings. Calico 3.31: what that version really does. Calico 3.32: ignored.
    unknown_version = codes(BASE + [ANP_NAMED, ANP_NODES])
    assert {"admin-policy-portability", "anp-named-port", "admin-peer-unsupported"} <= unknown_version
    v331 = codes(BASE + [ANP_NAMED, ANP_NODES], calico_version="3.31")
    assert {"anp-named-port", "admin-peer-unsupported"} <= v331 and "admin-policy-portability" not in v331
    v332 = codes(BASE + [ANP_NAMED], calico_version="3.32")
    assert "admin-policy-ignored" in v332 and "anp-named-port" not in v332


def write(tmp_path, objects) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


def test_check_exit_codes(tmp_path):
    path = write(tmp_path, CASES["policy-selects-nothing"].trigger)  # a medium finding, and low ones; no high
    run = CliRunner().invoke
    assert run(main, ["check", "-f", path, "-q"]).exit_code == 0  # default --fail-on high
    assert run(main, ["check", "-f", path, "-q", "--fail-on", "medium"]).exit_code == 1
    assert run(main, ["check", "-f", path, "-q", "--fail-on", "never"]).exit_code == 0
    clean = write(tmp_path, BASE + [DENY_ALL])  # only the info "dns-service-missing" remains
    assert run(main, ["check", "-f", clean, "-q", "--fail-on", "low"]).exit_code == 0
    assert run(main, ["check", "-f", clean, "-q", "--fail-on", "info"]).exit_code == 1


def test_check_json(tmp_path):
    path = write(tmp_path, CASES["policy-selects-nothing"].trigger)
    doc = json.loads(CliRunner().invoke(main, ["check", "-f", path, "-q", "-o", "json"]).stdout)
    assert doc["kind"] == "Findings"
    found = [f for f in doc["findings"] if f["code"] == "policy-selects-nothing"]
    assert found and found[0]["objects"] == ["NetworkPolicy x/ghost"] and found[0]["severity"] == "medium"


def test_check_sarif_validates_against_the_schema(tmp_path):
    objects = CASES["policy-selects-nothing"].trigger + CASES["host-network-pod"].trigger[-1:]
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
