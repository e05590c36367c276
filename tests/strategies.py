"""Hypothesis strategies: small random clusters of Namespaces, Pods and Kubernetes NetworkPolicies (as dicts)."""

from __future__ import annotations

from hypothesis import strategies as st

NAMESPACES = ["x", "y", "z"]
PORT_DEFS = [("http", 80, "TCP"), ("http", 8080, "TCP"), ("dns", 53, "UDP"), ("metrics", 9090, "TCP"),
             ("dns", 5353, "UDP")]
CHECK_PORTS = [("TCP", 80), ("TCP", 8080), ("TCP", 9090), ("TCP", 443), ("UDP", 53), ("UDP", 5353),
               ("UDP", 80), ("SCTP", 80), ("TCP", 1000)]
EXTERNAL_IPS = ["ip:192.0.2.5", "ip:8.8.8.8", "ip:10.0.1.7", "ip:10.0.5.5"]



@st.composite
def label_maps(draw, nonempty: bool = False):
    labels = {}
    for key in ("app", "tier"):
        if draw(st.booleans()):
            labels[key] = draw(st.sampled_from(["a", "b", "web"]))
    if nonempty and not labels:
        labels["app"] = draw(st.sampled_from(["a", "b", "web"]))
    return labels


@st.composite
def selectors(draw):
    kind = draw(st.sampled_from(["empty", "labels", "expr", "both"]))
    sel = {}
    if kind in ("labels", "both"):
        sel["matchLabels"] = draw(label_maps(nonempty=True))
    if kind in ("expr", "both"):
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        expr = {"key": draw(st.sampled_from(["app", "tier", "team"])), "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = draw(st.lists(st.sampled_from(["a", "b", "web"]), min_size=1, max_size=2, unique=True))
        sel["matchExpressions"] = [expr]
    return sel


@st.composite
def peers(draw):
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        cidr, excepts = draw(st.sampled_from([
            ("10.0.0.0/16", ["10.0.1.0/24"]), ("0.0.0.0/0", ["10.0.0.0/8"]), ("192.0.2.0/24", []),
            ("10.0.2.0/24", []), ("0.0.0.0/0", [])]))
        block = {"cidr": cidr}
        if excepts:
            block["except"] = excepts
        return {"ipBlock": block}
    peer = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(st.sampled_from([{}, {"matchLabels": {"team": "a"}},
                                                          {"matchLabels": {"kubernetes.io/metadata.name": "y"}}]))
    return peer


@st.composite
def port_lists(draw):
    if draw(st.booleans()):
        return draw(st.sampled_from([None, []]))
    entries = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["num", "named", "range", "proto"]))
        proto = draw(st.sampled_from(["TCP", "UDP", None]))
        entry = {} if proto is None else {"protocol": proto}
        if kind == "num":
            entry["port"] = draw(st.sampled_from([80, 53, 8080, 443]))
        elif kind == "named":
            entry["port"] = draw(st.sampled_from(["http", "dns", "metrics"]))
        elif kind == "range":
            entry["port"] = 53
            entry["endPort"] = draw(st.sampled_from([80, 8080]))
        entries.append(entry)
    return entries


@st.composite
def rules(draw, peers_key):
    rule = {}
    choice = draw(st.sampled_from(["absent", "empty", "some"]))
    if choice == "empty":
        rule[peers_key] = []
    elif choice == "some":
        rule[peers_key] = draw(st.lists(peers(), min_size=1, max_size=2))
    ports = draw(port_lists())
    if ports is not None:
        rule["ports"] = ports
    return rule


@st.composite
def network_policies(draw, index: int):
    spec = {"podSelector": draw(selectors())}
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    for key, peers_key in (("ingress", "from"), ("egress", "to")):
        choice = draw(st.sampled_from(["absent", "empty", "rules"]))
        if choice == "empty":
            spec[key] = []
        elif choice == "rules":
            spec[key] = draw(st.lists(rules(peers_key), min_size=1, max_size=2))
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{index}", "namespace": draw(st.sampled_from(NAMESPACES))}, "spec": spec}


@st.composite
def clusters(draw, max_pods: int = 6, max_policies: int = 4):
    objects = []
    for ns in NAMESPACES:
        labels = draw(st.sampled_from([{}, {"team": "a"}, {"team": "b"}]))
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    n_pods = draw(st.integers(2, max_pods))
    for i in range(n_pods):
        ns = draw(st.sampled_from(NAMESPACES))
        ports = []
        for port_def in PORT_DEFS:
            if draw(st.integers(0, 3)) == 0 and port_def[0] not in {p[0] for p in ports}:
                ports.append(port_def)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"p{i}", "namespace": ns, "labels": draw(label_maps())},
               "spec": {"containers": [{"name": "c", "image": "i",
                                        "ports": [{"name": n, "containerPort": p, "protocol": pr}
                                                  for n, p, pr in ports]}]},
               "status": {}}
        if draw(st.integers(0, 9)) > 0:
            pod["status"]["podIP"] = f"10.0.{draw(st.integers(0, 3))}.{i + 1}"
        if draw(st.integers(0, 14)) == 0:
            pod["spec"]["hostNetwork"] = True
            pod["status"]["podIP"] = f"172.18.0.{i + 1}"
        objects.append(pod)
    for i in range(draw(st.integers(0, max_policies))):
        objects.append(draw(network_policies(i)))
    return objects


