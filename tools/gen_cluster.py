"""Synthetic clusters for benchmarks: N pods across namespaces, with realistic policy, written as manifests.

The shape follows real multi-team clusters: namespaces owned by teams with environment labels; Deployments of 1-5
replicas (Pods carry ownerReferences and pod-template-hash, as `kubectl get pods -o yaml` shows them); named
container ports; per namespace a default-deny, DNS egress, app-to-app allows with pod and namespace selectors,
monitoring scrapes on a named port, and some ipBlock egress with except. With --calico, a few tiers of Calico
GlobalNetworkPolicies and NetworkSets are added.

Two harder shapes, because real clusters are rarely the friendly one:
- `--policies 0`: no NetworkPolicy at all (most clusters): every pod reaches every pod.
- `--diverse`: bare Pods (no owners) with labels unique to each pod (`app: <pod name>`, which some selectors read),
  so nearly every pod is its own equivalence class and its own workload; and policies as teams write them when
  nobody enforces default-deny: ingress allows on databases and caches, egress limits on single pods, an
  open-on-one-port frontend. Most pods reach most pods (a dense matrix).

    python tools/gen_cluster.py --pods 10000 --namespaces 500 --policies 2000 --out /tmp/c10k
    python tools/gen_cluster.py --pods 10000 --namespaces 500 --policies 0 --out /tmp/open10k
    python tools/gen_cluster.py --pods 10000 --namespaces 500 --policies 2000 --diverse --out /tmp/diverse10k
"""

from __future__ import annotations

import argparse
import os
import random

import yaml

TIERS = ["web", "api", "db", "cache", "worker"]
ENVS = ["prod", "staging", "dev"]
PORTS = {"web": [("http", 8080), ("metrics", 9090)], "api": [("http", 8080), ("grpc", 9000), ("metrics", 9090)],
         "db": [("postgres", 5432), ("metrics", 9187)], "cache": [("redis", 6379), ("metrics", 9121)],
         "worker": [("metrics", 9090)]}


def generate(pods: int, namespaces: int, policies: int, calico: bool, seed: int = 1, diverse: bool = False
             ) -> list[dict]:
    rnd = random.Random(seed)
    objects: list[dict] = []
    ns_names = [f"team{i:04d}" for i in range(namespaces)]
    for i, ns in enumerate(ns_names):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"team": f"t{i % 40}", "env": ENVS[i % 3]}}})
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring",
                                                                          "labels": {"purpose": "monitoring"}}})
    objects.append(_pod("kube-system", "coredns-5d78c9869d-abcde", "coredns", {"k8s-app": "kube-dns"},
                        [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")], "10.244.255.2"))
    objects.append(_pod("monitoring", "prometheus-0", "prometheus", {"app": "prometheus"}, [("http", 9090, "TCP")],
                        "10.244.255.3", owner=("StatefulSet", "prometheus")))

    per_ns = max(1, pods // namespaces)
    ip = 0
    workloads_by_ns: dict[str, list[tuple[str, str]]] = {}
    for ns in ns_names:
        remaining = per_ns
        index = 0
        while remaining > 0:
            replicas = min(remaining, rnd.randint(1, 5))
            remaining -= replicas
            tier = TIERS[index % len(TIERS)]
            name = f"{tier}-{index}"
            index += 1
            workloads_by_ns.setdefault(ns, []).append((name, tier))
            pod_hash = f"{rnd.getrandbits(40):010x}"[:10]
            labels = {"app": name, "tier": tier, "version": rnd.choice(["v1", "v2"])}
            for r in range(replicas):
                ip += 1
                address = f"10.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"
                pod_name = f"{name}-{pod_hash}-{r:05d}"
                if diverse:
                    pod_labels = dict(labels, app=pod_name, zone=rnd.choice(["a", "b", "c"]))
                    objects.append(_pod(ns, pod_name, name, pod_labels, [(n, p, "TCP") for n, p in PORTS[tier]],
                                        address))
                    continue
                pod_labels = dict(labels, **{"pod-template-hash": pod_hash})
                objects.append(_pod(ns, pod_name, name, pod_labels,
                                    [(n, p, "TCP") for n, p in PORTS[tier]], address,
                                    owner=("ReplicaSet", f"{name}-{pod_hash}")))

    # Policies are spread evenly: every namespace gets a default-deny and a DNS allow, then app policies (one per
    # tier present, selecting every workload of that tier) until its share of the budget is used.
    if diverse:
        objects.extend(_diverse_policies(rnd, ns_names, workloads_by_ns, objects, policies))
        return objects
    per_ns_policies = max(2, policies // namespaces)
    for i, ns in enumerate(ns_names if policies else ()):
        objects.append(_np(ns, "default-deny", {}, ["Ingress", "Egress"]))
        objects.append(_np(ns, "allow-dns", {}, ["Egress"], egress=[{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]))
        tiers_here = sorted({tier for _, tier in workloads_by_ns.get(ns, [])}, key=TIERS.index)
        for tier in tiers_here[:per_ns_policies - 2]:
            upstream = TIERS[max(0, TIERS.index(tier) - 1)]
            ingress = [{"from": [{"podSelector": {"matchLabels": {"tier": upstream}}}],
                        "ports": [{"port": PORTS[tier][0][0]}]},
                       {"from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}},
                                  "podSelector": {"matchLabels": {"app": "prometheus"}}}],
                        "ports": [{"port": "metrics"}]}]
            if tier == "api":
                ingress.append({"from": [{"namespaceSelector": {"matchLabels": {"team": f"t{(i + 1) % 40}"}},
                                          "podSelector": {"matchLabels": {"tier": "web"}}}],
                                "ports": [{"port": 8080}, {"port": 9000, "endPort": 9010}]})
            downstream = TIERS[TIERS.index(tier) + 1:TIERS.index(tier) + 3] or ["db"]
            egress = [{"to": [{"podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "In", "values": downstream}]}}]}]
            if tier == "web":
                block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.169.254/32"]}
                egress.append({"to": [{"ipBlock": block}],
                               "ports": [{"port": 443}]})
            if tier == "api":
                egress.append({"to": [{"namespaceSelector": {"matchLabels": {"team": f"t{(i + 7) % 40}"}},
                                       "podSelector": {"matchLabels": {"tier": "api"}}}],
                               "ports": [{"port": "grpc"}]})
            objects.append(_np(ns, f"{tier}-policy", {"matchLabels": {"tier": tier}}, ["Ingress", "Egress"],
                               ingress=ingress, egress=egress))

    if calico:
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
                        "metadata": {"name": "security"}, "spec": {"order": 100, "defaultAction": "Pass"}})
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                        "metadata": {"name": "partners", "labels": {"kind": "partner"}},
                        "spec": {"nets": ["198.51.100.0/24", "203.0.113.0/24"]}})
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                        "metadata": {"name": "security.block-metadata"},
                        "spec": {"tier": "security", "order": 10, "selector": "all()", "types": ["Egress"],
                                 "egress": [{"action": "Deny", "destination": {"nets": ["169.254.169.254/32"]}},
                                            {"action": "Pass"}]}})
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                        "metadata": {"name": "security.prod-isolation"},
                        "spec": {"tier": "security", "order": 20, "namespaceSelector": "env == 'prod'",
                                 "selector": "all()", "types": ["Ingress"],
                                 "ingress": [{"action": "Deny", "source": {"namespaceSelector": "env == 'dev'"}},
                                             {"action": "Pass"}]}})
        objects.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                        "metadata": {"name": "allow-partners"},
                        "spec": {"order": 500, "selector": "tier == 'web'", "types": ["Egress"],
                                 "egress": [{"action": "Allow", "protocol": "TCP",
                                             "destination": {"selector": "kind == 'partner'", "ports": [443]}}]}})
    return objects


