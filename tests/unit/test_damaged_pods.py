"""A pod whose manifest is damaged in one place keeps what could be read, and its verdicts stay sound.

For a random cluster, one pod is damaged in one field: a label value YAML turned into a number, a named container
port without a valid containerPort, an IP that is not an IP. The damaged run cannot know what the field was, so it
is compared with every *completion*: the same cluster with that field set to each value it could have had. The
damaged run may say `unknown`, but whatever it says surely must hold in every completion:

- allowed in the damaged run -> allowed in every completion; denied -> denied in every completion;
- flows that do not involve the damaged pod are exactly those of every completion (a pod's fields change only its
  own flows);
- explain agrees with the matrix on the damaged run;
- a damaged label no selector reads, or an unnamed port entry, changes nothing at all.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.engine.explain import explain
from auditor.sources.manifests import build_state
from tests.strategies import CHECK_PORTS, EXTERNAL_IPS, clusters
from tests.unit.test_engine_properties import _pods, _verdicts

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LABEL_VALUES = ["a", "b", "web"]
PORT_NUMBERS = sorted({port for _, port in CHECK_PORTS})
IPS = ["10.0.0.9", "10.0.1.9", "10.0.2.9", "192.0.2.9", "8.8.4.4"]


def _run(objects):
    analysis = analyze(build_state([(o, "generated") for o in objects]))
    return analysis, _verdicts(analysis, _pods(objects) + EXTERNAL_IPS)


def _target(objects, index):
    pods = [o for o in objects if o["kind"] == "Pod" and not o["spec"].get("hostNetwork")]
    return pods[index % len(pods)] if pods else None


@st.composite
def relevant_policy(draw, kind: str, namespace: str):
    """A policy that reads what gets damaged (random policies rarely do), from either side of the flow."""
    direction = draw(st.sampled_from(["ingress", "egress"]))
    peers_key = "from" if direction == "ingress" else "to"
    home = draw(st.sampled_from([namespace, "x", "y"]))
    rule: dict = {}
    selector: dict = {}
    if kind == "label":
        key = draw(st.sampled_from(["app", "tier"]))
        value = draw(st.sampled_from(LABEL_VALUES))
        if draw(st.booleans()):
            selector = {"matchLabels": {key: value}}
        else:
            op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
            expr = {"key": key, "operator": op}
            if op in ("In", "NotIn"):
                expr["values"] = [value]
            rule[peers_key] = [{"podSelector": {"matchExpressions": [expr]}, "namespaceSelector": {}}]
    elif kind in ("port", "unnamed-port"):
        rule["ports"] = [{"port": draw(st.sampled_from(["http", "dns", "metrics"])),
                          "protocol": draw(st.sampled_from(["TCP", "UDP"]))}]
        if draw(st.booleans()):
            rule["ports"].append({"port": 443})
    else:
        rule[peers_key] = [{"ipBlock": draw(st.sampled_from([{"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]},
                                                            {"cidr": "192.0.2.0/24"}, {"cidr": "0.0.0.0/0"}]))}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "relevant", "namespace": home},
            "spec": {"podSelector": selector, "policyTypes": [direction.capitalize()], direction: [rule]}}


@st.composite
def damaged(draw):
    """(damaged objects, [completions], id of the damaged pod, what was damaged)."""
    objects = draw(clusters(max_pods=5, max_policies=3))
    target = _target(objects, draw(st.integers(0, 10)))
    if target is None:
        return None
    pod_id = f"{target['metadata']['namespace']}/{target['metadata']['name']}"
    kind = draw(st.sampled_from(["label", "port", "unnamed-port", "ip"]))
    objects.append(draw(relevant_policy(kind, target["metadata"]["namespace"])))

    def variant(change):
        copied = copy.deepcopy(objects)
        pod = next(o for o in copied if o["kind"] == "Pod" and o["metadata"]["name"] == target["metadata"]["name"])
        change(pod)
        return copied

    if kind == "label":
        key = draw(st.sampled_from(["app", "tier", "team"]))

        def set_label(value):
            def change(pod):
                pod["metadata"]["labels"].pop(key, None)
                if value is not None:
                    pod["metadata"]["labels"][key] = value
            return change
        broken = variant(set_label(1.5))  # YAML `1.50`: the spelling is lost, so the value is unknown
        completions = [variant(set_label(v)) for v in [None] + LABEL_VALUES]
        return broken, completions, pod_id, ("label", key)
    if kind in ("port", "unnamed-port"):
        name = draw(st.sampled_from(["http", "dns", "metrics"])) if kind == "port" else None
        protocol = draw(st.sampled_from(["TCP", "UDP"]))

        def add_port(number, typo=False):
            def change(pod):
                entry = {"protocol": protocol, ("containerport" if typo else "containerPort"): number}
                if name is not None:
                    entry["name"] = name
                pod["spec"]["containers"][0]["ports"].append(entry)
            return change
        broken = variant(add_port(80, typo=True))
        completions = [copy.deepcopy(objects)] + [variant(add_port(n)) for n in PORT_NUMBERS]
        return broken, completions, pod_id, (kind, name)
    had_ip = "podIP" in target["status"]

    def set_ip(value):
        def change(pod):
            pod["status"]["podIP"] = value
        return change
    broken = variant(set_ip("10.0.0.999"))
    completions = [variant(set_ip(ip)) for ip in IPS]
    return broken, completions, pod_id, ("ip", had_ip)


@SETTINGS
@given(damaged())
def test_damaged_pod_verdicts_hold_in_every_completion(case):
    if case is None:
        return
    broken, completions, pod_id, what = case
    analysis, got = _run(broken)
    errors = [a for a in analysis.alerts if a.severity == "error"]
    assert len(errors) == 1 and pod_id.split("/")[1] in errors[0].message, [a.message for a in errors]
    assert pod_id in {p.id for p in analysis.state.pods}, "the damaged pod must stay in the matrix"
    for objects in completions:
        _, want = _run(objects)
        for key, verdict in got.items():
            src, dst = key[0], key[1]
            if pod_id not in (src, dst):
                assert verdict == want[key], f"{key}: not about the damaged pod, yet {verdict} vs {want[key]}"
            elif verdict != "unknown":
                assert verdict == want[key], f"{key}: damaged run says {verdict}, a completion {want[key]} ({what})"


@SETTINGS
@given(damaged())
def test_damaged_pod_explain_agrees_with_matrix(case):
    if case is None:
        return
    broken, _, pod_id, _ = case
    analysis, got = _run(broken)
    for (src, dst, proto, port), verdict in got.items():
        if pod_id not in (src, dst):
            continue
        exp = explain(analysis, src, dst, proto, port)
        assert exp.verdict == verdict, f"{src} -> {dst} {port}/{proto}: explain {exp.verdict}, matrix {verdict}"
        if verdict == "unknown":
            reasons = exp.egress.reasons + exp.ingress.reasons
            assert any("could not be read" in r for r in reasons), reasons


@SETTINGS
@given(damaged())
def test_damage_nothing_reads_changes_nothing(case):
    if case is None:
        return
    broken, completions, pod_id, what = case
    analysis, got = _run(broken)
    reads_key = what[0] == "label" and any(
        what[1] in str(o.get("spec")) for o in broken if o["kind"] == "NetworkPolicy")
    if what[0] == "unnamed-port" or what[0] == "label" and not reads_key:
        _, want = _run(completions[0])
        assert got == want
