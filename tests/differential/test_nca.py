"""netaudit against network-config-analyzer (IBM, PyPI `network-config-analyzer`, pinned in bench/peers.py).

Small random clusters (tests/strategies.py for Kubernetes NetworkPolicies; below for Calico policies) are written as
YAML, NCA computes its per-pod connectivity (`nca --connectivity -r DIR -o txt_no_fw_rules --output_endpoints pods`)
and netaudit its pod-level matrix. Both become facts (source, destination, protocol, port) over every pod pair and a
few external addresses, on strategies.CHECK_PORTS, and every fact must agree.

Where NCA 2.1.0 misreads a valid object, NCA is given an exactly equivalent one (`_for_nca`, each rewrite with the
NCA code it works around): policyTypes defaulted as the API server does; peer podSelector Exists/DoesNotExist as
In/NotIn over the cluster's label values; namespaces' implicit projectcalico.org/name label written out; a lone
notSelector in a namespaced Calico policy scoped to its namespace. netaudit always reads the original.

The two tools model two documented things differently. A disagreement is excused only when it is exactly one of them,
for a fact of the kind that difference can affect. Anything else fails the test with the cluster and the facts.

  A7   ipBlock matches pod IPs. netaudit follows Calico, which converts an ipBlock into `nets` that match any IP,
       pods included (docs/semantics.md K8S-A7; README "ipBlocks also match pod IPs"). NCA never reads pod IPs: its
       ipBlocks, nets and notNets hold external addresses only. Shown by a counterfactual (netaudit on the cluster
       without pod IPs gives NCA's verdict: README "A pod with no known IP ...") or, for Calico nets/notNets, by
       netaudit's own explanation (the verdict was decided by an address rule). Pod-to-pod facts only.
  A10  hostNetwork pods. Calico creates no workload endpoint for them (docs/semantics.md K8S-A11): policies do
       not select them and pod selectors do not match them. NCA ignores `hostNetwork` and treats them as ordinary pods.
       Counterfactual: `hostNetwork` removed (and, as NCA also does not read IPs, the IPs too). Only facts with a
       hostNetwork pod at one end are excused this way.

The summary at the end of the pytest run counts the facts compared, agreeing and excused per reason.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.engine.explain import explain
from auditor.report.json_matrix import render
from auditor.sources.manifests import build_state
from bench import peers as P
from tests.differential.conftest import SUMMARY_KEY
from tests.strategies import CHECK_PORTS, EXTERNAL_IPS, NAMESPACES, clusters

if not P.NCA.available():
    pytest.skip(f"network-config-analyzer is not installed at {P.NCA_BIN}: run `make nca-venv` (or make bench-peers)",
                allow_module_level=True)

pytestmark = pytest.mark.differential

SAMPLE_IPS = tuple(e[3:] for e in EXTERNAL_IPS)
# Deterministic: the same clusters every run (derandomize), no example database, and no shrinking (every shrink step
# would run NCA again; the cases are small enough to read as they are).
# To explore further by hand (not the default): NETAUDIT_DIFF_EXAMPLES=300 NETAUDIT_DIFF_RANDOM=1.
EXAMPLES = int(os.environ.get("NETAUDIT_DIFF_EXAMPLES", "30"))
DIFF_SETTINGS = settings(max_examples=EXAMPLES, derandomize=os.environ.get("NETAUDIT_DIFF_RANDOM") != "1",
                         database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CALICO_SETTINGS = settings(DIFF_SETTINGS, max_examples=max(1, EXAMPLES * 5 // 6))


# ------------------------------------------------------------------------------------------------ the comparison

def _netaudit(objects: list[dict]):
    return analyze(build_state([(o, "generated") for o in objects]))


def _netaudit_facts(objects: list[dict], index: P.ClusterIndex, result=None) -> tuple[P.Facts, dict]:
    result = result or _netaudit(objects)
    unknown: dict = {}
    text = render(result.matrix_view("pod"))
    return P.parse_netaudit_json(text, index, CHECK_PORTS, SAMPLE_IPS, unknown_out=unknown), unknown


ADDRESS_PEER = re.compile(r"^(ipBlock|nets|notNets)\b")


def _decided_by_address_rule(result, src_pod: str, dst_pod: str, proto: str, port: int, allowed: bool) -> bool:
    """Whether netaudit's verdict rests on a rule that matched a pod by its address (an ipBlock, nets or notNets
    peer): for an allowed fact, some direction was decided by one; for a denied fact, every denying direction was."""
    exp = explain(result, src_pod, dst_pod, proto, port)

    def by_address(trace) -> bool:
        return any(step.decided and ADDRESS_PEER.match(step.peer) for tier in trace.tiers for step in tier.rules)

    if allowed:
        return by_address(exp.egress) or by_address(exp.ingress)
    denying = [t for t in (exp.egress, exp.ingress) if t.verdict != "allowed"]
    return bool(denying) and all(by_address(t) for t in denying)


def _for_nca(objects: list[dict]) -> list[dict]:
    """The same cluster, rewritten where NCA 2.1.0 reads a valid object differently from the API server and Calico
    (each rewrite below is exact: the object means the same to Calico after it). netaudit reads the original.

    Last rewrite: NCA rejects a NetworkPolicy whose `policyTypes` lacks a direction it has rules for ("A
    NetworkPolicy with egress field but no "Egress" in its policyTypes"); the API server accepts it and Calico
    ignores those rules (docs/semantics.md K8S-A2), so they are dropped."""
    out = copy.deepcopy(objects)
    values_of: dict[str, set] = {}
    for obj in out:
        if obj["kind"] == "Pod":
            for key, value in (obj["metadata"].get("labels") or {}).items():
                values_of.setdefault(key, set()).add(value)
    for obj in out:
        if obj["kind"] == "NetworkPolicy" and obj["apiVersion"].startswith("networking.k8s.io/"):
            # NCA evaluates Exists/DoesNotExist of a *peer* podSelector among the policy's own namespace's pods only
            # (K8sPolicyYamlParser.parse_label_selector_requirement -> get_peers_with_key(self.namespace, ...)), so
            # with a namespaceSelector for other namespaces it matches nothing there. Over this cluster's pods,
            # `k Exists` is exactly `k In {every value k has}` and `k DoesNotExist` is `k NotIn {them}`.
            for rule in (obj["spec"].get("ingress") or []) + (obj["spec"].get("egress") or []):
                for peer in (rule.get("from") or []) + (rule.get("to") or []):
                    for expr in (peer.get("podSelector") or {}).get("matchExpressions") or []:
                        if expr["operator"] in ("Exists", "DoesNotExist"):
                            values = sorted(values_of.get(expr["key"], ())) or ["no-pod-has-this-value"]
                            expr["operator"] = "In" if expr["operator"] == "Exists" else "NotIn"
                            expr["values"] = values
        if obj["kind"] == "Namespace":
            # Calico gives every namespace the label projectcalico.org/name=<name> for namespaceSelectors
            # (docs/semantics.md CAL-C5); NCA only adds kubernetes.io/metadata.name, so it is written out for NCA.
            obj["metadata"]["labels"] = dict(obj["metadata"].get("labels") or {},
                                             **{"projectcalico.org/name": obj["metadata"]["name"]})
        if obj["kind"] == "NetworkPolicy" and obj["apiVersion"].startswith("projectcalico.org/"):
            # A namespaced Calico policy limits a rule entity to its own namespace as soon as any selector field is
            # used, notSelector included (libcalico-go updateprocessors/rules.go, getEndpointSelector: "limited to
            # the namespace ... as soon as _any_ of the selector fields are used, including NotSelector"). NCA
            # applies a lone notSelector cluster-wide and to external IPs. Written out for NCA as the equivalent
            # explicit namespaceSelector, which NCA does scope.
            for rule in obj["spec"].get("ingress", []) + obj["spec"].get("egress", []):
                for side in ("source", "destination"):
                    entity = rule.get(side) or {}
                    if "notSelector" in entity and "selector" not in entity and "namespaceSelector" not in entity:
                        entity["namespaceSelector"] = f"projectcalico.org/name == '{obj['metadata']['namespace']}'"
        if obj["kind"] == "NetworkPolicy" and obj["apiVersion"].startswith("networking.k8s.io/"):
            # The API server defaults policyTypes on write: [Ingress], plus Egress only if `egress` is non-empty
            # (docs/semantics.md K8S-A2, kubernetes pkg/apis/networking/v1/defaults.go). NCA 2.1.0 takes a present but
            # empty `egress: []` as egress isolation (K8sPolicyYamlParser: `'egress' in policy_spec`), so NCA is given
            # the object as the API server would store it.
            if not obj["spec"].get("policyTypes"):
                obj["spec"]["policyTypes"] = ["Ingress"] + (["Egress"] if obj["spec"].get("egress") else [])
            for direction in ("Ingress", "Egress"):
                if direction not in obj["spec"]["policyTypes"]:
                    obj["spec"].pop(direction.lower(), None)
    return out


def _nca_facts(objects: list[dict], index: P.ClusterIndex) -> tuple[P.Facts, str]:
    with tempfile.TemporaryDirectory(prefix="netaudit-nca-") as tmp:
        with open(Path(tmp) / "cluster.yaml", "w") as handle:
            yaml.safe_dump_all(_for_nca(objects), handle, sort_keys=False)
        output = P.run_nca(tmp, timeout=60)
    unparsed: list[str] = []
    facts = P.NCA.parse(output, index, unparsed, CHECK_PORTS, SAMPLE_IPS)
    assert not unparsed, f"NCA output lines not understood: {unparsed[:5]}"
    return facts, output


def _without_pod_ips(objects):
    out = copy.deepcopy(objects)
    for obj in out:
        if obj["kind"] == "Pod":
            status = obj.get("status") or {}
            status.pop("podIP", None)
            status.pop("podIPs", None)
    return out


def _without_host_network(objects):
    out = _without_pod_ips(objects)
    for obj in out:
        if obj["kind"] == "Pod":
            obj["spec"].pop("hostNetwork", None)
    return out


def _verdict(facts: P.Facts, src: str, dst: str, probe) -> bool:
    return probe in facts.get((src, dst), frozenset())


def check_against_nca(objects: list[dict], stats: Counter) -> None:
    index = P.index_cluster(objects)
    pod_of = {w: p for p, w in index.pod_workload.items()}
    result = _netaudit(objects)
    ours, unknown = _netaudit_facts(objects, index, result)
    theirs, nca_output = _nca_facts(objects, index)
    pods = sorted(index.pod_workload.values())
    host_network = {index.pod_workload[p] for p in index.host_network}
    endpoints = pods + [f"ip:{ip}" for ip in SAMPLE_IPS]
    cmp = P.compare(ours, theirs, endpoints, CHECK_PORTS, include_self=False)
    stats["clusters"] += 1
    stats["facts"] += cmp.facts
    stats["agreeing facts"] += cmp.agreeing_facts

    unknown_facts = [(s, d, probe) for (s, d), probes in unknown.items() for probe in probes]
    variants = {}
    unexplained = []
    for src, dst, proto, port, our_verdict, their_verdict in cmp.disagreements:
        probe = (proto, port)
        pod_to_pod = not src.startswith("ip:") and not dst.startswith("ip:")
        reason = None
        # A7: ipBlock matches pod IPs in Calico, never in NCA. Only pod-to-pod facts can depend on it.
        if pod_to_pod:
            if "A7" not in variants:
                variants["A7"] = _netaudit_facts(_without_pod_ips(objects), index)[0]
            if _verdict(variants["A7"], src, dst, probe) == their_verdict:
                reason = "A7 ipBlock matches pod IPs (Calico) vs external-only (NCA)"
            # The same difference for Calico nets/notNets: `notNets` matches a pod whose IP is outside them (or
            # that has no IP: README "ipBlock/nets rules never match them"), which removing the IPs cannot undo.
            elif _decided_by_address_rule(result, pod_of[src], pod_of[dst], proto, port, our_verdict):
                reason = "A7 nets/notNets/ipBlock decide for a pod by its IP (Calico) vs external-only (NCA)"
        # A10: hostNetwork pods have no workload endpoint in Calico; NCA treats them as ordinary pods.
        if reason is None and (src in host_network or dst in host_network):
            if "A10" not in variants:
                variants["A10"] = _netaudit_facts(_without_host_network(objects), index)[0]
            if _verdict(variants["A10"], src, dst, probe) == their_verdict:
                reason = "A10 hostNetwork pods (no Calico workload endpoint) vs ordinary pods (NCA)"
        if reason is None:
            unexplained.append((src, dst, proto, port, our_verdict, their_verdict))
        else:
            stats[f"excused: {reason}"] += 1
    if unexplained or unknown_facts:
        stats["failing clusters"] += 1
        lines = [f"netaudit and network-config-analyzer {P.NCA_VERSION} disagree on {len(unexplained)} fact(s) "
                 f"that no documented semantic difference explains (a probable netaudit bug, or an NCA one):"]
        lines += [f"  {s} -> {d} {port}/{proto}: netaudit {'ALLOWS' if a else 'denies'}, "
                  f"NCA {'ALLOWS' if b else 'denies'}" for s, d, proto, port, a, b in unexplained[:20]]
        if unknown_facts:
            lines.append(f"netaudit left {len(unknown_facts)} compared fact(s) unknown, e.g. {unknown_facts[:5]}")
        lines += ["", "cluster:", yaml.safe_dump_all(objects, sort_keys=False),
                  "NCA output:", nca_output[-4000:]]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture(scope="module")
def stats(pytestconfig):
    counts: Counter = Counter()
    yield counts
    summary = getattr(pytestconfig, SUMMARY_KEY, [])
    summary.append(f"{counts['clusters']} clusters, {counts['facts']} facts compared, {counts['agreeing facts']} "
                   f"agree, {counts['failing clusters']} clusters with unexplained disagreements")
    summary += [f"  {k}: {v} facts" for k, v in sorted(counts.items()) if k.startswith("excused")]
    setattr(pytestconfig, SUMMARY_KEY, summary)


# ------------------------------------------------------------------------------------------------ Kubernetes

def _shape(objects):
    pods = sum(o["kind"] == "Pod" for o in objects)
    policies = sum(o["kind"] in ("NetworkPolicy", "GlobalNetworkPolicy") for o in objects)
    return pods, policies


kubernetes_clusters = clusters(max_pods=6, max_policies=5).filter(
    lambda objs: _shape(objs)[0] >= 3 and _shape(objs)[1] >= 2)


@DIFF_SETTINGS
@given(objects=kubernetes_clusters)
def test_kubernetes_networkpolicies_agree_with_nca(objects, stats):
    check_against_nca(objects, stats)


# ------------------------------------------------------------------------------------------------ Calico

# Calico v3 policies that NCA reads: NetworkPolicy and GlobalNetworkPolicy in the default tier only (NCA has no
# tiers), with Allow/Deny/Pass, selectors, namespaceSelectors, nets/notNets, protocols and ports, mixed with the
# Kubernetes policies above (which Calico and NCA both place at order 1000). Orders avoid 1000: two policies of equal
# order are ordered by name, and the names of converted Kubernetes policies differ by Calico version.
CALICO_SELECTORS = ["all()", "app == 'a'", "app != 'a'", "has(tier)", "app in {'a', 'web'}", "!has(app)",
                    "tier == 'b' || app == 'b'"]
CALICO_NS_SELECTORS = ["team == 'a'", "all()", "projectcalico.org/name == 'y'", "!has(team)"]
CALICO_NETS = [["10.0.0.0/16"], ["0.0.0.0/0"], ["192.0.2.0/24"], ["10.0.1.0/24", "8.8.8.8/32"]]


@st.composite
def calico_entity(draw):
    kind = draw(st.sampled_from(["any", "selector", "ns", "selector+ns", "nets", "notNets", "notSelector"]))
    entity = {}
    if kind in ("selector", "selector+ns"):
        entity["selector"] = draw(st.sampled_from(CALICO_SELECTORS))
    if kind in ("ns", "selector+ns"):
        entity["namespaceSelector"] = draw(st.sampled_from(CALICO_NS_SELECTORS))
    if kind == "nets":
        entity["nets"] = draw(st.sampled_from(CALICO_NETS))
    if kind == "notNets":
        entity["notNets"] = draw(st.sampled_from(CALICO_NETS))
    if kind == "notSelector":
        entity["notSelector"] = draw(st.sampled_from(CALICO_SELECTORS))
    return entity


@st.composite
def calico_rules(draw, peer_key):
    rule = {"action": draw(st.sampled_from(["Allow", "Allow", "Deny", "Pass"]))}
    protocol = draw(st.sampled_from([None, "TCP", "UDP"]))
    if protocol:
        rule["protocol"] = protocol
    peer = draw(calico_entity())
    if peer:
        rule[peer_key] = peer
    # Ports are always the destination's (the selected pod's for ingress); `source.ports` would be source ports.
    ports = draw(st.sampled_from([None, [80], [53], ["8000:9000"], ["http"], [80, "dns"]])) if protocol else None
    if ports:
        rule["destination"] = dict(rule.get("destination", {}), ports=ports)
    return rule


@st.composite
def calico_policies(draw, index: int):
    kind = draw(st.sampled_from(["NetworkPolicy", "GlobalNetworkPolicy"]))
    meta = {"name": f"cnp{index}"}
    if kind == "NetworkPolicy":
        meta["namespace"] = draw(st.sampled_from(NAMESPACES))
    spec = {"selector": draw(st.sampled_from(CALICO_SELECTORS))}
    if kind == "GlobalNetworkPolicy" and draw(st.booleans()):
        spec["namespaceSelector"] = draw(st.sampled_from(CALICO_NS_SELECTORS))
    order = draw(st.sampled_from([None, 10, 500, 1500]))
    if order is not None:
        spec["order"] = order
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["types"] = types
    for direction, peer_key in (("ingress", "source"), ("egress", "destination")):
        # NCA rejects rules for a direction that `types` leaves out, so none are drawn (not compared here).
        if types is not None and direction.capitalize() not in types:
            continue
        rules = draw(st.lists(calico_rules(peer_key), min_size=0, max_size=2))
        if rules:
            spec[direction] = rules
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec}


@st.composite
def calico_clusters(draw):
    objects = draw(clusters(max_pods=6, max_policies=2))
    for i in range(draw(st.integers(1, 3))):
        objects.append(draw(calico_policies(i)))
    return objects


@CALICO_SETTINGS
@given(objects=calico_clusters().filter(lambda objs: _shape(objs)[0] >= 3 and _shape(objs)[1] >= 2))
def test_calico_policies_agree_with_nca(objects, stats):
    check_against_nca(objects, stats)