def _diverse_policies(rnd, ns_names, workloads_by_ns, objects, policies) -> list[dict]:
    """Dense, varied policy: no default-deny; each policy selects a tier or a single pod, peers across namespaces."""
    pods_by_ns: dict[str, list[dict]] = {}
    for obj in objects:
        if obj["kind"] == "Pod":
            pods_by_ns.setdefault(obj["metadata"]["namespace"], []).append(obj)
    out: list[dict] = []
    kinds = ["db", "cache", "single", "web"]
    i = 0
    while len(out) < policies and ns_names:
        ns = ns_names[i % len(ns_names)]
        kind = kinds[(i // len(ns_names)) % len(kinds)]
        team = f"t{rnd.randrange(40)}"
        if kind == "db":
            out.append(_np(ns, f"db-ingress-{i}", {"matchLabels": {"tier": "db"}}, ["Ingress"], ingress=[
                {"from": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": 5432}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}},
                           "podSelector": {"matchLabels": {"app": "prometheus"}}}], "ports": [{"port": "metrics"}]}]))
        elif kind == "cache":
            out.append(_np(ns, f"cache-ingress-{i}", {"matchLabels": {"tier": "cache"}}, ["Ingress"], ingress=[
                {"from": [{"podSelector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["api", "worker"]}]}},
                    {"namespaceSelector": {"matchLabels": {"team": team}}}],
                 "ports": [{"port": 6379}]}]))
        elif kind == "single":
            pod = rnd.choice(pods_by_ns.get(ns) or [None])
            if pod is not None:
                app = pod["metadata"]["labels"]["app"]
                out.append(_np(ns, f"egress-{i}", {"matchLabels": {"app": app}}, ["Egress"], egress=[
                    {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": "db"}}}],
                     "ports": [{"port": 5432}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                             "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]))
        else:
            out.append(_np(ns, f"web-ingress-{i}", {"matchLabels": {"tier": "web"}}, ["Ingress"], ingress=[
                {"ports": [{"port": 8080}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"team": team}}}]}]))
        i += 1
    return out


def _pod(ns, name, app, labels, ports, ip, owner=None):
    meta = {"name": name, "namespace": ns, "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True,
                                    "uid": "00000000-0000-0000-0000-000000000000"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"serviceAccountName": "default", "containers": [{
                "name": app, "image": f"registry.example.com/{app}:1",
                "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


def _np(ns, name, selector, types, ingress=None, egress=None):
    spec = {"podSelector": selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def write(objects: list[dict], out: str) -> None:
    os.makedirs(out, exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(os.path.join(out, "cluster.yaml"), "w") as handle:
        yaml.dump_all(objects, handle, Dumper=dumper, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--calico", action="store_true")
    parser.add_argument("--diverse", action="store_true", help="bare pods with labels unique to each pod")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    write(generate(args.pods, args.namespaces, args.policies, args.calico, args.seed, args.diverse), args.out)


if __name__ == "__main__":
    main()
