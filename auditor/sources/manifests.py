"""Offline source: Kubernetes YAML/JSON files and folders -> ClusterState (documents.py reads the files).

Workload manifests become one representative pod each, named after the workload (DESIGN.md), unless the input also
holds real Pods of that workload (a `kubectl get all` dump). `build_state` is shared by every source that has API
objects as dicts (the live source too).

A bad document or object is skipped with an alert that names the file, the document and the field; it never stops
the rest of the input from being read. Policy objects are passed on even when malformed: the policy layer turns
what it cannot read into `unknown` verdicts, which is safer than dropping a policy.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Mapping  # the ABCs: isinstance on them is fast (typing's is not)
from dataclasses import replace

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
from .documents import (
    CLUSTER_SCOPED_POLICY_KINDS,
    IGNORED_KINDS,
    POLICY_KINDS,
    WORKLOAD_KINDS,
    Document,
    ManifestDocuments,
    ManifestError,
    api_group,
    manifest_files,
    parse_text,
    read_file,
)
from .routing import InvalidRouting, add_routing_object, is_routing_kind

CORE_DNS_CONFIGMAP = ("kube-system", "coredns")


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
            read_file(file_path, collected)
    if collected.files == 0:
        raise ManifestError(f"no .yaml, .yml or .json files found in {', '.join(paths)}")
    state = build_state(collected.docs, coredns=coredns, default_namespace=default_namespace)
    state.alerts[:0] = collected.alerts
    state.unreadable.extend(collected.unreadable)
    state.origin = "manifests: " + ", ".join(paths)
    return state


ANY_PORT = (None, None, None)  # an uncertain container port: any name, protocol and number


class _Fields:
    """Reads the fields of one object: each one it cannot read is an error alert that names the file, the object
    and the field path, and is remembered (`problems`) for the reasons of the verdicts it makes unknown."""

    def __init__(self, where: str, ref: str, alerts: list[Alert]):
        self.where, self.ref, self.alerts = where, ref, alerts
        self.problems: list[str] = []

    def error(self, path: str, problem: str, consequence: str) -> None:
        self.problems.append(f"{path}: {problem}")
        self.alerts.append(Alert("invalid-field", f"{self.where}: {self.ref}: {path}: {problem}; {consequence}",
                                 self.ref, "error", _location(self.where)))


def _location(where: str) -> str:
    return where.split(" ", 1)[0]


def build_state(docs: list, *, coredns: tuple[str, str] = CORE_DNS_CONFIGMAP,
                default_namespace: str = "default", representatives: bool = True) -> ClusterState:
    """Turn parsed objects (dicts) into a ClusterState. Shared by every source that has API objects as dicts.

    `representatives`: make one pod per workload object that has no real pod in the input (manifests). A live
    cluster lists its real pods, so there workload objects only name the pods' owners.
    """
    state = ClusterState()
    alerts = state.alerts
    seen: dict[tuple, str] = {}
    workloads: list[tuple[Mapping, str, _Fields]] = []
    owners: dict[tuple, tuple[str, str]] = {}  # (ns, kind, name) -> controller (kind, name)
    pods_raw: list[tuple[Mapping, str, _Fields]] = []
    declared_namespaces: dict[str, Namespace] = {}
    unreadable_accounts: dict[tuple[str, str], str] = {}  # service accounts whose labels could not be read

    def skip(code: str, where: str, text: str, obj: str = "") -> None:
        alerts.append(Alert(code, f"{where}: {text}; skipped", obj or where, "error", _location(where)))

    for doc in docs:
        obj, where = (doc.obj, doc.where) if isinstance(doc, Document) else doc
        if not isinstance(obj, Mapping):
            skip("not-an-object", where, f"not a Kubernetes object (got {type(obj).__name__})")
            continue
        kind = obj.get("kind")
        api_version = obj.get("apiVersion") or ""
        meta = obj.get("metadata")
        if not isinstance(kind, str) or not kind:
            skip("missing-kind", where, "object has no kind")
            continue
        if not isinstance(api_version, str):
            skip("invalid-field", where, f"{kind}: apiVersion {api_version!r} is not a string")
            continue
        if meta is not None and not isinstance(meta, Mapping):
            skip("invalid-field", where, f"{kind}: metadata must be an object")
            continue
        if meta is None:
            meta = {}
        name = meta.get("name")
        namespace = meta.get("namespace") or None
        if namespace is not None and not isinstance(namespace, str):
            skip("invalid-field", where, f"{kind} {name}: metadata.namespace {namespace!r} is not a string")
            continue
        is_policy = kind in POLICY_KINDS.get(api_group(api_version), ())
        if not isinstance(name, str) or not name:
            if not is_policy:
                skip("missing-field", where, f"{kind} has no metadata.name" if name in (None, "") else
                     f"{kind}: metadata.name {name!r} is not a string")
                continue
            name = f"<unnamed at {where}>"  # a policy is never dropped: its rules still count
            alerts.append(Alert("missing-field", f"{where}: {kind} has no metadata.name (kubectl would refuse it); "
                                f"read as {name}", name, "warning", _location(where)))
        ref = f"{kind} {namespace + '/' if namespace else ''}{name}"
        fields = _Fields(where, ref, alerts)
        meta = _readable_meta(meta, fields)
        key = (api_version.split("/")[0], kind, namespace, name)
        if key in seen:
            alerts.append(Alert("duplicate-object", f"{where}: {ref} is also defined at {seen[key]}; both are "
                                "kept as written, the later one counts where they conflict", ref))
        seen[key] = where
        try:
            if kind == "Namespace" and api_version == "v1":
                labels, uncertain = _labels(meta.get("labels"), "metadata.labels", fields, "namespace")
                labels[NAMESPACE_NAME_LABEL] = name  # set by the API server on every namespace since 1.21
                declared_namespaces[name] = Namespace(name, labels, labels_known=not uncertain)
            elif kind == "Pod" and api_version == "v1":
                pods_raw.append((obj if obj.get("metadata") is meta else dict(obj, metadata=meta), where, fields))
            elif kind in WORKLOAD_KINDS and api_version in ("apps/v1", "batch/v1", "v1", "batch/v1beta1",
                                                            "extensions/v1beta1", "apps/v1beta2"):
                workloads.append((obj if obj.get("metadata") is meta else dict(obj, metadata=meta), where, fields))
                owner = _controller(meta)
                if owner:
                    owners[(namespace or default_namespace, kind, name)] = owner
            elif kind == "Service" and api_version == "v1":
                service = _service(obj, where, namespace or default_namespace, fields)
                if service is not None:
                    state.services.append(service)
            elif kind == "EndpointSlice" and api_version.startswith("discovery.k8s.io/"):
                state.endpoint_slices.append(_endpoint_slice(obj, where, namespace or default_namespace, fields))
            elif kind == "ServiceAccount" and api_version == "v1":
                labels, uncertain = _labels(meta.get("labels"), "metadata.labels", fields, "service account")
                state.service_accounts.append(ServiceAccount(namespace or default_namespace, name, labels))
                if uncertain:
                    unreadable_accounts[(namespace or default_namespace, name)] = f"{ref}: labels could not be read"
            elif kind == "ConfigMap" and api_version == "v1":
                if (namespace or default_namespace, name) == coredns:
                    data = obj.get("data") or {}
                    state.corefile = data.get("Corefile") if isinstance(data, Mapping) else None
                    state.corefile_source = where
            elif is_routing_kind(api_version, kind):
                try:
                    add_routing_object(state, obj if obj.get("metadata") is meta else dict(obj, metadata=meta), where,
                                       namespace or default_namespace)
                except InvalidRouting as err:
                    skip("invalid-field", where, f"{ref}: {err}", ref)
            elif is_policy:
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
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            # A safety net: a field of a type no check above expects. Say which object, keep the run going.
            skip("invalid-object", where, f"{ref}: could not be read ({type(err).__name__}: {err})", ref)

    # Real pods first: they tell which workloads already have pods and need no representative.
    workload_objects = {(o["metadata"].get("namespace") or default_namespace, o["kind"], o["metadata"]["name"]): o
                        for o, _, _ in workloads}
    covered: set[tuple] = set()
    for obj, where, fields in pods_raw:
        try:
            pod = _pod_from_manifest(obj, where, default_namespace, owners, workload_objects, fields)
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            skip("invalid-object", where, f"{fields.ref}: could not be read ({type(err).__name__}: {err})",
                 fields.ref)
            continue
        if pod is None:
            continue
        state.pods.append(pod)
        # Its workload has a real pod: no representative for it. That is the workload pod_workload found, which
        # may be a Deployment known only from the ReplicaSet name and pod-template-hash (no ReplicaSet in input).
        covered.add((pod.namespace, *pod.workload.split("/", 1)))
        owner = _controller(obj["metadata"])
        while owner:
            owner_key = (pod.namespace, owner[0], owner[1])
            covered.add(owner_key)
            owner = owners.get(owner_key)
    for obj, where, fields in (workloads if representatives else ()):
        meta = obj["metadata"]
        ns = meta.get("namespace") or default_namespace
        key = (ns, obj["kind"], meta["name"])
        if key in covered:
            continue
        owner = owners.get(key)
        if owner and (ns, owner[0], owner[1]) in workload_objects:
            continue  # e.g. a ReplicaSet of a Deployment that is in the input: the Deployment stands for it
        try:
            state.pods.append(_representative_pod(obj, where, ns, fields))
        except (AttributeError, TypeError, ValueError, KeyError) as err:
            skip("invalid-object", where, f"{fields.ref}: could not be read ({type(err).__name__}: {err})",
                 fields.ref)
    if unreadable_accounts:
        # Calico matches service-account labels: a pod whose account's labels are unknown may match or not.
        state.pods = [replace(p, uncertain_identity=True, unreadable=p.unreadable + (unreadable_accounts[key],))
                      if (key := (p.namespace, p.service_account)) in unreadable_accounts else p
                      for p in state.pods]

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
    no_ip = [p.id for p in state.pods if not p.ips and not p.host_network and not p.opaque
             and not p.uncertain_identity]
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


def _readable_meta(meta: Mapping, fields: _Fields) -> Mapping:
    """metadata with the fields that later steps read made safe: a wrong-typed one is an error and is left out
    (labels: every label unknown, as `_labels` says; ownerReferences: the object is its own workload). The same
    object when nothing is wrong (the common case: no copy)."""
    annotations = meta.get("annotations")
    bad_annotations = annotations is not None and not isinstance(annotations, Mapping)
    owners = meta.get("ownerReferences")
    bad_owners = owners is not None and not (isinstance(owners, list) and all(isinstance(o, Mapping) for o in owners))
    if not (bad_annotations or bad_owners):
        return meta
    clean = dict(meta)
    if bad_annotations:
        fields.error("metadata.annotations", "must be a map of strings", "ignored")
        clean.pop("annotations")
    if bad_owners:
        fields.error("metadata.ownerReferences", "must be a list of objects",
                     "ignored: the object is shown as its own workload")
        clean.pop("ownerReferences")
    return clean


def _controller(meta: Mapping) -> tuple[str, str] | None:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("kind") and ref.get("name"):
            return (str(ref["kind"]), str(ref["name"]))
    return None


def _labels(raw: object, path: str, fields: _Fields, what: str = "pod") -> tuple[dict[str, str], tuple[str, ...]]:
    """The labels that can be read, and the keys whose values cannot ("*": all of them).

    A label the API server would refuse is not read as something else (YAML turns `yes` into true and `1.10` into
    1.1: the spelling the author meant is lost), so selectors that read its key give unknown verdicts. A key that
    is not a valid label key is left out: no valid selector can name it.
    """
    if raw is None:
        return {}, ()
    if not isinstance(raw, Mapping):
        fields.error(path, f"must be a map of strings, got {type(raw).__name__}",
                     f"every label of this {what} is unknown: selectors that read labels may or may not match it")
        return {}, ("*",)
    labels: dict[str, str] = {}
    uncertain: list[str] = []
    for key, value in raw.items():
        problem = validate_label_key(key)
        if problem:
            if isinstance(key, str):
                fields.error(f"{path}[{key}]", problem, "label left out (no selector can name such a key)")
                continue
            fields.error(f"{path}[{key!r}]", f"label key {key!r} must be a string (quote it)",
                         f"every label of this {what} is unknown: YAML lost the key as written")
            uncertain.append("*")
            continue
        problem = validate_label_value(value)
        if problem:
            fields.error(f"{path}[{key}]", problem, f"its value is unknown: selectors on {key} may or may not match "
                         f"this {what}")
            uncertain.append(key)
            continue
        labels[key] = value
    return labels, tuple(dict.fromkeys(uncertain))


_UNKNOWN_NAMED = "named-port matches on this pod are unknown"


def _container_ports(spec: Mapping, prefix: str, fields: _Fields) -> tuple[tuple[ContainerPort, ...], tuple]:
    """The container ports that can be read, and the ones that cannot (name, protocol, number; None = unknown)."""
    out: list[ContainerPort] = []
    uncertain: list[tuple] = []
    for list_name, init in (("containers", False), ("initContainers", True)):
        containers = spec.get(list_name)
        if containers is None:
            continue
        path = f"{prefix}.{list_name}"
        if not isinstance(containers, list):
            fields.error(path, f"must be a list of containers, got {type(containers).__name__}",
                         f"its ports are unknown: {_UNKNOWN_NAMED}")
            uncertain.append(ANY_PORT)
            continue
        for i, container in enumerate(containers):
            if not isinstance(container, Mapping):
                fields.error(f"{path}[{i}]", f"must be an object, got {type(container).__name__}",
                             f"its ports are unknown: {_UNKNOWN_NAMED}")
                uncertain.append(ANY_PORT)
                continue
            ports = container.get("ports")
            if ports is None:
                continue
            if not isinstance(ports, list):
                fields.error(f"{path}[{i}].ports", f"must be a list of ports, got {type(ports).__name__}",
                             f"its ports are unknown: {_UNKNOWN_NAMED}")
                uncertain.append(ANY_PORT)
                continue
            for j, entry in enumerate(ports):
                read = _container_port(entry, f"{path}[{i}].ports[{j}]", init, fields)
                if isinstance(read, ContainerPort):
                    out.append(read)
                elif read is not None:
                    uncertain.append(read)
    return tuple(out), tuple(dict.fromkeys(uncertain))


def _container_port(entry: object, path: str, init: bool, fields: _Fields) -> ContainerPort | tuple | None:
    """One entry of a container's `ports`: a ContainerPort; or, if it cannot be read, what is known of it as
    (name, protocol, number) with None for the unknown parts; or None when it cannot matter (it has no name, and
    rules only ever name a port of a pod by its name: numeric ports are the rule's own)."""
    if not isinstance(entry, Mapping):
        fields.error(path, f"must be an object with containerPort, protocol and name, got {type(entry).__name__}",
                     f"port entry left out: {_UNKNOWN_NAMED}")
        return ANY_PORT
    problems = []
    name = entry.get("name")
    name_ok = name is None or isinstance(name, str)
    if not name_ok:
        problems.append(("name", f"{name!r} must be a string"))
    number = entry.get("containerPort")
    number_ok = isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= 65535
    if number is None:
        typo = next((k for k in entry if isinstance(k, str) and k.lower() == "containerport"), None)
        problems.append(("containerPort", "is missing" + (f" (there is `{typo}`: field names are case-sensitive)"
                                                          if typo else "")))
    elif not number_ok:
        problems.append(("containerPort", f"{number!r} is not a port number from 1 to 65535"))
    protocol = entry.get("protocol") or "TCP"
    protocol_ok = protocol in ("TCP", "UDP", "SCTP")
    if not protocol_ok:
        problems.append(("protocol", f"{protocol!r} is not TCP, UDP or SCTP"))
    if not problems:
        return ContainerPort(number, protocol, name or None, init)
    matters = name is not None
    consequence = f"port entry left out: {_UNKNOWN_NAMED}" if matters else \
        "port entry left out (it has no name, so no rule can refer to it: no verdict changes)"
    if len(problems) == 1:
        fields.error(f"{path}.{problems[0][0]}", problems[0][1], consequence)
    else:
        fields.error(path, "; ".join(f"{f}: {m}" for f, m in problems), consequence)
    if not matters:
        return None
    return (name if name_ok else None, protocol if protocol_ok else None, number if number_ok else None)


_OPAQUE = "every verdict about this pod is unknown"
_IDENTITY = "verdicts of ipBlocks and Calico rules about this pod are unknown"


def _pod_spec_fields(spec: object, prefix: str, fields: _Fields) -> dict:
    """The Pod fields of a pod spec (a Pod's, or a workload's template): what cannot be read is an error, and
    `uncertain_identity` and `opaque` say when it is something policies read besides labels."""
    out = dict(service_account="default", host_network=False, node_name=None, container_ports=(),
               uncertain_ports=(), hostname=None, subdomain=None, dns_policy="ClusterFirst", opaque=False,
               uncertain_identity=False)
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        fields.error(prefix, f"must be an object, got {type(spec).__name__}", _OPAQUE)
        out.update(opaque=True, uncertain_ports=(ANY_PORT,))
        return out
    for name in ("serviceAccountName", "serviceAccount"):
        value = spec.get(name)
        if value is not None and not isinstance(value, str):
            fields.error(f"{prefix}.{name}", f"{value!r} must be a string",
                         f"its service account is unknown: {_IDENTITY}")
            out["uncertain_identity"] = True
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if isinstance(account, str) and account:
        out["service_account"] = account
    host_network = spec.get("hostNetwork")
    if host_network is not None and not isinstance(host_network, bool):
        fields.error(f"{prefix}.hostNetwork", f"{host_network!r} must be true or false",
                     f"whether it uses the host network is unknown: {_OPAQUE}")
        out["opaque"] = True
    else:
        out["host_network"] = bool(host_network)
    for name, key in (("nodeName", "node_name"), ("hostname", "hostname"), ("subdomain", "subdomain"),
                      ("dnsPolicy", "dns_policy")):
        value = spec.get(name)
        if value is not None and not isinstance(value, str):
            fields.error(f"{prefix}.{name}", f"{value!r} must be a string", "ignored")
        elif value:
            out[key] = value
    out["container_ports"], out["uncertain_ports"] = _container_ports(spec, prefix, fields)
    return out


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z")


def _ip_text(value: object) -> str | None:
    """The canonical text of an IP address, or None. A dotted quad without leading zeros is already canonical, and
    checking that is much cheaper than ipaddress (10,000 pods: 0.4 s)."""
    if not isinstance(value, str):
        return None
    if _IPV4.match(value):
        return value
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _pod_ips(status: Mapping, fields: _Fields) -> tuple[tuple[str, ...], bool]:
    """The pod's IPs, and whether all of them could be read (an address that cannot be read could be in any
    ipBlock, and Calico selectors match addresses too)."""
    ips: list[str] = []
    readable = True
    seen: dict[object, str | None] = {}  # podIP repeats podIPs[0]: parse each text once

    def ip_text(value: object) -> str | None:
        if isinstance(value, str) and value in seen:
            return seen[value]
        text = _ip_text(value)
        if isinstance(value, str):
            seen[value] = text
        return text
    entries = status.get("podIPs")
    if entries is not None and not isinstance(entries, list):
        fields.error("status.podIPs", "must be a list of {ip: ...}", f"its addresses are unknown: {_IDENTITY}")
        entries, readable = [], False
    for i, entry in enumerate(entries or []):
        ip = ip_text(entry.get("ip")) if isinstance(entry, Mapping) else None
        if ip is None:
            fields.error(f"status.podIPs[{i}]", f"{entry!r} is not {{ip: <an IP address>}}",
                         f"an address of it is unknown: {_IDENTITY}")
            readable = False
        elif ip not in ips:
            ips.append(ip)
    if status.get("podIP") is not None:
        first = ip_text(status["podIP"])
        if first is None:
            fields.error("status.podIP", f"{status['podIP']!r} is not an IP address",
                         f"its address is unknown: {_IDENTITY}")
            readable = False
        elif first not in ips:
            ips.insert(0, first)
    return tuple(ips), readable


def _pod_from_manifest(obj: Mapping, where: str, default_namespace: str, owners: dict, workload_objects: dict,
                       fields: _Fields) -> Pod | None:
    meta = obj["metadata"]
    ns = meta.get("namespace") or default_namespace
    name = meta["name"]
    status = obj.get("status")
    identity = False
    if status is None:
        status = {}
    elif not isinstance(status, Mapping):
        fields.error("status", f"must be an object, got {type(status).__name__}",
                     f"its addresses are unknown: {_IDENTITY}")
        status, identity = {}, True
    phase = status.get("phase")
    if phase is not None and not isinstance(phase, str):
        fields.error("status.phase", f"{phase!r} must be a string", "ignored")
        phase = None
    if phase in ("Succeeded", "Failed"):
        return None  # finished pods hold no IP and are not endpoints
    labels, uncertain_labels = _labels(meta.get("labels"), "metadata.labels", fields)
    facts = _pod_spec_fields(obj.get("spec"), "spec", fields)
    ips, ips_readable = _pod_ips(status, fields)
    ready = None
    conditions = status.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        fields.error("status.conditions", "must be a list", "whether the pod is ready is unknown")
        conditions = []
    for cond in conditions or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    facts["uncertain_identity"] = facts["uncertain_identity"] or identity or not ips_readable
    return Pod(namespace=ns, name=name, labels=labels, ips=ips, phase=phase, ready=ready,
               workload=pod_workload(ns, meta, labels, owners, workload_objects), source=where,
               uncertain_labels=uncertain_labels, unreadable=tuple(fields.problems), **facts)


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


def _pod_template(obj: Mapping, fields: _Fields) -> tuple[Mapping | None, str]:
    """A workload's pod template and its field path, or None (an error says why) when it cannot be read."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        fields.error("spec", "must be an object with a pod template", f"its pods are unknown: {_OPAQUE}")
        return None, "spec"
    prefix = "spec.template"
    if obj["kind"] == "CronJob":
        job = spec.get("jobTemplate")
        if not isinstance(job, Mapping) or not isinstance(job.get("spec"), Mapping):
            fields.error("spec.jobTemplate.spec", "is required", f"its pods are unknown: {_OPAQUE}")
            return None, "spec.jobTemplate.spec"
        spec = job["spec"]
        prefix = "spec.jobTemplate.spec.template"
    template = spec.get("template")
    if not isinstance(template, Mapping):
        fields.error(prefix, "is required (an object)", f"its pods are unknown: {_OPAQUE}")
        return None, prefix
    return template, prefix


def _representative_pod(obj: Mapping, where: str, namespace: str, fields: _Fields) -> Pod:
    kind, name = obj["kind"], obj["metadata"]["name"]
    template, prefix = _pod_template(obj, fields)
    base = dict(namespace=namespace, name=name, workload=f"{kind}/{name}", representative=True, source=where)
    if template is None:
        # The workload exists, its pods are unknown: it stays in the matrix with unknown verdicts.
        return Pod(**base, uncertain_labels=("*",), uncertain_ports=(ANY_PORT,), opaque=True,
                   unreadable=tuple(fields.problems))
    meta = template.get("metadata")
    if meta is not None and not isinstance(meta, Mapping):
        fields.error(f"{prefix}.metadata", "must be an object", "its labels are unknown")
        labels, uncertain_labels = {}, ("*",)
    else:
        labels, uncertain_labels = _labels((meta or {}).get("labels"), f"{prefix}.metadata.labels", fields)
    facts = _pod_spec_fields(template.get("spec"), f"{prefix}.spec", fields)
    return Pod(**base, labels=labels, uncertain_labels=uncertain_labels, unreadable=tuple(fields.problems), **facts)


def _port_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _service(obj: Mapping, where: str, namespace: str, fields: _Fields) -> Service | None:
    meta = obj["metadata"]
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        fields.error("spec", f"must be an object, got {type(spec).__name__}", "Service skipped")
        return None
    ports = []
    raw_ports = spec.get("ports")
    if raw_ports is not None and not isinstance(raw_ports, list):
        fields.error("spec.ports", "must be a list", "the Service's ports are left out")
        raw_ports = []
    for i, port in enumerate(raw_ports or []):
        path = f"spec.ports[{i}]"
        if not isinstance(port, Mapping):
            fields.error(path, "must be an object", "this Service port is left out")
            continue
        number = port.get("port")
        target = port.get("targetPort", number)
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        protocol = port.get("protocol") or "TCP"
        name = port.get("name")
        node_port = port.get("nodePort")
        problem = None
        if not _port_number(number):
            problem = (f"{path}.port", f"{number!r} is not a port number from 1 to 65535")
        elif isinstance(target, bool) or not isinstance(target, (int, str)):
            problem = (f"{path}.targetPort", f"{target!r} is not a port number or name")
        elif protocol not in ("TCP", "UDP", "SCTP"):
            problem = (f"{path}.protocol", f"{protocol!r} is not TCP, UDP or SCTP")
        elif name is not None and not isinstance(name, str):
            problem = (f"{path}.name", f"{name!r} must be a string")
        elif node_port is not None and not _port_number(node_port):
            problem = (f"{path}.nodePort", f"{node_port!r} is not a port number")
        if problem:
            fields.error(problem[0], problem[1], "this Service port is left out")
            continue
        ports.append(ServicePort(number, protocol, name, target, node_port))
    raw_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if not isinstance(raw_ips, list):
        fields.error("spec.clusterIPs", "must be a list", "the Service's cluster IPs are left out")
        raw_ips = []
    cluster_ips = []
    for i, text in enumerate(raw_ips):
        if text == "None":
            continue
        ip = _ip_text(text)
        if ip is None:
            fields.error(f"spec.clusterIPs[{i}]" if "clusterIPs" in spec else "spec.clusterIP",
                         f"{text!r} is not an IP address", "left out")
        else:
            cluster_ips.append(ip)
    selector = spec.get("selector")
    if selector is not None and not (isinstance(selector, Mapping) and
                                     all(isinstance(k, str) and isinstance(v, str) for k, v in selector.items())):
        fields.error("spec.selector", "must be a map of strings", "Service skipped: its backends are unknown")
        return None
    text_fields = {}
    for key in ("type", "externalName", "externalTrafficPolicy"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            fields.error(f"spec.{key}", f"{value!r} must be a string", "ignored")
            value = None
        text_fields[key] = value
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    source_ranges, external_ips = [], []
    for key, out, check in (("loadBalancerSourceRanges", source_ranges, _cidr_text), ("externalIPs", external_ips,
                                                                                     _ip_text)):
        raw = spec.get(key)
        if raw is not None and not isinstance(raw, list):
            fields.error(f"spec.{key}", "must be a list", "ignored: exposure through this Service may be wider")
            continue
        for i, text in enumerate(raw or []):
            value = check(text)
            if value is None:
                fields.error(f"spec.{key}[{i}]", f"{text!r} is not {'a CIDR' if check is _cidr_text else 'an IP'}",
                             "ignored")
            else:
                out.append(value)
    return Service(
        namespace=namespace, name=meta["name"], type=text_fields["type"] or "ClusterIP",
        selector=dict(selector) if selector is not None else None, ports=tuple(ports),
        cluster_ips=tuple(cluster_ips), headless="None" in raw_ips or spec.get("clusterIP") == "None",
        external_name=text_fields["externalName"], external_traffic_policy=text_fields["externalTrafficPolicy"],
        publish_not_ready_addresses=spec.get("publishNotReadyAddresses") is True,
        labels=dict(labels), source=where, load_balancer_source_ranges=tuple(source_ranges),
        external_ips=tuple(external_ips))


def _cidr_text(value: object) -> str | None:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False)) if isinstance(value, str) else None
    except ValueError:
        return None


def _endpoint_slice(obj: Mapping, where: str, namespace: str, fields: _Fields) -> EndpointSlice:
    meta = obj["metadata"]
    endpoints = []
    raw_endpoints = obj.get("endpoints")
    if raw_endpoints is not None and not isinstance(raw_endpoints, list):
        fields.error("endpoints", "must be a list", "the slice's endpoints are left out")
        raw_endpoints = []
    for i, ep in enumerate(raw_endpoints or []):
        path = f"endpoints[{i}]"
        addresses = ep.get("addresses") if isinstance(ep, Mapping) else None
        conditions = (ep.get("conditions") or {}) if isinstance(ep, Mapping) else None
        if not isinstance(ep, Mapping) or not isinstance(addresses, list) or \
                not all(isinstance(a, str) for a in addresses) or not isinstance(conditions, Mapping):
            fields.error(path, "must be an object with addresses (a list of strings) and conditions (an object)",
                         "this endpoint is left out")
            continue
        target = ep.get("targetRef") or {}
        target_pod = None
        if isinstance(target, Mapping) and target.get("kind") == "Pod" and isinstance(target.get("name"), str):
            target_ns = target.get("namespace") if isinstance(target.get("namespace"), str) else namespace
            target_pod = f"{target_ns}/{target['name']}"
        endpoints.append(Endpoint(
            addresses=tuple(addresses), ready=conditions.get("ready"), serving=conditions.get("serving"),
            terminating=conditions.get("terminating"),
            hostname=ep.get("hostname") if isinstance(ep.get("hostname"), str) else None,
            node_name=ep.get("nodeName") if isinstance(ep.get("nodeName"), str) else None, target_pod=target_pod))
    ports = []
    raw_ports = obj.get("ports")
    if raw_ports is not None and not isinstance(raw_ports, list):
        fields.error("ports", "must be a list", "the slice's ports are left out")
        raw_ports = []
    for i, port in enumerate(raw_ports or []):
        if not isinstance(port, Mapping):
            fields.error(f"ports[{i}]", "must be an object", "this port is left out")
            continue
        number, protocol, name = port.get("port"), port.get("protocol") or "TCP", port.get("name") or None
        if number is None:
            continue  # no port: "all ports" of a selector-less Service; nothing to map
        if not _port_number(number) or protocol not in ("TCP", "UDP", "SCTP") or \
                (name is not None and not isinstance(name, str)):
            fields.error(f"ports[{i}]", f"{dict(port)!r} has an invalid port, protocol or name",
                         "this port is left out")
            continue
        ports.append(ServicePort(number, protocol, name))
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    service = labels.get("kubernetes.io/service-name")
    return EndpointSlice(namespace=namespace, name=meta["name"],
                         service=service if isinstance(service, str) else None,
                         address_type=obj.get("addressType") if isinstance(obj.get("addressType"), str) else "IPv4",
                         endpoints=tuple(endpoints), ports=tuple(ports), source=where)
