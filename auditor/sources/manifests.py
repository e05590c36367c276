"""Offline source: Kubernetes YAML/JSON files and folders -> ClusterState.

Accepts what people have at hand: one file or many, folders (recursively), multi-document YAML, `List` kinds and
`kubectl get -o yaml|json` dumps with status. Workload manifests become one representative pod each, named after
the workload (DESIGN.md), unless the input also holds real Pods of that workload (a `kubectl get all` dump).

A bad document or object is skipped with an alert that names the file, the document and the field; it never stops
the rest of the input from being read. Policy objects are passed on even when malformed: the policy layer turns
what it cannot read into `unknown` verdicts, which is safer than dropping a policy.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import yaml

from ..model import (
    NAMESPACE_NAME_LABEL,
    Alert,
    ClusterState,
    ContainerPort,
    Endpoint,
    EndpointSlice,
    Namespace,
    Pod,
    PolicyObject,
    Service,
    ServiceAccount,
    ServicePort,
    validate_label_key,
    validate_label_value,
)
from .routing import InvalidRouting, add_routing_object, is_routing_kind

try:  # libyaml is 5x faster on big inputs (DESIGN.md, performance notes)
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

_STR, _MAP, _SEQ, _MERGE = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
                            "tag:yaml.org,2002:merge")


class _Loader(_BaseLoader):
    """PyYAML's safe loader, with the same results, made cheaper where Kubernetes manifests spend the time.

    Even with libyaml parsing, most of the load is Python: resolving each plain scalar's tag through regexes,
    and the generic constructor. Manifests repeat the same scalars endlessly ("TCP", "v1", label values), so
    resolution is memoized per (value, style); and plain maps, lists and strings are built directly, leaving
    everything else (numbers, booleans, merge keys, explicit tags, errors) to PyYAML's own constructor.
    """

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode:
            key = (value, implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._resolved) < 200_000:
                    self._resolved[key] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_document(self, node):
        try:
            return self._build(node, {})
        except (TypeError, RecursionError):
            pass  # e.g. an unhashable key: PyYAML says what is wrong, with a line number
        finally:
            self.constructed_objects, self.recursive_objects, self.deep_construct = {}, {}, False
        return super().construct_document(node)

    def _build(self, node, memo: dict):
        found = memo.get(id(node))
        if found is not None:
            return found  # an alias: the same object, as PyYAML gives it
        kind = type(node)
        if kind is yaml.ScalarNode:
            return node.value if node.tag == _STR else self.construct_object(node, deep=True)
        if kind is yaml.MappingNode and node.tag == _MAP and not any(k.tag == _MERGE for k, _ in node.value):
            out: dict = {}
            memo[id(node)] = out
            for key_node, value_node in node.value:
                out[self._build(key_node, memo)] = self._build(value_node, memo)
            return out
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            items: list = []
            memo[id(node)] = items
            items.extend(self._build(item, memo) for item in node.value)
            return items
        return self.construct_object(node, deep=True)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob")

POLICY_KINDS = {
    "networking.k8s.io": {"NetworkPolicy"},
    "projectcalico.org": {"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier",
                          "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy",
                          "HostEndpoint", "Profile"},
    "crd.projectcalico.org": {"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier",
                              "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy",
                              "HostEndpoint", "Profile"},
    "policy.networking.k8s.io": {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
}
CLUSTER_SCOPED_POLICY_KINDS = {"GlobalNetworkPolicy", "GlobalNetworkSet", "Tier", "StagedGlobalNetworkPolicy",
                               "HostEndpoint", "Profile", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy",
                               "ClusterNetworkPolicy"}

# Kinds that cannot change connectivity: read silently. Anything else is reported as skipped.
IGNORED_KINDS = {
    "ConfigMap", "Secret", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "CustomResourceDefinition", "PersistentVolumeClaim",
    "PersistentVolume", "StorageClass", "LimitRange", "ResourceQuota", "PriorityClass", "Endpoints", "Event",
    "ControllerRevision", "Lease", "Node", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "APIService", "CSIDriver", "CSINode", "VolumeAttachment", "PodTemplate", "ComponentStatus",
    "VerticalPodAutoscaler", "ServiceMonitor", "PodMonitor",
    "ClusterInformation", "FelixConfiguration", "BGPConfiguration", "BGPPeer", "IPPool", "IPAMBlock",
    "BlockAffinity", "IPAMHandle", "IPAMConfig", "KubeControllersConfiguration", "IPReservation",
}

CORE_DNS_CONFIGMAP = ("kube-system", "coredns")


class ManifestError(Exception):
    """Nothing usable could be read (no file, nothing parsed): the CLI exits with code 2."""


@dataclass
class _Doc:
    obj: Mapping
    where: str  # "path:line"


@dataclass
class ManifestDocuments:
    """The documents read from manifest files, each with where it came from, and the errors met reading them."""

    docs: list[_Doc] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    files: int = 0


def load_manifests(paths: Iterable[str], *, coredns: tuple[str, str] = CORE_DNS_CONFIGMAP,
                   default_namespace: str = "default") -> ClusterState:
    """Read manifest files/folders (``-`` = standard input) into a ClusterState."""
    paths = list(paths)
    collected = ManifestDocuments()
    for path in paths:
        if path == "-":
            parse_text(sys.stdin.read(), "<stdin>", collected, json_hint=False)
            collected.files += 1
            continue
        if not os.path.exists(path):
            raise ManifestError(f"{path}: no such file or directory")
        for file_path in manifest_files(path):
            try:
                with open(file_path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as err:
                collected.alerts.append(Alert("unreadable-file", f"{file_path}: cannot read: {err}", file_path,
                                              "error"))
                continue
            collected.files += 1
            parse_text(text, file_path, collected, json_hint=file_path.endswith(".json"))
    if collected.files == 0:
        raise ManifestError(f"no .yaml, .yml or .json files found in {', '.join(paths)}")
    state = build_state(collected.docs, coredns=coredns, default_namespace=default_namespace)
    state.alerts[:0] = collected.alerts
    state.origin = "manifests: " + ", ".join(paths)
    return state


def manifest_files(path: str) -> list[str]:
    """The manifest files of a path: the file itself, or a folder's .yaml/.yml/.json files (hidden folders skipped)."""
    if os.path.isfile(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(MANIFEST_SUFFIXES))
    return found


