"""Exposure: what the internet can reach and how, routes the policies break, rules open to pods that do not exist
yet, and NodePort paths whose SNAT walks around a policy (engine/exposure.py, engine/paths.py; docs/exposure.md)."""

from __future__ import annotations

from ..engine.exposure import class_terms
from ..engine.matrix import endpoint_id
from ..engine.paths import ALLOWED, DENIED, PARTLY, VIA_GATEWAY, VIA_INGRESS, external_paths, is_public
from ..engine.peers import addresses_text, term_forms
from ..policy.ir import EGRESS, INGRESS
from ..sets.addresses import IpSet
from .finding import Finding, finding


def _paths(analysis):
    cached = getattr(analysis, "_external_paths", None)
    if cached is None:
        cached = external_paths(analysis)
        analysis._external_paths = cached  # the four checks share one computation
    return cached


def _group(paths):
    """Paths by (backend workload, path object): one finding per way in, not per pod."""
    groups: dict[tuple, list] = {}
    for path in paths:
        if path.backend.pod is None:
            continue
        key = (endpoint_id(path.backend.pod, "workload"), path.via, path.object, path.route)
        groups.setdefault(key, []).append(path)
    return groups


def check_exposed_to_internet(analysis) -> list[Finding]:
    out = []
    for (workload, via, obj, route), paths in sorted(_group(_paths(analysis)).items()):
        open_paths = [p for p in paths if p.verdict in (ALLOWED, PARTLY) and is_public(p.allowed_from)]
        if not open_paths:
            continue
        path = open_paths[0]
        ports = sorted({f"{p.backend.target_port}/{p.backend.protocol}" for p in open_paths})
        reach = path.allowed_from
        how = f"{via} {obj}" + (f" ({route})" if route else "")
        if path.controller:
            how += f" and the controller {path.controller}"
        if path.external_traffic_policy:
            how += f" (externalTrafficPolicy {path.external_traffic_policy})"
        objects = [workload, f"{'Service' if via not in (VIA_INGRESS, VIA_GATEWAY) else via} {obj}"]
        if route:
            objects.append(route)
        out.append(finding(
            "exposed-to-internet", f"{workload} is reachable from the internet ({addresses_text(reach)}) on "
            f"{', '.join(ports)} through {how}", objects,
            "if it is not meant to be public, restrict the path (loadBalancerSourceRanges, the Ingress or Gateway) "
            "or the pod's ingress policy",
            path={"via": via, "object": obj, "route": route, "from": addresses_text(reach), "ports": ports}))
    return out


def check_route_blocked(analysis) -> list[Finding]:
    out = []
    for (workload, via, obj, route), paths in sorted(_group(_paths(analysis)).items()):
        if via not in (VIA_INGRESS, VIA_GATEWAY):
            continue
        blocked = [p for p in paths if p.verdict == DENIED]
        if not blocked or len(blocked) < len([p for p in paths if p.hops]):
            continue  # only when every judged backend of the route is blocked
        path = blocked[0]
        decided = next((line for hop in path.hops for line in hop.because if ": denied:" in line), "")
        what = f"{via} {obj}" + (f" ({route})" if route else "")
        out.append(finding(
            "route-blocked-by-policy", f"{what} sends traffic to {path.service} on "
            f"{path.backend.target_port}/{path.backend.protocol}, but its controller {path.controller} cannot reach "
            f"{workload}: {_blocking(decided, workload)}", [workload, f"{via} {obj}"] + ([route] if route else []),
            f"allow ingress to {workload} from the controller's pods ({', '.join(path.controller_pods[:3])}) on "
            f"{path.backend.target_port}/{path.backend.protocol}, and the controller's egress to it"))
    return out


def _blocking(line: str, workload: str) -> str:
    """explain's deciding line ("ingress: denied: RULE" / "egress of POD: denied: RULE") for a finding."""
    if line.startswith("ingress: denied: "):
        return f"{workload}'s ingress: {line[len('ingress: denied: '):]}"
    if line.startswith("egress of ") and ": denied: " in line:
        who, rule = line[len("egress of "):].split(": denied: ", 1)
        return f"{who}'s egress: {rule}"
    return line or "denied"


