"""Manifests -> objects the local Calico node can take (tests/dataplane and `python -m tools.calico_node apply`).

What a user's tooling (and the controllers that do not run here) would do on the way in, and nothing more:
- Pods lose `status` (the API server ignores it on create); their IPv4 `status.podIP` becomes the annotation
  `cni.projectcalico.org/ipAddrs`, which Calico's CNI (and the node agent) honours, so each pod gets its
  case's address for real and ipBlock rules meet real addresses. IPv6 addresses are dropped: this Felix runs
  with IPv6 off, and netaudit reads the live pods, so both sides see the same IPv4-only cluster;
- a workload (Deployment, ...) becomes one Pod named after it, from its template (no controller-manager runs);
- a pod in a namespace that enforces a Pod Security level gets the `restricted` settings it leaves out (the
  demo shop's templates are short), which change nothing on the network;
- projectcalico.org/v3 objects are stored as crd.projectcalico.org/v1, as calicoctl v3.28 stores them
  (libcalico-go/lib/clientv3): `types` defaulted (defaultPolicyTypesField) and NetworkPolicy /
  GlobalNetworkPolicy names prefixed `default.` (convertPolicyNameForStorage);
- cases this Calico cannot take are skipped with the reason: tiers, staged policies and admin policies (no such
  CRDs in v3.28), host endpoints and host-network pods (the node agent runs neither).
"""

from __future__ import annotations

import copy
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
IP_ANNOTATION = "cni.projectcalico.org/ipAddrs"

# kind -> (API path prefix, plural, namespaced). Order of creation follows ORDER below.
RESOURCES = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Service"): ("/api/v1", "services", True),
    ("v1", "Endpoints"): ("/api/v1", "endpoints", True),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("/apis/discovery.k8s.io/v1", "endpointslices", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    ("crd.projectcalico.org/v1", "NetworkSet"): ("/apis/crd.projectcalico.org/v1", "networksets", True),
    ("crd.projectcalico.org/v1", "GlobalNetworkSet"): ("/apis/crd.projectcalico.org/v1", "globalnetworksets", False),
    ("crd.projectcalico.org/v1", "NetworkPolicy"): ("/apis/crd.projectcalico.org/v1", "networkpolicies", True),
    ("crd.projectcalico.org/v1", "GlobalNetworkPolicy"): ("/apis/crd.projectcalico.org/v1", "globalnetworkpolicies",
                                                          False),
    ("v1", "Pod"): ("/api/v1", "pods", True),
}
ORDER = list(RESOURCES)  # pods last: their endpoints are programmed with every policy already known
UNSUPPORTED = {
    "Tier": "tiers (Calico v3.28 has no Tier resource)",
    "StagedNetworkPolicy": "staged policies (not in Calico v3.28)",
    "StagedGlobalNetworkPolicy": "staged policies (not in Calico v3.28)",
    "StagedKubernetesNetworkPolicy": "staged policies (not in Calico v3.28)",
    "AdminNetworkPolicy": "admin network policies (not in Calico v3.28)",
    "BaselineAdminNetworkPolicy": "admin network policies (not in Calico v3.28)",
    "ClusterNetworkPolicy": "admin network policies (not in Calico v3.28)",
    "HostEndpoint": "host endpoints (the node agent makes no host interfaces for them)",
    "Profile": "profiles",
}


class Unsupported(Exception):
    """The case needs something this node cannot do; the message says what."""


@dataclass
class NodeCase:
    name: str
    objects: list[dict]  # in creation order
    pods: list[str] = field(default_factory=list)  # "ns/name"
    notes: list[str] = field(default_factory=list)


def read_manifests(paths) -> list[dict]:
    """Every object in the YAML files (folders: their *.yaml / *.yml files, recursively)."""
    docs = []
    for p in map(Path, paths):
        files = sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml")) if p.is_dir() else [p]
        for f in files:
            docs.extend(d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict))
    return docs