_DOC_START = re.compile(r"^---", re.MULTILINE)


def parse_text(text: str, name: str, collected: ManifestDocuments, *, json_hint: bool) -> None:
    """Add the objects of one file's text to `collected`; what cannot be parsed becomes an error alert."""
    if json_hint or text.lstrip().startswith(("{", "[")) and name.endswith(".json"):
        try:
            _add_object(json.loads(text), f"{name}:1", collected)
            return
        except json.JSONDecodeError as err:
            collected.alerts.append(Alert("invalid-json", f"{name}:{err.lineno}: invalid JSON: {err.msg}; file "
                                          "skipped", name, "error"))
            return
    starts = _document_lines(text)
    index = 0
    try:
        for index, doc in enumerate(yaml.load_all(text, Loader=_Loader)):
            line = starts[index] if index < len(starts) else 1
            if doc is None:
                continue
            _add_object(doc, f"{name}:{line}", collected)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        kept = f"; the {index} document(s) before it were read" if index else ""
        collected.alerts.append(Alert("invalid-yaml", f"{where}: invalid YAML: {problem}; the rest of the file "
                                      f"is skipped{kept}", name, "error"))


def _document_lines(text: str) -> list[int]:
    """1-based line where each YAML document starts (for messages; a heuristic on `---` lines)."""
    starts = []
    first = _DOC_START.search(text)
    head = text[:first.start()] if first else text
    if any(line.strip() and not line.lstrip().startswith("#") and not line.startswith("%")
           for line in head.splitlines()):
        starts.append(1)
    line, position = 1, 0
    for match in _DOC_START.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        starts.append(line)
    return starts or [1]


def _add_object(obj: object, where: str, collected: ManifestDocuments) -> None:
    if isinstance(obj, list):  # a bare JSON/YAML array of objects
        for item in obj:
            _add_object(item, where, collected)
        return
    if not isinstance(obj, Mapping):
        collected.alerts.append(Alert("not-an-object", f"{where}: document is not a Kubernetes object (got "
                                      f"{type(obj).__name__}); skipped", where))
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            _add_object(item, where, collected)
        return
    collected.docs.append(_Doc(obj, where))


