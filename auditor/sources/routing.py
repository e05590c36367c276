"""How traffic enters the cluster, as API objects -> model: Ingress, IngressClass and the Gateway API kinds.

Shared by every source that has API objects as dicts (manifests, live). Each function reads one object and returns
its model value, or raises `InvalidRouting` naming the field, so the caller can skip that object with a message and
keep the rest of the input. Only what the exposure analysis needs is kept: which controller or Gateway serves the
object, the listeners and route attachment rules, and the Service ports traffic is sent to.

API references: networking.k8s.io/v1 Ingress and IngressClass (kubernetes/api networking/v1/types.go; the older
extensions/v1beta1 and networking.k8s.io/v1beta1 Ingress use `serviceName`/`servicePort`), and Gateway API
(kubernetes-sigs/gateway-api apis/v1 gateway_types.go, httproute_types.go, shared_types.go; TLSRoute and TCPRoute
were v1alpha2 before v1.7.0).
"""

from __future__ import annotations

from typing import Mapping

from ..model import (
    BackendRef,
    Gateway,
    GatewayClass,
    GatewayListener,
    Ingress,
    IngressClass,
    ParentRef,
    ReferenceGrant,
    Route,
)

GATEWAY_GROUP = "gateway.networking.k8s.io"
INGRESS_KINDS = ("Ingress", "IngressClass")
INGRESS_API_VERSIONS = ("networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1")
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute")
GATEWAY_KINDS = ("Gateway", "GatewayClass", "ReferenceGrant") + ROUTE_KINDS
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


class InvalidRouting(ValueError):
    """An Ingress or Gateway API object that cannot be read; the message names the field."""


def is_routing_kind(api_version: str, kind: str) -> bool:
    if kind in INGRESS_KINDS:
        return api_version in INGRESS_API_VERSIONS
    return kind in GATEWAY_KINDS and api_version.split("/", 1)[0] == GATEWAY_GROUP


