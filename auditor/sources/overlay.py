"""What-if: a ClusterState with manifests applied (`--with`) and objects removed (`--without`), as `kubectl apply`
and `kubectl delete` would leave it, so a reviewer sees what a change opens or closes before it ships.

Objects are matched by kind, namespace and name. A workload manifest for a workload that already has pods (live
or snapshot) updates those pods' labels, service account and ports from the new template and keeps their IPs;
a new workload gets its representative pod.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from ..model import ClusterState
from .documents import ManifestDocuments, ManifestError, manifest_files, read_file
from .manifests import build_state


class OverlayError(ValueError):
    pass


def _ref_key(kind: str, namespace: str | None, name: str) -> tuple:
    return (kind.lower(), namespace or "", name)


def parse_removal(text: str) -> tuple:
    """KIND/NAMESPACE/NAME or KIND/NAME (cluster-scoped): e.g. NetworkPolicy/shop-api/default-deny."""
    parts = text.split("/")
    if len(parts) == 3 and all(parts):
        return _ref_key(parts[0], parts[1], parts[2])
    if len(parts) == 2 and all(parts):
        return _ref_key(parts[0], None, parts[1])
    raise OverlayError(f"--without {text!r}: expected KIND/NAMESPACE/NAME (or KIND/NAME for cluster-scoped "
                       "objects), e.g. NetworkPolicy/shop-api/default-deny")


def apply_overlay(state: ClusterState, with_paths: list[str], without: list[str]) -> ClusterState:
    removals = {parse_removal(t) for t in without}
    collected = ManifestDocuments()
    for path in with_paths:
        files = manifest_files(path) if path != "-" else []
        if not files:
            raise ManifestError(f"--with {path}: no .yaml, .yml or .json files there")
        for file_path in files:
            read_file(file_path, collected)
    delta = build_state(collected.docs)
    out = copy.copy(state)
    out.alerts = list(state.alerts) + collected.alerts + delta.alerts
    out.unreadable = list(state.unreadable) + collected.unreadable  # policy documents of --with that did not parse
    out.origin = state.origin + " + " + ", ".join(with_paths) if with_paths else state.origin

    # Namespaces: declared ones replace; merely referenced ones only fill gaps.
    namespaces = {n: ns for n, ns in state.namespaces.items() if _ref_key("Namespace", None, n) not in removals}
    for name, ns in delta.namespaces.items():
        if ns.labels_known or name not in namespaces:
            namespaces[name] = ns
    out.namespaces = namespaces

    def kept(kind, namespace, name):
        return _ref_key(kind, namespace, name) not in removals

    new_policies = {(p.group, p.kind, p.namespace, p.name): p for p in delta.policies}
    out.policies = [p for p in state.policies if kept(p.kind, p.namespace, p.name)
                    and (p.group, p.kind, p.namespace, p.name) not in new_policies] + list(new_policies.values())
    new_services = {(s.namespace, s.name): s for s in delta.services}
    out.services = [s for s in state.services if kept("Service", s.namespace, s.name)
                    and (s.namespace, s.name) not in new_services] + list(new_services.values())
    out.service_accounts = list(state.service_accounts) + list(delta.service_accounts)
    out.endpoint_slices = list(state.endpoint_slices) + list(delta.endpoint_slices)
    if delta.corefile:
        out.corefile, out.corefile_source = delta.corefile, delta.corefile_source

    # Pods: a workload manifest updates the existing pods of that workload, or adds its representative.
    existing_by_workload: dict[str, list] = {}
    for pod in state.pods:
        existing_by_workload.setdefault(pod.workload_id, []).append(pod)
    pods = []
    replaced_workloads = set()
    delta_pods = {}
    for pod in delta.pods:
        if pod.representative and pod.workload_id in existing_by_workload:
            replaced_workloads.add(pod.workload_id)
            for old in existing_by_workload[pod.workload_id]:
                delta_pods[old.id] = replace(old, labels=dict(pod.labels), service_account=pod.service_account,
                                             container_ports=pod.container_ports, host_network=pod.host_network,
                                             uncertain_labels=pod.uncertain_labels,
                                             uncertain_ports=pod.uncertain_ports, opaque=pod.opaque,
                                             uncertain_identity=pod.uncertain_identity or old.uncertain_identity,
                                             unreadable=pod.unreadable)
        else:
            delta_pods[pod.id] = pod
    for pod in state.pods:
        kind, _, name = (pod.workload or f"Pod/{pod.name}").partition("/")
        if not kept(kind, pod.namespace, name) or not kept("Pod", pod.namespace, pod.name):
            continue
        pods.append(delta_pods.pop(pod.id, pod))
    pods.extend(delta_pods.values())
    out.pods = pods
    unknown = [t for t in without if parse_removal(t) not in _present_keys(state)]
    if unknown:
        raise OverlayError(f"--without {', '.join(unknown)}: no such object in the input")
    return out


def _present_keys(state: ClusterState) -> set:
    keys = {_ref_key("Namespace", None, n) for n in state.namespaces}
    keys |= {_ref_key(p.kind, p.namespace, p.name) for p in state.policies}
    keys |= {_ref_key("Service", s.namespace, s.name) for s in state.services}
    for pod in state.pods:
        keys.add(_ref_key("Pod", pod.namespace, pod.name))
        kind, _, name = (pod.workload or f"Pod/{pod.name}").partition("/")
        keys.add(_ref_key(kind, pod.namespace, name))
    return keys