# --- building the state -----------------------------------------------------------------------------------------
def build_state(docs: list, *, coredns: tuple[str, str] = CORE_DNS_CONFIGMAP,
                default_namespace: str = "default", representatives: bool = True) -> ClusterState:
    """Turn parsed objects (dicts) into a ClusterState. Shared by every source that has API objects as dicts.

    `representatives`: make one pod per workload object that has no real pod in the input (manifests). A live
    cluster lists its real pods, so there workload objects only name the pods' owners.
    """
    state = ClusterState()
    alerts = state.alerts
    seen: dict[tuple, str] = {}
    workloads: list[tuple[Mapping, str]] = []
    owners: dict[tuple, tuple[str, str]] = {}  # (ns, kind, name) -> controller (kind, name)
    pods_raw: list[tuple[Mapping, str]] = []
    declared_namespaces: dict[str, Namespace] = {}

    for doc in docs:
        obj, where = (doc.obj, doc.where) if isinstance(doc, _Doc) else doc
        kind = obj.get("kind")
        api_version = obj.get("apiVersion") or ""
        meta = obj.get("metadata")
        if not isinstance(kind, str) or not kind:
            alerts.append(Alert("missing-kind", f"{where}: object has no kind; skipped", where, "error"))
            continue
        if not isinstance(api_version, str):
            alerts.append(Alert("invalid-field", f"{where}: {kind}: apiVersion {api_version!r} is not a string; "
                                "skipped", where, "error"))
            continue
        if meta is not None and not isinstance(meta, Mapping):
            alerts.append(Alert("invalid-field", f"{where}: {kind}: metadata must be an object; skipped", where,
                                "error"))
            continue
        meta = meta or {}
        name = meta.get("name")
        namespace = meta.get("namespace") or None
        if namespace is not None and not isinstance(namespace, str):
            alerts.append(Alert("invalid-field", f"{where}: {kind} {name}: metadata.namespace {namespace!r} is not a "
                                "string; skipped", where, "error"))
            continue
        problem = _bad_meta(meta)
        if problem:
            alerts.append(Alert("invalid-field", f"{where}: {kind} {name}: {problem}; skipped", where, "error"))
            continue
        ref = f"{kind} {namespace + '/' if namespace else ''}{name}"
        if not isinstance(name, str) or not name:
            if kind in POLICY_KINDS.get(_group(api_version), ()):
                name = f"<unnamed at {where}>"
            else:
                alerts.append(Alert("missing-field", f"{where}: {kind} has no metadata.name; skipped", where,
                                    "error"))
                continue
        key = (api_version.split("/")[0], kind, namespace, name)
        if key in seen:
            alerts.append(Alert("duplicate-object", f"{where}: {ref} is also defined at {seen[key]}; both are "
                                "kept as written, the later one counts where they conflict", ref))
        seen[key] = where
        try:
            if kind == "Namespace" and api_version == "v1":
                declared_namespaces[name] = Namespace(name, _namespace_labels(name, meta, where, alerts))
            elif kind == "Pod" and api_version == "v1":
                pods_raw.append((obj, where))
            elif kind in WORKLOAD_KINDS and api_version in ("apps/v1", "batch/v1", "v1", "batch/v1beta1",
                                                            "extensions/v1beta1", "apps/v1beta2"):
                workloads.append((obj, where))
                owner = _controller(meta)
                if owner:
                    owners[(namespace or default_namespace, kind, name)] = owner
            elif kind == "Service" and api_version == "v1":
                state.services.append(_service(obj, where, default_namespace))
            elif kind == "EndpointSlice" and api_version.startswith("discovery.k8s.io/"):
                state.endpoint_slices.append(_endpoint_slice(obj, where, default_namespace))
            elif kind == "ServiceAccount" and api_version == "v1":
                state.service_accounts.append(ServiceAccount(namespace or default_namespace, name,
                                                             _labels(meta, where, alerts, ref)))
            elif kind == "ConfigMap" and api_version == "v1":
                if (namespace or default_namespace, name) == coredns:
                    data = obj.get("data") or {}
                    state.corefile = data.get("Corefile") if isinstance(data, Mapping) else None
                    state.corefile_source = where
            elif is_routing_kind(api_version, kind):
                add_routing_object(state, obj, where, default_namespace)
            elif kind in POLICY_KINDS.get(_group(api_version), ()):
                scoped = kind not in CLUSTER_SCOPED_POLICY_KINDS
                state.policies.append(PolicyObject(
                    api_version=api_version, kind=kind, name=name,
                    namespace=(namespace or default_namespace) if scoped else None,
                    spec=obj.get("spec") if "spec" in obj else {},
                    labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {}, source=where))
            elif kind in IGNORED_KINDS:
                continue
            else:
                alerts.append(Alert("unknown-kind", f"{where}: {api_version or '?'} {kind} {name}: kind not used "
                                    "by netaudit; skipped", ref))
        except (_Invalid, InvalidRouting) as err:
            alerts.append(Alert("invalid-field", f"{where}: {ref}: {err}; object skipped", ref, "error"))
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            # A field of an unexpected type deep in the object: say which object, keep the run going.
            alerts.append(Alert("invalid-object", f"{where}: {ref}: could not be read ({type(err).__name__}: "
                                f"{err}); object skipped", ref, "error"))

    # Real pods first: they tell which workloads already have pods and need no representative.
    workload_objects = {(o.get("metadata", {}).get("namespace") or default_namespace, o["kind"],
                         o["metadata"]["name"]): o for o, _ in workloads}
    covered: set[tuple] = set()
    for obj, where in pods_raw:
        try:
            pod = _pod_from_manifest(obj, where, default_namespace, owners, workload_objects, alerts)
        except (_Invalid, AttributeError, TypeError, ValueError, KeyError) as err:
            name = (obj.get("metadata") or {}).get("name")
            alerts.append(Alert("invalid-field", f"{where}: Pod {name}: {err}; pod skipped (it is missing from "
                                "the matrix)", f"Pod {name}", "error"))
            continue
        if pod is None:
            continue
        state.pods.append(pod)
        meta = obj.get("metadata") or {}
        owner = _controller(meta)
        while owner:
            owner_key = (pod.namespace, owner[0], owner[1])
            covered.add(owner_key)
            owner = owners.get(owner_key)
    for obj, where in (workloads if representatives else ()):
        meta = obj["metadata"]
        ns = meta.get("namespace") or default_namespace
        key = (ns, obj["kind"], meta["name"])
        if key in covered:
            continue
        owner = owners.get(key)
        if owner and (ns, owner[0], owner[1]) in workload_objects:
            continue  # e.g. a ReplicaSet of a Deployment that is in the input: the Deployment stands for it
        try:
            state.pods.append(_representative_pod(obj, where, ns, alerts))
        except (_Invalid, AttributeError, TypeError, ValueError, KeyError) as err:
            alerts.append(Alert("invalid-field", f"{where}: {obj['kind']} {ns}/{meta['name']}: {err}; workload "
                                "skipped (it is missing from the matrix)", f"{obj['kind']} {ns}/{meta['name']}",
                                "error"))

    state.namespaces = dict(declared_namespaces)
    used = {p.namespace for p in state.pods} | {p.namespace for p in state.policies if p.namespace} | \
        {s.namespace for s in state.services}
    for ns in sorted(used - set(declared_namespaces)):
        state.namespaces[ns] = Namespace(ns, {NAMESPACE_NAME_LABEL: ns}, labels_known=False)
    missing = sorted(used - set(declared_namespaces))
    if missing and declared_namespaces:
        alerts.append(Alert("namespace-not-declared", "no Namespace object for " + ", ".join(missing) +
                            ": only the kubernetes.io/metadata.name label is known; namespaceSelectors on other "
                            "labels give unknown verdicts there", ", ".join(missing)))
    elif missing:
        alerts.append(Alert("namespace-not-declared", "the input declares no Namespace objects: only the "
                            "kubernetes.io/metadata.name label of " + ", ".join(missing) + " is known; "
                            "namespaceSelectors on other labels give unknown verdicts", ", ".join(missing)))
    no_ip = [p.id for p in state.pods if not p.ips and not p.host_network]
    if no_ip and any(_mentions_cidrs(p) for p in state.policies):
        shown = ", ".join(no_ip[:5]) + (f" and {len(no_ip) - 5} more" if len(no_ip) > 5 else "")
        alerts.append(Alert("pod-without-ip", f"{len(no_ip)} pod(s) have no IP ({shown}): ipBlock/nets rules "
                            "never match them, as for a pod that has not started", shown))
    return state