def add_routing_object(state, obj: Mapping, where: str, default_namespace: str = "default") -> None:
    """Read one routing object into its list in `state` (a ClusterState)."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or default_namespace
    name = meta.get("name")
    spec = obj.get("spec") if obj.get("spec") is not None else {}
    if not isinstance(spec, Mapping):
        raise InvalidRouting("spec must be an object")
    if kind == "Ingress":
        state.ingresses.append(_ingress(spec, meta, namespace, name, where))
    elif kind == "IngressClass":
        annotations = meta.get("annotations") or {}
        controller = spec.get("controller") or ""
        _string(controller, "spec.controller")
        state.ingress_classes.append(IngressClass(name, controller,
                                                  str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true",
                                                  where))
    elif kind == "GatewayClass":
        controller = spec.get("controllerName") or ""
        _string(controller, "spec.controllerName")
        state.gateway_classes.append(GatewayClass(name, controller, where))
    elif kind == "Gateway":
        state.gateways.append(_gateway(spec, namespace, name, where))
    elif kind == "ReferenceGrant":
        state.reference_grants.append(_reference_grant(spec, namespace, name, where))
    elif kind in ROUTE_KINDS:
        state.routes.append(_route(kind, spec, namespace, name, where))


def _string(value: object, field: str) -> None:
    if not isinstance(value, str):
        raise InvalidRouting(f"{field}: {value!r} must be a string")


def _list(value: object, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRouting(f"{field} must be a list")
    return value


def _object(value: object, field: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRouting(f"{field} must be an object")
    return value


def _port(value: object, field: str, names: bool) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidRouting(f"{field}: {value!r} is not a port")
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            raise InvalidRouting(f"{field}: {value} is not a port number from 1 to 65535")
        return value
    if isinstance(value, str) and value.isdigit():
        return _port(int(value), field, names)
    if isinstance(value, str) and value and names:
        return value
    raise InvalidRouting(f"{field}: {value!r} is not a port number" + (" or name" if names else ""))


# --- Ingress ------------------------------------------------------------------------------------------------------
def _ingress(spec: Mapping, meta: Mapping, namespace: str, name: str, where: str) -> Ingress:
    annotations = meta.get("annotations") or {}
    class_name = spec.get("ingressClassName")
    from_annotation = False
    if class_name is None and isinstance(annotations, Mapping) and annotations.get(CLASS_ANNOTATION):
        class_name, from_annotation = str(annotations[CLASS_ANNOTATION]), True
    if class_name is not None:
        _string(class_name, "spec.ingressClassName")
    backends = []
    default = spec.get("defaultBackend", spec.get("backend"))
    if default is not None:
        field = "spec.defaultBackend" if "defaultBackend" in spec else "spec.backend"
        backends.append(_ingress_backend(default, namespace, field))
    for i, rule in enumerate(_list(spec.get("rules"), "spec.rules")):
        rule = _object(rule, f"spec.rules[{i}]")
        http = _object(rule.get("http"), f"spec.rules[{i}].http")
        for j, path in enumerate(_list(http.get("paths"), f"spec.rules[{i}].http.paths")):
            path = _object(path, f"spec.rules[{i}].http.paths[{j}]")
            field = f"spec.rules[{i}].http.paths[{j}].backend"
            if path.get("backend") is None:
                raise InvalidRouting(f"{field} is required")
            backends.append(_ingress_backend(path["backend"], namespace, field))
    return Ingress(namespace, name, class_name, from_annotation, tuple(backends), where)


def _ingress_backend(raw: object, namespace: str, field: str) -> BackendRef:
    raw = _object(raw, field)
    if raw.get("resource") is not None:
        resource = _object(raw["resource"], f"{field}.resource")
        return BackendRef(namespace, str(resource.get("name") or ""), None, str(resource.get("kind") or ""),
                          str(resource.get("apiGroup") or ""), field)
    if raw.get("service") is not None:  # networking.k8s.io/v1
        service = _object(raw["service"], f"{field}.service")
        name = service.get("name")
        _string(name, f"{field}.service.name")
        port = _object(service.get("port"), f"{field}.service.port")
        if port.get("number") is not None:
            number = _port(port["number"], f"{field}.service.port.number", names=False)
        elif port.get("name") is not None:
            number = port["name"]
            _string(number, f"{field}.service.port.name")
        else:
            raise InvalidRouting(f"{field}.service.port: set number or name")
        return BackendRef(namespace, name, number, field=field)
    if raw.get("serviceName") is not None:  # extensions/v1beta1, networking.k8s.io/v1beta1
        _string(raw["serviceName"], f"{field}.serviceName")
        return BackendRef(namespace, raw["serviceName"], _port(raw.get("servicePort"), f"{field}.servicePort",
                                                               names=True), field=field)
    raise InvalidRouting(f"{field}: set service or resource")


# --- Gateway API --------------------------------------------------------------------------------------------------
def _gateway(spec: Mapping, namespace: str, name: str, where: str) -> Gateway:
    class_name = spec.get("gatewayClassName") or ""
    _string(class_name, "spec.gatewayClassName")
    listeners = []
    for i, raw in enumerate(_list(spec.get("listeners"), "spec.listeners")):
        field = f"spec.listeners[{i}]"
        raw = _object(raw, field)
        port = _port(raw.get("port"), f"{field}.port", names=False)
        if port is None:
            raise InvalidRouting(f"{field}.port is required")
        protocol = raw.get("protocol") or ""
        _string(protocol, f"{field}.protocol")
        allowed = _object(raw.get("allowedRoutes"), f"{field}.allowedRoutes")
        namespaces = _object(allowed.get("namespaces"), f"{field}.allowedRoutes.namespaces")
        routes_from = namespaces.get("from") or "Same"
        if routes_from not in ("Same", "All", "Selector"):
            raise InvalidRouting(f"{field}.allowedRoutes.namespaces.from: {routes_from!r} is not Same, All or "
                                 "Selector")
        selector = namespaces.get("selector")
        if selector is not None and not isinstance(selector, Mapping):
            raise InvalidRouting(f"{field}.allowedRoutes.namespaces.selector must be a label selector")
        kinds = []
        for j, kind in enumerate(_list(allowed.get("kinds"), f"{field}.allowedRoutes.kinds")):
            kind = _object(kind, f"{field}.allowedRoutes.kinds[{j}]")
            if (kind.get("group") or GATEWAY_GROUP) == GATEWAY_GROUP and kind.get("kind"):
                kinds.append(str(kind["kind"]))
        listeners.append(GatewayListener(str(raw.get("name") or f"listener-{i}"), port, protocol, routes_from,
                                         dict(selector) if selector is not None else None, tuple(kinds)))
    return Gateway(namespace, name, class_name, tuple(listeners), where)


def _route(kind: str, spec: Mapping, namespace: str, name: str, where: str) -> Route:
    parents = []
    for i, raw in enumerate(_list(spec.get("parentRefs"), "spec.parentRefs")):
        field = f"spec.parentRefs[{i}]"
        raw = _object(raw, field)
        parent_name = raw.get("name")
        _string(parent_name, f"{field}.name")
        section = raw.get("sectionName")
        if section is not None:
            _string(section, f"{field}.sectionName")
        port = _port(raw.get("port"), f"{field}.port", names=False)
        parents.append(ParentRef(str(raw.get("namespace") or namespace), parent_name, section, port,
                                 str(raw.get("kind") or "Gateway"), str(raw.get("group", GATEWAY_GROUP))))
    backends = []
    for i, rule in enumerate(_list(spec.get("rules"), "spec.rules")):
        rule = _object(rule, f"spec.rules[{i}]")
        for j, ref in enumerate(_list(rule.get("backendRefs"), f"spec.rules[{i}].backendRefs")):
            backends.append(_backend_ref(ref, namespace, f"spec.rules[{i}].backendRefs[{j}]"))
            if isinstance(ref, Mapping) and ref.get("weight") == 0:
                backends.pop()
        # A RequestMirror filter sends a copy of the traffic to its backend: the Gateway reaches that Service too.
        for j, flt in enumerate(_list(rule.get("filters"), f"spec.rules[{i}].filters")):
            flt = _object(flt, f"spec.rules[{i}].filters[{j}]")
            mirror = flt.get("requestMirror")
            if mirror is not None:
                mirror = _object(mirror, f"spec.rules[{i}].filters[{j}].requestMirror")
                if mirror.get("backendRef") is not None:
                    backends.append(_backend_ref(mirror["backendRef"], namespace,
                                                 f"spec.rules[{i}].filters[{j}].requestMirror.backendRef"))
    return Route(kind, namespace, name, tuple(parents), tuple(backends), where)


def _backend_ref(raw: object, namespace: str, field: str) -> BackendRef | None:
    """A backendRef, or None for weight 0 (no traffic is sent there: Gateway API BackendRef.weight)."""
    raw = _object(raw, field)
    name = raw.get("name")
    _string(name, f"{field}.name")
    return BackendRef(str(raw.get("namespace") or namespace), name, _port(raw.get("port"), f"{field}.port",
                                                                          names=False),
                      str(raw.get("kind") or "Service"), str(raw.get("group") or ""), field)


def _reference_grant(spec: Mapping, namespace: str, name: str, where: str) -> ReferenceGrant:
    grants_from = []
    for i, raw in enumerate(_list(spec.get("from"), "spec.from")):
        raw = _object(raw, f"spec.from[{i}]")
        grants_from.append((str(raw.get("group") or ""), str(raw.get("kind") or ""), str(raw.get("namespace") or "")))
    grants_to = []
    for i, raw in enumerate(_list(spec.get("to"), "spec.to")):
        raw = _object(raw, f"spec.to[{i}]")
        grants_to.append((str(raw.get("group") or ""), str(raw.get("kind") or ""),
                          str(raw["name"]) if raw.get("name") else None))
    return ReferenceGrant(namespace, name, tuple(grants_from), tuple(grants_to), where)