# --- admin and Calico policies, for properties that need denies, passes and tiers -------------------------------
@st.composite
def admin_peers(draw, direction: str):
    kind = draw(st.sampled_from(["namespaces", "pods"] + (["networks"] if direction == "egress" else [])))
    if kind == "namespaces":
        return {"namespaces": draw(st.sampled_from([{}, {"matchLabels": {"team": "a"}},
                                                    {"matchLabels": {"kubernetes.io/metadata.name": "y"}}]))}
    if kind == "pods":
        return {"pods": {"namespaceSelector": draw(st.sampled_from([{}, {"matchLabels": {"team": "b"}}])),
                         "podSelector": draw(selectors())}}
    return {"networks": draw(st.sampled_from([["10.0.0.0/16"], ["0.0.0.0/0"], ["10.0.1.0/24", "192.0.2.0/24"]]))}


@st.composite
def admin_policies(draw, index: int, baseline: bool = False):
    spec: dict = {"subject": draw(st.sampled_from([{"namespaces": {}},
                                                   {"namespaces": {"matchLabels": {"team": "a"}}},
                                                   {"pods": {"namespaceSelector": {}, "podSelector": {
                                                       "matchLabels": {"app": "a"}}}}]))}
    actions = ["Allow", "Deny"] + ([] if baseline else ["Pass"])
    for direction, key in (("ingress", "from"), ("egress", "to")):
        if draw(st.booleans()):
            rules = []
            for i in range(draw(st.integers(1, 3))):
                rule = {"name": f"r{i}", "action": draw(st.sampled_from(actions)),
                        key: draw(st.lists(admin_peers(direction), min_size=1, max_size=2))}
                if draw(st.booleans()):
                    rule["ports"] = [{"portNumber": {"protocol": draw(st.sampled_from(["TCP", "UDP"])),
                                                     "port": draw(st.sampled_from([80, 53, 8080]))}}]
                rules.append(rule)
            spec[direction] = rules
    if baseline:
        return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
                "metadata": {"name": "default"}, "spec": spec}
    spec["priority"] = draw(st.integers(0, 20))
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": f"anp{index}"}, "spec": spec}


CALICO_SELECTORS = ["all()", "app == 'a'", "app != 'a'", "has(tier)", "app in {'a', 'web'}", "!has(app)",
                    "tier == 'b' || app == 'web'", "app starts with 'w'", "pcns.team == 'a'"]


@st.composite
def calico_entities(draw):
    entity = {}
    choice = draw(st.sampled_from(["none", "selector", "ns", "both", "nets", "notSelector", "selector+nets"]))
    if choice in ("selector", "both", "selector+nets"):
        entity["selector"] = draw(st.sampled_from(CALICO_SELECTORS))
    if choice in ("ns", "both"):
        entity["namespaceSelector"] = draw(st.sampled_from(["all()", "team == 'a'", "projectcalico.org/name == 'y'",
                                                            "team != 'b'"]))
    if choice in ("nets", "selector+nets"):
        entity["nets"] = [draw(st.sampled_from(["10.0.0.0/16", "10.0.1.0/24", "0.0.0.0/0", "192.0.2.0/24"]))]
    if choice == "notSelector":
        entity["notSelector"] = draw(st.sampled_from(CALICO_SELECTORS[1:]))
    return entity


@st.composite
def calico_policies(draw, index: int):
    spec: dict = {"selector": draw(st.sampled_from(["all()", "app == 'a'", "has(tier)"])),
                  "tier": draw(st.sampled_from(["default", "security"])),
                  "order": draw(st.sampled_from([None, 10, 500, 2000]))}
    if spec["order"] is None:
        del spec["order"]
    types = []
    for direction in ("ingress", "egress"):
        if draw(st.booleans()):
            types.append(direction.capitalize())
            rules = []
            for _ in range(draw(st.integers(1, 3))):
                rule = {"action": draw(st.sampled_from(["Allow", "Deny", "Pass", "Log"]))}
                peer_side = "source" if direction == "ingress" else "destination"
                entity = draw(calico_entities())
                if draw(st.booleans()):
                    rule["protocol"] = draw(st.sampled_from(["TCP", "UDP"]))
                    if draw(st.booleans()):
                        rule.setdefault("destination", {})["ports"] = [draw(st.sampled_from([80, 53, "8000:8100"]))]
                if entity:
                    rule.setdefault(peer_side, {}).update(entity)
                rules.append(rule)
            spec[direction] = rules
    spec["types"] = types or ["Ingress"]
    namespaced = draw(st.booleans())
    metadata = {"name": f"cnp{index}"}
    if namespaced:
        metadata["namespace"] = draw(st.sampled_from(NAMESPACES))
    if spec["tier"] != "default":
        metadata["name"] = f"{spec['tier']}.cnp{index}"
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy" if namespaced else "GlobalNetworkPolicy",
            "metadata": metadata, "spec": spec}


SECURITY_TIER = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "security"},
                 "spec": {"order": 100}}


@st.composite
def layered_clusters(draw, max_pods: int = 6):
    """Kubernetes NetworkPolicies with admin policies before and after them and Calico tiers: denies and passes."""
    objects = draw(clusters(max_pods=max_pods, max_policies=3))
    for i in range(draw(st.integers(0, 2))):
        objects.append(draw(admin_policies(i)))
    if draw(st.booleans()):
        objects.append(draw(admin_policies(0, baseline=True)))
    calico = [draw(calico_policies(i)) for i in range(draw(st.integers(0, 3)))]
    if calico:
        objects.append({**SECURITY_TIER, "spec": {"order": draw(st.sampled_from([100, 2_000_000])),
                                                  "defaultAction": draw(st.sampled_from(["Deny", "Pass"]))}})
        objects.extend(calico)
    if draw(st.booleans()):
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                        "metadata": {"name": "set", "labels": {"app": "a"}}, "spec": {"nets": ["192.0.2.0/25"]}})
    return objects