def _mentions_cidrs(policy: PolicyObject) -> bool:
    """Whether a policy has address rules anywhere (a walk that survives YAML's recursive anchors)."""
    keys = {"ipBlock", "nets", "notNets", "networks"}
    todo, seen = [policy.spec], set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Mapping):
            if keys & set(k for k in node if isinstance(k, str)):
                return True
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return False


class _Invalid(ValueError):
    pass


def _bad_meta(meta: Mapping) -> str | None:
    """Type checks of the metadata fields every later step reads, so they can trust them."""
    name = meta.get("name")
    if name is not None and not isinstance(name, str):
        return f"metadata.name {name!r} is not a string"
    for field_name in ("labels", "annotations"):
        value = meta.get(field_name)
        if value is not None and not isinstance(value, Mapping):
            return f"metadata.{field_name} must be a map of strings"
    owners = meta.get("ownerReferences")
    if owners is not None and not (isinstance(owners, list) and all(isinstance(o, Mapping) for o in owners)):
        return "metadata.ownerReferences must be a list of objects"
    return None


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _controller(meta: Mapping) -> tuple[str, str] | None:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("kind") and ref.get("name"):
            return (str(ref["kind"]), str(ref["name"]))
    return None


def _labels(meta: Mapping, where: str, alerts: list[Alert], ref: str) -> dict[str, str]:
    raw = meta.get("labels") or {}
    if not isinstance(raw, Mapping):
        raise _Invalid("metadata.labels must be a map of strings")
    labels = {}
    for key, value in raw.items():
        problem = validate_label_key(key) or validate_label_value(value)
        if problem:
            if isinstance(value, (int, float, bool)) and not isinstance(value, str) and not validate_label_key(key):
                # The API server rejects this object; we read the value the author obviously meant, and say so.
                text = str(value).lower() if isinstance(value, bool) else str(value)
                alerts.append(Alert("invalid-label", f"{where}: {ref}: metadata.labels[{key}]: {problem}; read as "
                                    f"{text!r}", ref))
                labels[key] = text
                continue
            raise _Invalid(f"metadata.labels[{key}]: {problem}")
        labels[key] = value
    return labels


