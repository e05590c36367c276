"""ClusterState: the normalized, read-only picture of a cluster that every source produces.

Sources (live API, manifests, snapshot) know the Kubernetes API; everything after this module works on these plain
dataclasses only. Policy objects are kept in their API form (`PolicyObject.spec` is the object's spec as a plain
dict) because translating them is the policy layer's job, and keeping them raw makes the snapshot exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# Label syntax (apimachinery validation): what every source checks before an object enters the model.
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")



def validate_label_key(key: object) -> str | None:
    """Why `key` is not a valid label key (apimachinery IsQualifiedName), or None."""
    if not isinstance(key, str) or not key:
        return "a label key must be a non-empty string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return f"label key {key!r} has an empty prefix"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key prefix {prefix!r} must be a DNS subdomain"
    if not name or len(name) > 63 or not _NAME.match(name):
        return (f"label key {key!r}: the name part must be 1-63 characters of letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    return None


def validate_label_value(value: object) -> str | None:
    if not isinstance(value, str):
        hint = f" (quote it: '{value}')" if isinstance(value, (int, float, bool)) else ""
        return f"label value {value!r} must be a string{hint}"
    if value and (len(value) > 63 or not _NAME.match(value)):
        return (f"label value {value!r} must be at most 63 characters of letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    return None


@dataclass(frozen=True)
class ObjectRef:
    """Where an object came from, for messages: kind, namespace, name and the file (or `live`) it was read from."""

    kind: str
    name: str
    namespace: str | None = None
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def located(self) -> str:
        return f"{self.source}: {self}" if self.source else str(self)


@dataclass(frozen=True)
class Alert:
    """A warning or error found while reading or analysing: a value, collected and reported, never printed."""

    code: str
    message: str
    object: str = ""
    severity: str = "warning"  # "warning" | "error": an error means some input was not read (it was skipped);
    # "info": a fact worth saying, not a problem (the Gateway API CRDs are not installed)
    source: str = ""  # "path:line" of what it is about, when known

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "object": self.object, "severity": self.severity}


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    labels_known: bool = True  # False when only referenced (no Namespace object read): only the name label is sure


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None
    init_container: bool = False  # declared by an initContainer (Calico reads those from v3.30.0)


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ips: tuple[str, ...] = ()
    service_account: str = "default"
    host_network: bool = False
    node_name: str | None = None
    workload: str = ""  # "Deployment/web", "ReplicaSet/web-7d77fb55cc", "Pod/name"
    container_ports: tuple[ContainerPort, ...] = ()
    phase: str | None = None
    ready: bool | None = None
    hostname: str | None = None
    subdomain: str | None = None
    dns_policy: str = "ClusterFirst"
    representative: bool = False  # created from a workload manifest, not a real Pod
    source: str = ""
    # What of the pod could not be read (each one is also an error alert), and what becomes unknown because of it:
    uncertain_labels: tuple[str, ...] = ()  # label keys whose values are unknown ("*": every label)
    uncertain_ports: tuple[tuple[str | None, str | None, int | None], ...] = ()  # container ports read in part:
    #   (name, protocol, number), None where unknown; rules naming a port may or may not match them
    uncertain_identity: bool = False  # its IPs or service account are unknown: what ipBlocks and Calico read
    opaque: bool = False  # hostNetwork or the whole spec is unknown: any policy may or may not select it
    unreadable: tuple[str, ...] = ()  # "field: problem", for the reasons of unknown verdicts

    @property
    def uncertain(self) -> bool:
        return bool(self.uncertain_labels or self.uncertain_ports or self.uncertain_identity or self.opaque)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def workload_id(self) -> str:
        return f"{self.namespace}/{self.workload or 'Pod/' + self.name}"


@dataclass(frozen=True)
class ServicePort:
    port: int
    protocol: str = "TCP"
    name: str | None = None
    target_port: int | str | None = None
    node_port: int | None = None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str = "ClusterIP"
    selector: Mapping[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ips: tuple[str, ...] = ()
    headless: bool = False
    external_name: str | None = None
    external_traffic_policy: str | None = None
    publish_not_ready_addresses: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    load_balancer_source_ranges: tuple[str, ...] = ()  # CIDRs the cloud load balancer admits (empty: all)
    external_ips: tuple[str, ...] = ()  # spec.externalIPs: node-routed addresses kube-proxy also answers on

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def externally_reachable(self) -> bool:
        """Reachable from outside the cluster through kube-proxy: a NodePort, a load balancer or externalIPs."""
        return self.type in ("NodePort", "LoadBalancer") or bool(self.external_ips)


@dataclass(frozen=True)
class Endpoint:
    addresses: tuple[str, ...]
    ready: bool | None = True
    serving: bool | None = None
    terminating: bool | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_pod: str | None = None  # "namespace/name" from targetRef


@dataclass(frozen=True)
class EndpointSlice:
    namespace: str
    name: str
    service: str | None  # kubernetes.io/service-name label
    address_type: str = "IPv4"
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[ServicePort, ...] = ()  # port = the endpoint port (target), name = the Service port name
    source: str = ""


# --- how traffic enters the cluster: Ingress and Gateway API ---------------------------------------------------------
@dataclass(frozen=True)
class BackendRef:
    """Where an Ingress path or a route sends traffic: a Service port, given by number or by name.

    `kind`/`group` other than a core Service (Gateway API allows any backend kind) are kept so they can be reported,
    but only Services are followed to pods.
    """

    namespace: str
    name: str
    port: int | str | None = None  # the Service port (number, or name for Ingress); None when not given
    kind: str = "Service"
    group: str = ""
    field: str = ""  # where it was written, e.g. "spec.rules[0].http.paths[1].backend"

    @property
    def is_service(self) -> bool:
        return self.kind == "Service" and self.group in ("", "core")


@dataclass(frozen=True)
class Ingress:
    """networking.k8s.io/v1 Ingress: which controller serves it (by class) and the Service ports it sends to."""

    namespace: str
    name: str
    class_name: str | None = None  # spec.ingressClassName, or the legacy kubernetes.io/ingress.class annotation
    class_from_annotation: bool = False
    backends: tuple[BackendRef, ...] = ()
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class IngressClass:
    name: str
    controller: str = ""  # spec.controller, e.g. "k8s.io/ingress-nginx"
    is_default: bool = False  # annotation ingressclass.kubernetes.io/is-default-class: "true"
    source: str = ""


@dataclass(frozen=True)
class GatewayListener:
    name: str
    port: int
    protocol: str  # HTTP, HTTPS, TLS, TCP, UDP, ...
    routes_from: str = "Same"  # allowedRoutes.namespaces.from: Same | All | Selector
    routes_selector: Mapping | None = None  # allowedRoutes.namespaces.selector (a LabelSelector as written)
    route_kinds: tuple[str, ...] = ()  # allowedRoutes.kinds; empty: the kinds the protocol admits


@dataclass(frozen=True)
class Gateway:
    namespace: str
    name: str
    class_name: str = ""
    listeners: tuple[GatewayListener, ...] = ()
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class GatewayClass:
    name: str
    controller: str = ""  # spec.controllerName
    source: str = ""


@dataclass(frozen=True)
class ParentRef:
    """A route's spec.parentRefs[] entry (namespace defaulted to the route's)."""

    namespace: str
    name: str
    section_name: str | None = None
    port: int | None = None
    kind: str = "Gateway"
    group: str = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class Route:
    """An HTTPRoute, GRPCRoute, TLSRoute or TCPRoute: the Gateways it attaches to and its backends."""

    kind: str
    namespace: str
    name: str
    parents: tuple[ParentRef, ...] = ()
    backends: tuple[BackendRef, ...] = ()
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ReferenceGrant:
    """gateway.networking.k8s.io ReferenceGrant: lets routes of other namespaces reference objects in this one."""

    namespace: str
    name: str
    grants_from: tuple[tuple[str, str, str], ...] = ()  # (group, kind, namespace)
    grants_to: tuple[tuple[str, str, str | None], ...] = ()  # (group, kind, name or None = any)
    source: str = ""


@dataclass(frozen=True)
class PolicyObject:
    """A policy object of any API (Kubernetes, Calico, AdminNetworkPolicy), as written: translated later."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    spec: Mapping
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace, self.source)

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""


@dataclass(frozen=True)
class Unreadable:
    """A resource the source could not read (RBAC, missing API): the verdicts it could change become unknown."""

    resource: str  # e.g. "networkpolicies.networking.k8s.io"
    namespace: str | None  # None = cluster-wide
    reason: str


@dataclass
class ClusterState:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    endpoint_slices: list[EndpointSlice] = field(default_factory=list)
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    policies: list[PolicyObject] = field(default_factory=list)
    ingresses: list[Ingress] = field(default_factory=list)
    ingress_classes: list[IngressClass] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    gateway_classes: list[GatewayClass] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    reference_grants: list[ReferenceGrant] = field(default_factory=list)
    corefile: str | None = None
    corefile_source: str | None = None
    calico_version: str | None = None
    unreadable: list[Unreadable] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    origin: str = ""  # "manifests: examples/shop", "live: context kind-kind", "snapshot: file.json"

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        ns = self.namespaces.get(name)
        return ns.labels if ns else {NAMESPACE_NAME_LABEL: name}

    def namespace_labels_known(self, name: str) -> bool:
        ns = self.namespaces.get(name)
        return ns.labels_known if ns else False
