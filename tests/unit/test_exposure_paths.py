"""External paths (auditor/engine/paths.py): how the controller of an Ingress is found, what is not modelled is
unknown, and what the live source reads. Answers come from the Ingress and Gateway API documents and the
manifests of each case."""

from __future__ import annotations

import pytest

from auditor.analysis import analyze
from auditor.engine.paths import ControllerSpec, external_paths
from auditor.model import Unreadable
from auditor.sources.manifests import build_state


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(namespace, name, labels, ip, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": dict({"containers": [{"name": "c", "image": "i", "ports": [{"name": "http",
                                                                                "containerPort": 8080}]}]}, **spec),
            "status": {"podIP": ip}}


def svc(namespace, name, selector, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": dict({"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}, **spec)}


def ingress(name, annotations=None, **spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "app", "annotations": annotations or {}},
            "spec": dict({"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}, **spec)}


BASE = [ns("app"), ns("edge"), pod("app", "web", {"app": "web"}, "10.0.1.1"), svc("app", "web", {"app": "web"}),
        pod("edge", "proxy", {"app": "proxy"}, "10.0.9.1"),
        pod("edge", "traefik", {"app.kubernetes.io/name": "traefik"}, "10.0.9.2")]


def paths_of(objects, controllers=(), unreadable=()):
    state = build_state([(o, "t.yaml:1") for o in objects])
    state.unreadable.extend(unreadable)
    return external_paths(analyze(state), [ControllerSpec.parse(c) for c in controllers])


def test_legacy_class_annotation_names_the_controller_by_its_usual_labels():
    paths = paths_of(BASE + [ingress("a", {"kubernetes.io/ingress.class": "traefik"})])
    (path,) = [p for p in paths if p.via == "Ingress"]
    assert path.controller_pods == ("edge/traefik",) and path.verdict == "allowed"


def test_an_ingress_without_class_and_without_default_class_is_not_certain():
    (path,) = [p for p in paths_of(BASE + [ingress("a")]) if p.via == "Ingress"]
    assert path.verdict == "unknown" and any("no default IngressClass" in n for n in path.notes)


def test_the_user_names_the_controller_pods():
    (path,) = [p for p in paths_of(BASE + [ingress("a")], ["edge/app=proxy"]) if p.via == "Ingress"]
    assert path.controller_pods == ("edge/proxy",) and path.verdict == "allowed"


def test_envoy_gateway_pods_are_found_by_their_owning_gateway_labels():
    objects = BASE + [
        ns("envoy-gateway-system"),
        pod("envoy-gateway-system", "envoy-abc", {"gateway.envoyproxy.io/owning-gateway-name": "gw",
                                                  "gateway.envoyproxy.io/owning-gateway-namespace": "app"},
            "10.0.8.1"),
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "app"},
         "spec": {"gatewayClassName": "eg", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "r", "namespace": "app"},
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}]
    (path,) = [p for p in paths_of(objects) if p.via == "Gateway"]
    assert path.controller_pods == ("envoy-gateway-system/envoy-abc",) and path.route == "HTTPRoute app/r"


def test_host_endpoint_policy_makes_an_open_nodeport_path_unknown():
    node_port = svc("app", "web-np", {"app": "web"}, type="NodePort")
    host_endpoint = {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint", "metadata": {"name": "node1-eth0"},
                     "spec": {"node": "node1", "interfaceName": "eth0"}}
    (open_path,) = [p for p in paths_of(BASE + [node_port]) if p.via == "NodePort"]
    assert open_path.verdict == "allowed"
    (path,) = [p for p in paths_of(BASE + [node_port, host_endpoint]) if p.via == "NodePort"]
    assert path.verdict == "unknown"
    assert any("host endpoint policy" in r for hop in path.hops for r in hop.reasons)


def test_unreadable_ingress_classes_make_the_path_unknown():
    denied = Unreadable("ingressclasses.networking.k8s.io", None, "forbidden")
    (path,) = [p for p in paths_of(BASE + [ingress("a", ingressClassName="traefik")], unreadable=[denied])
               if p.via == "Ingress"]
    assert any("could not be read" in n for n in path.notes) and path.verdict == "unknown"


@pytest.mark.parametrize("text", ["nope", "edge/", "/app=x", "edge/app in (a"])
def test_controller_spec_syntax(text):
    with pytest.raises(ValueError):
        ControllerSpec.parse(text)