def _namespace_labels(name: str, meta: Mapping, where: str, alerts: list[Alert]) -> dict[str, str]:
    labels = _labels(meta, where, alerts, f"Namespace {name}")
    labels[NAMESPACE_NAME_LABEL] = name  # set by the API server on every namespace since Kubernetes 1.21
    return labels


def _container_ports(spec: Mapping, where: str) -> tuple[ContainerPort, ...]:
    out = []
    for list_name, init in (("containers", False), ("initContainers", True)):
        containers = spec.get(list_name) or []
        if not isinstance(containers, list):
            raise _Invalid(f"spec.{list_name} must be a list")
        for i, container in enumerate(containers):
            if not isinstance(container, Mapping):
                raise _Invalid(f"spec.{list_name}[{i}] must be an object")
            for j, port in enumerate(container.get("ports") or []):
                field_path = f"spec.{list_name}[{i}].ports[{j}]"
                if not isinstance(port, Mapping):
                    raise _Invalid(f"{field_path} must be an object")
                number = port.get("containerPort")
                if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
                    raise _Invalid(f"{field_path}.containerPort: {number!r} is not a port number from 1 to 65535")
                protocol = port.get("protocol") or "TCP"
                if protocol not in ("TCP", "UDP", "SCTP"):
                    raise _Invalid(f"{field_path}.protocol: {protocol!r} is not TCP, UDP or SCTP")
                name = port.get("name")
                if name is not None and not isinstance(name, str):
                    raise _Invalid(f"{field_path}.name: {name!r} must be a string")
                out.append(ContainerPort(number, protocol, name or None, init))
    return tuple(out)


