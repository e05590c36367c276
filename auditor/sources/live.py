"""Live source: read a cluster through the official `kubernetes` client, read-only, into a ClusterState.

Every resource is listed the same way: a GET on its collection path with `limit`/`continue` paging, the raw JSON
body (`_preload_content=False`: the client's model classes cost 5x more on large lists, DESIGN.md), bounded retries
with backoff on 429/5xx/connection errors, a fresh list when a continue token expires (410), and a per-request
timeout. What cannot be read is recorded, not fatal: a 403 becomes an `Unreadable` entry (the verdicts it could
change turn unknown) and a warning naming the permission; a 404 on an optional API (Calico, AdminNetworkPolicy)
just means that component is not installed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from ..model import Alert, ClusterState, Unreadable
from .manifests import CORE_DNS_CONFIGMAP, build_state

PAGE_SIZE = 500
REQUEST_TIMEOUT = (10, 60)  # connect, read (seconds)
MAX_ATTEMPTS = 5
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    optional: bool = False  # an add-on API: absent is normal
    component: str = ""  # what provides it, for messages

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/{self.plural}"

    def path_in(self, namespace: str) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/namespaces/{namespace}/{self.plural}"

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


CORE_RESOURCES = (
    Resource("", "v1", "namespaces", "Namespace", namespaced=False),
    Resource("", "v1", "pods", "Pod"),
    Resource("", "v1", "services", "Service"),
    Resource("", "v1", "serviceaccounts", "ServiceAccount"),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    Resource("apps", "v1", "replicasets", "ReplicaSet"),
    Resource("batch", "v1", "jobs", "Job"),
)
CALICO = "Calico (crd.projectcalico.org CRDs)"
CALICO_RESOURCES = tuple(
    Resource("crd.projectcalico.org", "v1", plural, kind, namespaced, optional=True, component=CALICO)
    for plural, kind, namespaced in (
        ("networkpolicies", "NetworkPolicy", True),
        ("globalnetworkpolicies", "GlobalNetworkPolicy", False),
        ("networksets", "NetworkSet", True),
        ("globalnetworksets", "GlobalNetworkSet", False),
        ("tiers", "Tier", False),
        ("stagednetworkpolicies", "StagedNetworkPolicy", True),
        ("stagedglobalnetworkpolicies", "StagedGlobalNetworkPolicy", False),
        ("stagedkubernetesnetworkpolicies", "StagedKubernetesNetworkPolicy", True),
        ("hostendpoints", "HostEndpoint", False),
    ))
CLUSTER_INFORMATION = Resource("crd.projectcalico.org", "v1", "clusterinformations", "ClusterInformation",
                               namespaced=False, optional=True, component=CALICO)
ANP = "the AdminNetworkPolicy CRDs (kubernetes-sigs/network-policy-api)"
ADMIN_RESOURCES = (
    Resource("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy", False, True, ANP),
    Resource("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy",
             False, True, ANP),
    Resource("policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies", "ClusterNetworkPolicy", False, True,
             "the ClusterNetworkPolicy CRD (network-policy-api v1alpha2)"),
)
INGRESS_RESOURCES = (
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress"),
    Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
)
ALL_RESOURCES = CORE_RESOURCES + CALICO_RESOURCES + (CLUSTER_INFORMATION,) + ADMIN_RESOURCES + INGRESS_RESOURCES

# Gateway API: CRDs that may be missing, and whose kinds moved between versions (TLSRoute and TCPRoute were
# v1alpha2 until v1.7.0; GRPCRoute has been v1 since v1.1). Each kind is listed at the first version the server
# serves, in this order of preference.
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API = "the Gateway API CRDs (gateway.networking.k8s.io)"
GATEWAY_VERSIONS = ("v1", "v1beta1", "v1alpha3", "v1alpha2")
GATEWAY_KINDS = (
    ("gatewayclasses", "GatewayClass", False),
    ("gateways", "Gateway", True),
    ("httproutes", "HTTPRoute", True),
    ("grpcroutes", "GRPCRoute", True),
    ("tlsroutes", "TLSRoute", True),
    ("tcproutes", "TCPRoute", True),
    ("referencegrants", "ReferenceGrant", True),
)


def raw_request(client, method: str, path: str, body: dict) -> tuple[int, str]:
    """One write (the snapshot store's ConfigMap) through the official client; returns (status, body text)."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if hasattr(client, "param_serialize"):
        method_, url, header_params, payload, post_params = client.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"])
        response = client.call_api(method_, url, header_params=header_params, body=payload, post_params=post_params,
                                   _request_timeout=REQUEST_TIMEOUT)
        return response.status, (response.read() or b"").decode("utf-8", "replace")
    from kubernetes.client.exceptions import ApiException
    try:
        response = client.call_api(path, method, header_params=headers, body=body, auth_settings=["BearerToken"],
                                   _preload_content=False, _request_timeout=REQUEST_TIMEOUT,
                                   _return_http_data_only=True)
        return response.status, response.data.decode("utf-8", "replace")
    except ApiException as err:
        return err.status, str(err.body or "")


class LiveSourceError(Exception):
    """The cluster cannot be read at all (bad kubeconfig, unreachable, unauthorized): exit code 2.

    `no_cluster`: there is no cluster to talk to at all (no kubeconfig, no in-cluster account), so the command
    may add how to do without one (each command knows what it accepts instead)."""

    def __init__(self, message: str, *, no_cluster: bool = False):
        super().__init__(message)
        self.no_cluster = no_cluster


class Forbidden(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class NotFound(Exception):
    pass


class Expired(Exception):
    pass


def _raw_get(client, path: str, query: list[tuple[str, str]]) -> tuple[int, str, dict, bytes]:
    """One GET through the official client, returning the raw status and body (no model classes).

    kubernetes >= 32 generates `param_serialize` + `call_api(method, url)`; older releases take the path and
    query in `call_api` and raise ApiException themselves. Both are supported.
    """
    headers = {"Accept": "application/json"}
    if hasattr(client, "param_serialize"):
        method, url, header_params, body, post_params = client.param_serialize(
            "GET", path, query_params=query, header_params=headers, auth_settings=["BearerToken"])
        response = client.call_api(method, url, header_params=header_params, body=body, post_params=post_params,
                                   _request_timeout=REQUEST_TIMEOUT)
        data = response.read()
        return response.status, str(response.reason or ""), dict(response.headers or {}), data
    from kubernetes.client.exceptions import ApiException
    try:
        response = client.call_api(path, "GET", query_params=query, header_params=headers,
                                   auth_settings=["BearerToken"], _preload_content=False,
                                   _request_timeout=REQUEST_TIMEOUT, _return_http_data_only=True)
        return response.status, str(response.reason or ""), dict(response.headers or {}), response.data
    except ApiException as err:
        return err.status, str(err.reason or ""), dict(err.headers or {}), (err.body or b"")


def api_client(kubeconfig: str | None = None, context: str | None = None):
    """An ApiClient from a kubeconfig (as kubectl finds it), or the in-cluster service account inside a Pod.

    The kubeconfig is checked first (`check_kubeconfig`), so that every way it can be unusable is one sentence
    that names the file and what is wrong in it, never the client library's traceback."""
    from kubernetes import client, config

    from_env = os.environ.get("KUBECONFIG")
    if kubeconfig and kubeconfig == from_env:
        kubeconfig = None  # the CLI fills --kubeconfig from KUBECONFIG: read it as kubectl reads that variable
    paths = kubeconfig or from_env or os.path.expanduser("~/.kube/config")
    # --kubeconfig names one file, which must exist; KUBECONFIG lists files, and those that are missing are
    # skipped (as kubectl does).
    files = [kubeconfig] if kubeconfig else [p for p in paths.split(os.pathsep) if p]
    if kubeconfig and not os.path.exists(kubeconfig):
        raise LiveSourceError(f"--kubeconfig {kubeconfig}: no such file")
    existing = [p for p in files if os.path.exists(p)]
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not context:
            try:
                config.load_incluster_config()
            except Exception as err:  # the client raises ConfigException, OSError, ...: one line, whatever it is
                raise LiveSourceError(f"cannot use the in-cluster service account: {err}") from None
            return client.ApiClient()
        where = f"KUBECONFIG={paths}" if from_env else paths
        raise LiveSourceError(f"no kubeconfig at {where}, and not running in a cluster: pass --kubeconfig FILE",
                              no_cluster=True)
    check_kubeconfig(existing, context)
    try:
        # KUBECONFIG may list several files, as for kubectl; the client merges them itself.
        return config.new_client_from_config(config_file=os.pathsep.join(existing), context=context)
    except Exception as err:  # a kubeconfig the checks above let through but the client refuses: still one line
        raise LiveSourceError(f"cannot use kubeconfig {', '.join(existing)}: {_short(err)}") from None


def check_kubeconfig(files: list[str], context: str | None) -> None:
    """Raise LiveSourceError, naming the file and the entry, when the kubeconfig cannot give a cluster to talk to.

    Files are merged as kubectl merges KUBECONFIG (k8s.io/client-go/tools/clientcmd, loader.go): the first file
    that sets current-context, or defines a context, cluster or user of a given name, wins.
    """
    import yaml

    merged: dict[str, dict[str, tuple[dict, str]]] = {"contexts": {}, "clusters": {}, "users": {}}
    current: tuple[str, str] | None = None
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                doc = yaml.safe_load(handle)
        except OSError as err:
            raise LiveSourceError(f"cannot read kubeconfig {path}: {err.strerror or err}") from None
        except UnicodeDecodeError:
            raise LiveSourceError(f"kubeconfig {path} is not text (UTF-8)") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise LiveSourceError(f"kubeconfig {path} is not valid YAML{at}: {problem}") from None
        if doc is None:
            continue  # an empty file adds nothing, as for kubectl
        if not isinstance(doc, dict):
            raise LiveSourceError(f"kubeconfig {path} is not a kubeconfig: expected a map with clusters, users "
                                  f"and contexts, found a {type(doc).__name__}")
        for section, inner in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            entries = doc.get(section)
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise LiveSourceError(f"kubeconfig {path}: {section} must be a list of {{name, {inner}}}")
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or \
                        not isinstance(entry.get(inner) or {}, dict):
                    raise LiveSourceError(f"kubeconfig {path}: {section}[{i}] must be {{name: ..., {inner}: {{...}}}}")
                merged[section].setdefault(entry["name"], (entry.get(inner) or {}, path))
        value = doc.get("current-context")
        if current is None and isinstance(value, str) and value:
            current = (value, path)
    names = ", ".join(sorted(merged["contexts"])) or "none"
    shown = ", ".join(files)
    if context is None:
        if current is None:
            if not merged["contexts"]:
                raise LiveSourceError(f"kubeconfig {shown} defines no context (kubectl config get-contexts lists "
                                      "none): add one, or pass another --kubeconfig")
            raise LiveSourceError(f"kubeconfig {shown} sets no current-context: pass --context NAME (contexts: "
                                  f"{names})")
        context, where = current
        if context not in merged["contexts"]:
            raise LiveSourceError(f"kubeconfig {where}: current-context {context!r} is not defined (contexts: "
                                  f"{names}): pass --context NAME")
    elif context not in merged["contexts"]:
        raise LiveSourceError(f"context {context!r} is not in kubeconfig {shown} (contexts: {names})")
    entry, where = merged["contexts"][context]
    cluster_name = entry.get("cluster")
    if not isinstance(cluster_name, str) or not cluster_name:
        raise LiveSourceError(f"kubeconfig {where}: context {context!r} names no cluster")
    if cluster_name not in merged["clusters"]:
        raise LiveSourceError(f"kubeconfig {where}: context {context!r} uses cluster {cluster_name!r}, which is not "
                              f"defined (clusters: {', '.join(sorted(merged['clusters'])) or 'none'})")
    cluster, cluster_file = merged["clusters"][cluster_name]
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise LiveSourceError(f"kubeconfig {cluster_file}: cluster {cluster_name!r} has no server URL "
                              f"(https://...){'' if server is None else f', found {server!r}'}")
    user_name = entry.get("user")
    if user_name not in (None, "") and (not isinstance(user_name, str) or user_name not in merged["users"]):
        raise LiveSourceError(f"kubeconfig {where}: context {context!r} uses user {user_name!r}, which is not "
                              f"defined (users: {', '.join(sorted(merged['users'])) or 'none'})")


class Reader:
    """GETs with retries, paging and timeouts on one ApiClient; no writes, ever."""

    def __init__(self, client, *, sleep: Callable[[float], None] = time.sleep, page_size: int = PAGE_SIZE,
                 progress: Callable[[str], None] | None = None):
        self.client = client
        self.sleep = sleep
        self.page_size = page_size
        self.progress = progress

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> dict:
        from urllib3.exceptions import HTTPError

        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                status, reason, headers, body = _raw_get(self.client, path, query or [])
            except (HTTPError, OSError) as err:
                if attempt < MAX_ATTEMPTS:
                    self.sleep(delay)
                    delay = min(delay * 2, 8.0)
                    continue
                raise LiveSourceError(f"cannot reach the API server at {self.client.configuration.host}: "
                                      f"{_short(err)}") from None
            if 200 <= status < 300:
                return json.loads(body)
            message = _api_message(body, reason)
            if status == 401:
                raise LiveSourceError(f"the API server rejected our credentials (401 Unauthorized) for GET {path}: "
                                      "check the kubeconfig user") from None
            if status == 403:
                raise Forbidden(403, message)
            if status == 404:
                raise NotFound(path)
            if status == 410:
                raise Expired(message)  # an expired continue token: the caller starts the list again
            if status in RETRY_STATUS and attempt < MAX_ATTEMPTS:
                retry_after = _retry_after(headers)
                self.sleep(retry_after if retry_after is not None else delay)
                delay = min(delay * 2, 8.0)
                continue
            raise LiveSourceError(f"GET {path} failed: {status} {reason}: {message}")
        raise AssertionError("unreachable")

    def list(self, resource: Resource, namespace: str | None = None) -> Iterator[dict]:
        """Every object of a resource (in one namespace, if given), page by page; restarts if the continue token
        expires."""
        path = resource.path_in(namespace) if namespace else resource.path
        for restart in range(3):
            token = None
            items: list[dict] = []
            try:
                while True:
                    query = [("limit", str(self.page_size))]
                    if token:
                        query.append(("continue", token))
                    body = self.get(path, query)
                    for item in body.get("items") or []:
                        item.setdefault("apiVersion", resource.api_version)
                        item.setdefault("kind", resource.kind)
                        items.append(item)
                    if self.progress and len(items) >= self.page_size:
                        self.progress(f"{resource.name}: {len(items)}")
                    token = (body.get("metadata") or {}).get("continue")
                    if not token:
                        return iter(items)
            except Expired:
                if restart < 2:
                    continue  # "continue token expired": list again from the start, as kubectl does
                break
        raise LiveSourceError(f"listing {resource.name} kept expiring; the cluster changes too fast to page")


def load_live(*, kubeconfig: str | None = None, context: str | None = None, progress: bool = False,
              coredns: tuple[str, str] = CORE_DNS_CONFIGMAP, client=None, page_size: int = PAGE_SIZE,
              namespaces: tuple[str, ...] = ()) -> ClusterState:
    """Read the cluster. `namespaces` are the ones the user asked to see (-n): when a cluster-wide list is
    forbidden (a namespace-scoped user), those namespaces are listed one by one instead, as kubectl -n would."""
    client = client or api_client(kubeconfig, context)
    report = _progress_printer() if progress else None
    reader = Reader(client, page_size=page_size, progress=report)
    host = client.configuration.host
    try:
        reader.get("/version")
    except Forbidden:
        pass  # some clusters hide /version; the lists below still tell whether we can read
    except NotFound:
        pass
    docs: list[tuple[dict, str]] = []
    unreadable: list[Unreadable] = []
    alerts: list[Alert] = []
    calico_present = False
    for resource in ALL_RESOURCES:
        if report:
            report(f"reading {resource.name}")
        try:
            for item in reader.list(resource):
                if resource is CLUSTER_INFORMATION:
                    continue
                docs.append((item, f"live:{resource.name}"))
            if resource.group == "crd.projectcalico.org":
                calico_present = True
        except NotFound:
            if not resource.optional:
                unreadable.append(Unreadable(resource.name, None, "the API server does not serve it (404)"))
                alerts.append(Alert("resource-missing", f"the API server does not serve {resource.name}: the "
                                    "verdicts that depend on it are unknown", resource.name))
        except Forbidden as err:
            if resource.namespaced and namespaces:
                read, denied = _list_per_namespace(reader, resource, namespaces, docs)
                for ns in denied:
                    unreadable.append(Unreadable(resource.name, ns, "forbidden"))
                    alerts.append(Alert("forbidden", f"cannot list {resource.name} in namespace {ns} (403): the "
                                        "verdicts that depend on it are unknown", f"{resource.name} {ns}"))
                if read:
                    alerts.append(Alert("partial-read", f"{resource.name}: listing across namespaces is forbidden; "
                                        f"read only {', '.join(read)}: other namespaces' objects are not shown",
                                        resource.name))
                continue
            unreadable.append(Unreadable(resource.name, None, f"forbidden: {err}"))
            alerts.append(Alert("forbidden", f"cannot list {resource.name} (403 Forbidden): grant "
                                f"`list` on {resource.name} (see deploy/rbac.yaml); the verdicts that depend on it "
                                "are unknown", resource.name))
    _read_gateway_api(reader, docs, unreadable, alerts, namespaces, report)
    calico_version = None
    if calico_present:
        try:
            info = reader.get("/apis/crd.projectcalico.org/v1/clusterinformations/default")
            calico_version = (info.get("spec") or {}).get("calicoVersion")
        except (NotFound, Forbidden):
            pass
    corefile_doc = None
    try:
        corefile_doc = reader.get(f"/api/v1/namespaces/{coredns[0]}/configmaps/{coredns[1]}")
        corefile_doc.setdefault("apiVersion", "v1")
        corefile_doc.setdefault("kind", "ConfigMap")
        docs.append((corefile_doc, "live:configmaps"))
    except NotFound:
        alerts.append(Alert("coredns-missing", f"no ConfigMap {coredns[0]}/{coredns[1]}: DNS checks use defaults",
                            f"ConfigMap {coredns[0]}/{coredns[1]}"))
    except Forbidden:
        alerts.append(Alert("forbidden", f"cannot get ConfigMap {coredns[0]}/{coredns[1]} (403): grant `get` on it "
                            "(see deploy/rbac.yaml); DNS checks use defaults", f"ConfigMap {coredns[0]}/{coredns[1]}"))
    if report:
        report("")
    state = build_state(docs, coredns=coredns, representatives=False)
    state.unreadable.extend(unreadable)
    state.alerts[:0] = alerts
    state.calico_version = calico_version
    state.origin = f"live: {host}" + (f" (context {context})" if context else "")
    return state


def gateway_resources(reader: Reader) -> tuple[list[Resource], list[str]] | None:
    """The Gateway API kinds this server serves, each at its preferred version, and the kinds it lacks;
    None when the group is not served at all (the CRDs are not installed)."""
    try:
        group = reader.get(f"/apis/{GATEWAY_GROUP}")
    except NotFound:
        return None
    except Forbidden:
        group = {}  # discovery is normally open to every user; without it, try every version
    served = [v.get("version") for v in group.get("versions") or [] if isinstance(v, dict)] or list(GATEWAY_VERSIONS)
    plurals_by_version: dict[str, set[str] | None] = {}
    for version in GATEWAY_VERSIONS:
        if version not in served:
            continue
        try:
            body = reader.get(f"/apis/{GATEWAY_GROUP}/{version}")
            plurals_by_version[version] = {r.get("name") for r in body.get("resources") or [] if isinstance(r, dict)}
        except NotFound:
            continue
        except Forbidden:
            plurals_by_version[version] = None  # unknown: list it and let the list say
    found, missing = [], []
    for plural, kind, namespaced in GATEWAY_KINDS:
        version = next((v for v, plurals in plurals_by_version.items() if plurals is None or plural in plurals), None)
        if version is None:
            missing.append(kind)
            continue
        found.append(Resource(GATEWAY_GROUP, version, plural, kind, namespaced, optional=True, component=GATEWAY_API))
    return found, missing


def _read_gateway_api(reader: Reader, docs: list, unreadable: list, alerts: list, namespaces, report) -> None:
    """List the Gateway API kinds that are installed. Missing CRDs are said once, as a note: many clusters have
    none, and then no Gateway route exposes anything. A forbidden list makes the exposure verdicts that depend on
    it unknown (the resource is recorded as unreadable)."""
    resources = gateway_resources(reader)
    if resources is None:
        alerts.append(Alert("gateway-api-missing", f"the API server does not serve {GATEWAY_GROUP}: no Gateway API "
                            "CRDs are installed, so no Gateway or route was read", GATEWAY_GROUP, "info"))
        return
    found, missing = resources
    if missing:
        alerts.append(Alert("gateway-api-missing", f"{GATEWAY_GROUP} does not serve {', '.join(missing)} (CRDs not "
                            "installed): none were read", GATEWAY_GROUP, "info"))
    for resource in found:
        if report:
            report(f"reading {resource.name}")
        try:
            for item in reader.list(resource):
                docs.append((item, f"live:{resource.name}"))
        except NotFound:
            continue
        except Forbidden as err:
            if namespaces and resource.namespaced:
                read, denied = _list_per_namespace(reader, resource, namespaces, docs)
                for ns in denied:
                    unreadable.append(Unreadable(resource.name, ns, "forbidden"))
                if not denied:
                    continue
            else:
                unreadable.append(Unreadable(resource.name, None, f"forbidden: {err}"))
            alerts.append(Alert("forbidden", f"cannot list {resource.name} (403 Forbidden): grant `list` on "
                                f"{resource.name} (see deploy/rbac.yaml); exposure through Gateways is unknown",
                                resource.name))


def _list_per_namespace(reader: Reader, resource: Resource, namespaces, docs: list) -> tuple[list[str], list[str]]:
    read, denied = [], []
    for ns in namespaces:
        try:
            for item in reader.list(resource, ns):
                docs.append((item, f"live:{resource.name}"))
            read.append(ns)
        except Forbidden:
            denied.append(ns)
        except NotFound:
            read.append(ns)  # a namespace that does not exist: nothing to read
    return read, denied


def _progress_printer() -> Callable[[str], None]:
    def report(text: str) -> None:
        sys.stderr.write("\r\033[K" + (f"netaudit: {text}" if text else ""))
        sys.stderr.flush()
    return report


def _api_message(body: bytes | str, reason: str) -> str:
    try:
        return json.loads(body).get("message") or reason
    except (TypeError, ValueError, AttributeError):
        return reason


def _retry_after(headers: dict) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return min(float(value), 30.0) if value is not None else None
    except ValueError:
        return None


def _short(err: Exception) -> str:
    text = str(err)
    reason = getattr(err, "reason", None)
    if reason is not None:
        text = str(reason)
    return text.splitlines()[0][:300]