def check_nodeport_bypass(analysis) -> list[Finding]:
    """With externalTrafficPolicy Cluster, kube-proxy SNATs traffic it forwards to another node to the node's own
    address: a policy that admits node addresses but not the clients lets every client in through another node.
    That holds on Calico's iptables and nftables dataplanes with kube-proxy; Calico's eBPF dataplane keeps the
    client's address (docs/exposure.md)."""
    out = []
    for (workload, via, obj, _), paths in sorted(_group(_paths(analysis)).items()):
        if via in (VIA_INGRESS, VIA_GATEWAY):
            continue
        for path in paths:
            if path.external_traffic_policy == "Local" or len(path.hops) < 2:
                continue
            node, client = path.hops
            if node.verdict == ALLOWED and client.verdict in (DENIED, PARTLY):
                kept_out = path.clients - (client.allowed_from or IpSet())
                out.append(finding(
                    "nodeport-bypasses-policy", f"{workload}: its ingress policy admits the nodes' addresses but not "
                    f"the clients {addresses_text(kept_out)} on {path.backend.target_port}/{path.backend.protocol}; "
                    f"through {via} {obj} (externalTrafficPolicy Cluster) kube-proxy SNATs forwarded traffic to a "
                    "node's address, so those clients get in anyway (Calico with kube-proxy; not with Calico's eBPF "
                    "dataplane)",
                    [workload, f"Service {obj}"],
                    "set externalTrafficPolicy: Local so the policy sees the client's address, or restrict who can "
                    "reach the Service (loadBalancerSourceRanges, a preDNAT host endpoint policy)"))
                break
    return out


def check_exposed_to_future_pods(analysis) -> list[Finding]:
    """A rule that admits every namespace (or every pod of every namespace): new namespaces and pods get in too."""
    found: dict[tuple, dict] = {}
    uni = analysis.universe
    candidates = analysis.policies.networks
    for direction in (INGRESS, EGRESS):
        terms_by_class = class_terms(analysis, direction)
        for cls in uni.classes[:uni.pod_count]:
            if cls.info.host_network:
                continue
            for term in terms_by_class.get(cls.index, ()):
                rule = term.because[-1] if term.because else ""
                if not rule or rule.startswith(("no policy", "every applicable", "hostNetwork")):
                    continue  # the no-isolation findings speak of unselected pods
                for form in term_forms(term, candidates, True):
                    peer = form.peer
                    every_ns = peer["kind"] == "Cluster" or (
                        peer["kind"] == "Pods" and peer.get("namespaces") == {"selector": {}})
                    if not every_ns or term.maybe:
                        continue
                    entry = found.setdefault((rule, direction, form.text), {"workloads": set(), "ports": set()})
                    entry["workloads"].update(endpoint_id(p, "workload") for p in cls.pods)
                    entry["ports"].add(term.ports.short(analysis.protocols) if term.ports else
                                       " ".join(f"{n} (named)" for _, n, _ in sorted(term.named, key=str)))
    out = []
    for (rule, direction, text), entry in sorted(found.items()):
        workloads = sorted(entry["workloads"])
        shown = ", ".join(workloads[:4]) + (f" and {len(workloads) - 4} more" if len(workloads) > 4 else "")
        verb = "admits connections from" if direction == INGRESS else "lets it connect to"
        policy = rule.rsplit(" spec.", 1)[0]
        out.append(finding(
            "exposed-to-future-pods", f"{rule} {verb} {text} (every namespace, existing or future) on "
            f"{', '.join(sorted(entry['ports']))}; it applies to {shown}", [policy] + workloads,
            "name the namespaces (namespaceSelector on kubernetes.io/metadata.name or a team label) and the pods "
            "that need it"))
    return out