def _pod_spec_fields(spec: Mapping, where: str) -> dict:
    if not isinstance(spec, Mapping):
        raise _Invalid("spec must be an object")
    for field_name in ("serviceAccountName", "serviceAccount", "nodeName", "hostname", "subdomain", "dnsPolicy"):
        value = spec.get(field_name)
        if value is not None and not isinstance(value, str):
            raise _Invalid(f"spec.{field_name}: {value!r} must be a string")
    if spec.get("hostNetwork") is not None and not isinstance(spec.get("hostNetwork"), bool):
        raise _Invalid(f"spec.hostNetwork: {spec.get('hostNetwork')!r} must be true or false")
    return dict(
        service_account=spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
        host_network=bool(spec.get("hostNetwork")),
        node_name=spec.get("nodeName"),
        container_ports=_container_ports(spec, where),
        hostname=spec.get("hostname"),
        subdomain=spec.get("subdomain"),
        dns_policy=spec.get("dnsPolicy") or "ClusterFirst",
    )


def _ip_text(value: object, field_path: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise _Invalid(f"{field_path}: {value!r} is not an IP address") from None


def _pod_ips(status: Mapping) -> tuple[str, ...]:
    ips = []
    entries = status.get("podIPs") or []
    if not isinstance(entries, list):
        raise _Invalid("status.podIPs must be a list of {ip: ...}")
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping) and entry.get("ip"):
            ips.append(_ip_text(entry["ip"], f"status.podIPs[{i}].ip"))
    if status.get("podIP"):
        first = _ip_text(status["podIP"], "status.podIP")
        if first not in ips:
            ips.insert(0, first)
    return tuple(ips)