def to_node(documents: list[dict], name: str = "manifests") -> NodeCase:
    out = NodeCase(name, [])
    buckets: dict[tuple[str, str], list[dict]] = {k: [] for k in ORDER}
    namespaces: set[str] = set()
    running = _workloads_with_pods(documents)
    for doc in documents:
        kind, api = doc.get("kind"), doc.get("apiVersion", "")
        if kind in UNSUPPORTED:
            raise Unsupported(f"needs {UNSUPPORTED[kind]}")
        if kind == "List":
            raise Unsupported("a List object")
        obj = copy.deepcopy(doc)
        if kind in WORKLOAD_KINDS and _key(doc) in running:
            continue  # its real pods are in the input
        if kind in WORKLOAD_KINDS:
            obj = _pod_of_workload(obj)
            kind, api = "Pod", "v1"
            out.notes.append(f"{doc['metadata'].get('namespace', 'default')}/{doc['metadata']['name']}: one Pod "
                             f"from the {doc['kind']}'s template")
        if api.startswith("projectcalico.org/"):
            obj, api = _calico_v3_to_crd(obj), "crd.projectcalico.org/v1"
        if (api, kind) not in RESOURCES:
            if kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Secret", "Ingress"):
                continue  # cannot change connectivity
            raise Unsupported(f"{api} {kind} is not applied by this harness")
        meta = obj.setdefault("metadata", {})
        # Owners are not created here (and an owner reference needs the owner's uid).
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "ownerReferences"):
            meta.pop(key, None)
        if RESOURCES[(api, kind)][2]:
            meta.setdefault("namespace", "default")
            namespaces.add(meta["namespace"])
        if kind == "Pod":
            _prepare_pod(obj)
            out.pods.append(f"{meta['namespace']}/{meta['name']}")
        obj["apiVersion"] = api
        buckets[(api, kind)].append(obj)
    enforcing = {o["metadata"]["name"] for o in buckets[("v1", "Namespace")]
                 if ((o["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce")) not in
                 (None, "privileged")}
    for pod in buckets[("v1", "Pod")]:
        if pod["metadata"]["namespace"] in enforcing:
            _restricted(pod)
            out.notes.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}: restricted Pod Security "
                             "settings added (its namespace enforces them; they do not touch the network)")
    declared = {o["metadata"]["name"] for o in buckets[("v1", "Namespace")]}
    for ns in sorted(namespaces - declared - SYSTEM_NAMESPACES):
        buckets[("v1", "Namespace")].append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for key in ORDER:
        out.objects.extend(buckets[key])
    return out


def _key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", obj.get("kind") or "", meta.get("name") or ""


def _workloads_with_pods(documents: list[dict]) -> set[tuple[str, str, str]]:
    """(namespace, kind, name) of every workload that some Pod of the input belongs to, through ownerReferences
    (a ReplicaSet that is not in the input stands for the Deployment its name starts with), like netaudit, which
    makes a representative pod only for workloads without real pods."""
    owners: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {}
    for doc in documents:
        ns = (doc.get("metadata") or {}).get("namespace") or "default"
        for ref in (doc.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(ref, dict) and ref.get("kind") and ref.get("name"):
                owners.setdefault(_key(doc), []).append((ns, ref["kind"], ref["name"]))
    found: set[tuple[str, str, str]] = set()
    todo = [owner for doc in documents if doc.get("kind") == "Pod" for owner in owners.get(_key(doc), [])]
    while todo:
        key = todo.pop()
        if key in found:
            continue
        found.add(key)
        todo.extend(owners.get(key, []))
        if key[1] == "ReplicaSet" and "-" in key[2]:
            todo.append((key[0], "Deployment", key[2].rsplit("-", 1)[0]))
    return found


def _pod_of_workload(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    template = (spec.get("jobTemplate", {}).get("spec", {}) if obj["kind"] == "CronJob" else spec).get("template")
    template = template or {}
    meta = template.get("metadata") or {}
    pod_spec = copy.deepcopy(template.get("spec") or {})
    for claim in spec.get("volumeClaimTemplates") or []:  # a StatefulSet's volumes: an emptyDir stands in
        pod_spec.setdefault("volumes", []).append({"name": claim["metadata"]["name"], "emptyDir": {}})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace", "default"),
                         "labels": dict(meta.get("labels") or {}), "annotations": dict(meta.get("annotations") or {})},
            "spec": pod_spec}


def _prepare_pod(pod: dict) -> None:
    spec = pod.setdefault("spec", {})
    if spec.get("hostNetwork"):
        raise Unsupported("a host-network pod (the node agent runs none)")
    status = pod.pop("status", None) or {}
    ips = [status.get("podIP")] + [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict)]
    v4 = [ip for ip in ips if isinstance(ip, str) and _is_v4(ip)]
    if v4:
        pod["metadata"].setdefault("annotations", {})[IP_ANNOTATION] = json.dumps([v4[0]])
    spec.pop("nodeName", None)  # the agent binds it, as a scheduler would
    if not spec.get("containers"):
        spec["containers"] = [{"name": "c", "image": "none"}]


def _restricted(pod: dict) -> None:
    """The fields the `restricted` Pod Security Standard asks for, where the manifest left them out."""
    spec = pod["spec"]
    ctx = spec.setdefault("securityContext", {})
    ctx.setdefault("runAsNonRoot", True)
    ctx.setdefault("runAsUser", 65534)
    ctx.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    for c in spec.get("containers") or []:
        cctx = c.setdefault("securityContext", {})
        cctx.setdefault("allowPrivilegeEscalation", False)
        cctx.setdefault("capabilities", {"drop": ["ALL"]})


def _is_v4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def _calico_v3_to_crd(obj: dict) -> dict:
    """What calicoctl v3.28 writes for a projectcalico.org/v3 object (see the module docstring)."""
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    if obj["kind"] in ("NetworkPolicy", "GlobalNetworkPolicy"):
        if spec.get("tier") not in (None, "", "default"):
            raise Unsupported("needs tiers (Calico v3.28 has no Tier resource)")
        if not spec.get("types"):
            ingress, egress = spec.get("ingress"), spec.get("egress")
            spec["types"] = ["Ingress"] if not egress else ["Egress"] if not ingress else ["Ingress", "Egress"]
        name = obj["metadata"]["name"]
        if not name.startswith(("knp.", "ossg.")):
            obj["metadata"]["name"] = f"default.{name}"
    return obj