def _pod_from_manifest(obj: Mapping, where: str, default_namespace: str, owners: dict, workload_objects: dict,
                       alerts: list[Alert]) -> Pod | None:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or default_namespace
    name = meta["name"]
    status = obj.get("status") or {}
    if not isinstance(status, Mapping):
        status = {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return None  # finished pods hold no IP and are not endpoints
    labels = _labels(meta, where, alerts, f"Pod {ns}/{name}")
    fields = _pod_spec_fields(obj.get("spec") or {}, where)
    ready = None
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return Pod(namespace=ns, name=name, labels=labels, ips=_pod_ips(status), phase=phase, ready=ready,
               workload=pod_workload(ns, meta, labels, owners, workload_objects), source=where, **fields)


def pod_workload(namespace: str, meta: Mapping, labels: Mapping, owners: Mapping, known: Mapping) -> str:
    """The top-most controller the data proves (DESIGN.md): Pod -> ReplicaSet -> Deployment, Job -> CronJob."""
    owner = _controller(meta)
    if owner is None:
        return f"Pod/{meta['name']}"
    kind, name = owner
    while True:
        parent = owners.get((namespace, kind, name))
        if parent is None:
            break
        kind, name = parent
    if kind == "ReplicaSet" and (namespace, kind, name) not in known:
        pod_hash = labels.get("pod-template-hash")
        if pod_hash and name.endswith("-" + pod_hash) and len(name) > len(pod_hash) + 1:
            return f"Deployment/{name[:-len(pod_hash) - 1]}"
    return f"{kind}/{name}"


def _pod_template(obj: Mapping) -> Mapping:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise _Invalid("spec must be an object")
    if obj["kind"] == "CronJob":
        job = spec.get("jobTemplate")
        if not isinstance(job, Mapping) or not isinstance(job.get("spec"), Mapping):
            raise _Invalid("spec.jobTemplate.spec is required")
        spec = job["spec"]
        prefix = "spec.jobTemplate.spec.template"
    else:
        prefix = "spec.template"
    template = spec.get("template")
    if not isinstance(template, Mapping):
        raise _Invalid(f"{prefix} is required")
    return template


def _representative_pod(obj: Mapping, where: str, namespace: str, alerts: list[Alert]) -> Pod:
    template = _pod_template(obj)
    meta = template.get("metadata") or {}
    name = obj["metadata"]["name"]
    labels = _labels(meta, where, alerts, f"{obj['kind']} {namespace}/{name}")
    fields = _pod_spec_fields(template.get("spec") or {}, where)
    return Pod(namespace=namespace, name=name, labels=labels, workload=f"{obj['kind']}/{name}", representative=True,
               source=where, **fields)


def _service(obj: Mapping, where: str, default_namespace: str) -> Service:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise _Invalid("spec must be an object")
    ports = []
    for i, port in enumerate(spec.get("ports") or []):
        if not isinstance(port, Mapping):
            raise _Invalid(f"spec.ports[{i}] must be an object")
        number = port.get("port")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            raise _Invalid(f"spec.ports[{i}].port: {number!r} is not a port number from 1 to 65535")
        target = port.get("targetPort", number)
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise _Invalid(f"spec.ports[{i}].targetPort: {target!r} is not a port number or name")
        protocol = port.get("protocol") or "TCP"
        if protocol not in ("TCP", "UDP", "SCTP"):
            raise _Invalid(f"spec.ports[{i}].protocol: {protocol!r} is not TCP, UDP or SCTP")
        name = port.get("name")
        if name is not None and not isinstance(name, str):
            raise _Invalid(f"spec.ports[{i}].name: {name!r} must be a string")
        node_port = port.get("nodePort")
        if node_port is not None and (isinstance(node_port, bool) or not isinstance(node_port, int)):
            raise _Invalid(f"spec.ports[{i}].nodePort: {node_port!r} must be a number")
        ports.append(ServicePort(number, protocol, name, target, node_port))
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if not isinstance(cluster_ips, list):
        raise _Invalid("spec.clusterIPs must be a list")
    cluster_ips = tuple(ip if ip == "None" else _ip_text(ip, "spec.clusterIP") for ip in cluster_ips)
    selector = spec.get("selector")
    source_ranges = []
    for i, text in enumerate(spec.get("loadBalancerSourceRanges") or []):
        try:
            source_ranges.append(str(ipaddress.ip_network(str(text).strip(), strict=False)))
        except ValueError:
            raise _Invalid(f"spec.loadBalancerSourceRanges[{i}]: {text!r} is not a CIDR") from None
    external_ips = tuple(_ip_text(ip, f"spec.externalIPs[{i}]") for i, ip in enumerate(spec.get("externalIPs") or []))
    return Service(
        namespace=meta.get("namespace") or default_namespace, name=meta["name"], type=spec.get("type") or "ClusterIP",
        selector=dict(selector) if isinstance(selector, Mapping) else None, ports=tuple(ports),
        cluster_ips=tuple(ip for ip in cluster_ips if ip and ip != "None"),
        headless="None" in cluster_ips, external_name=spec.get("externalName"),
        external_traffic_policy=spec.get("externalTrafficPolicy"),
        publish_not_ready_addresses=bool(spec.get("publishNotReadyAddresses")),
        labels=dict(meta.get("labels") or {}), source=where, load_balancer_source_ranges=tuple(source_ranges),
        external_ips=external_ips)


def _endpoint_slice(obj: Mapping, where: str, default_namespace: str) -> EndpointSlice:
    meta = obj["metadata"]
    endpoints = []
    for i, ep in enumerate(obj.get("endpoints") or []):
        if not isinstance(ep, Mapping):
            raise _Invalid(f"endpoints[{i}] must be an object")
        conditions = ep.get("conditions") or {}
        target = ep.get("targetRef") or {}
        target_pod = None
        if isinstance(target, Mapping) and target.get("kind") == "Pod" and target.get("name"):
            target_pod = f"{target.get('namespace') or meta.get('namespace') or default_namespace}/{target['name']}"
        endpoints.append(Endpoint(
            addresses=tuple(str(a) for a in ep.get("addresses") or []),
            ready=conditions.get("ready"), serving=conditions.get("serving"),
            terminating=conditions.get("terminating"), hostname=ep.get("hostname"), node_name=ep.get("nodeName"),
            target_pod=target_pod))
    ports = []
    for port in obj.get("ports") or []:
        if isinstance(port, Mapping) and isinstance(port.get("port"), int) and not isinstance(port["port"], bool):
            protocol = port.get("protocol") or "TCP"
            name = port.get("name") or None
            if protocol not in ("TCP", "UDP", "SCTP") or (name is not None and not isinstance(name, str)):
                raise _Invalid(f"ports: {port!r} has an invalid protocol or name")
            ports.append(ServicePort(port["port"], protocol, name))
    labels = meta.get("labels") or {}
    return EndpointSlice(namespace=meta.get("namespace") or default_namespace, name=meta["name"],
                         service=labels.get("kubernetes.io/service-name"),
                         address_type=obj.get("addressType") or "IPv4", endpoints=tuple(endpoints),
                         ports=tuple(ports), source=where)
