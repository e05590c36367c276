"""External paths: how traffic from outside the cluster reaches a pod, and whether the policies let it in.

Traffic from the internet never arrives "from 0.0.0.0/0 to a pod": it comes through a path, and the path decides
what the pod's policy sees as the source (docs/exposure.md has the rules and their sources):

- a LoadBalancer or NodePort Service (or externalIPs): kube-proxy DNATs to a backend pod on its target port. With
  `externalTrafficPolicy: Local` the pod sees the client's address. With `Cluster` (the default) a backend on
  another node sees the address of the node that received the traffic (SNAT), and a backend on the receiving node
  is judged before the SNAT, with the client's address: so both are ways in. (Calico's eBPF dataplane keeps the
  client's address in both cases; that is the second way.) loadBalancerSourceRanges limit who can use a load
  balancer.
- an Ingress: the ingress controller's pods (found by IngressClass and their usual labels, or named by the user)
  open a connection to the backend pod: the controller's egress and the backend's ingress must both allow it.
- a Gateway route (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute): the same, with the Gateway's pods, when the route is
  attached to a listener that admits it and a cross-namespace backend is granted by a ReferenceGrant.

Each path is judged on the backend's target port with the class matrix and the exposure terms, and the rule that
decides is taken from `explain`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Sequence

from ..model import Gateway, GatewayListener, Ingress, Pod, Route, Service, ServicePort
from ..policy.ir import INGRESS
from ..policy.labels import LabelSelector, SelectorError, parse_label_selector
from ..sets.addresses import IPV4_ALL, IPV6_ALL, IpSet
from ..sets.ports import PortSet
from .exposure import addresses_allowed, class_terms
from .matrix import endpoint_id
from .peers import addresses_text
from .services import Backend, FlowIndex, service_backends

ALLOWED, DENIED, UNKNOWN, PARTLY = "allowed", "denied", "unknown", "partly"
VIA_LOAD_BALANCER, VIA_NODE_PORT, VIA_EXTERNAL_IP, VIA_INGRESS, VIA_GATEWAY = (
    "LoadBalancer", "NodePort", "ExternalIP", "Ingress", "Gateway")

# Where the usual ingress controllers run: their IngressClass controller names and the labels of the pods that
# carry the traffic (from each project's install manifests / Helm charts). The Ingress class *name* is a hint
# too, for the legacy `kubernetes.io/ingress.class` annotation.
CONTROLLER_PODS: dict[str, tuple[dict[str, str], ...]] = {
    "k8s.io/ingress-nginx": ({"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
                             {"app.kubernetes.io/name": "ingress-nginx"}),
    "nginx.org/ingress-controller": ({"app.kubernetes.io/name": "nginx-ingress"}, {"app": "nginx-ingress"}),
    "traefik.io/ingress-controller": ({"app.kubernetes.io/name": "traefik"},),
    "haproxy.org/ingress-controller/haproxy": ({"app.kubernetes.io/name": "kubernetes-ingress"},
                                               {"run": "haproxy-ingress"}),
    "haproxy-ingress.github.io/controller": ({"app.kubernetes.io/name": "haproxy-ingress"},),
    # Contour programs Envoy; the Envoy pods carry the traffic.
    "projectcontour.io/ingress-controller": ({"app.kubernetes.io/component": "envoy"}, {"app": "envoy"}),
    "ingress-controller.konghq.com/kong": ({"app.kubernetes.io/name": "kong"}, {"app": "kong"}),
    "istio.io/ingress-controller": ({"istio": "ingressgateway"},),
}
CLASS_NAME_HINTS = {"nginx": "k8s.io/ingress-nginx", "ingress-nginx": "k8s.io/ingress-nginx",
                    "nginx-inc": "nginx.org/ingress-controller", "traefik": "traefik.io/ingress-controller",
                    "haproxy": "haproxy.org/ingress-controller/haproxy",
                    "contour": "projectcontour.io/ingress-controller", "kong": "ingress-controller.konghq.com/kong",
                    "istio": "istio.io/ingress-controller"}
# Controllers whose data plane is outside the cluster: traffic reaches the backends through their Service's
# NodePort (or straight to pod IPs), not from controller pods.
OUTSIDE_CONTROLLERS = ("k8s.io/ingress-gce", "ingress.k8s.aws/alb", "azure/application-gateway")
GATEWAY_POD_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")
ENVOY_GATEWAY_LABELS = ("gateway.envoyproxy.io/owning-gateway-name", "gateway.envoyproxy.io/owning-gateway-namespace")
ROUTE_KINDS_BY_PROTOCOL = {"HTTP": ("HTTPRoute", "GRPCRoute"), "HTTPS": ("HTTPRoute", "GRPCRoute"),
                           "TLS": ("TLSRoute",), "TCP": ("TCPRoute",), "UDP": ("UDPRoute",)}
GATEWAY_GROUP = "gateway.networking.k8s.io"
# What a resource that could not be read hides from the exposure view.
PATH_RESOURCES = {
    "services": "LoadBalancer and NodePort paths",
    "ingresses": "paths through Ingresses",
    "ingressclasses": "which controller serves each Ingress",
    "gateways": "paths through Gateways", "gatewayclasses": "Gateway controllers",
    "httproutes": "HTTPRoute paths", "grpcroutes": "GRPCRoute paths", "tlsroutes": "TLSRoute paths",
    "tcproutes": "TCPRoute paths", "referencegrants": "cross-namespace Gateway backends",
}
PRIVATE = IpSet.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                   "169.254.0.0/16", "0.0.0.0/8", "::1/128", "fc00::/7", "fe80::/10")


@dataclass(frozen=True)
class ControllerSpec:
    """`--ingress-controller NS/SELECTOR`: the pods that carry Ingress (and Gateway) traffic, named by the user."""

    namespace: str
    selector: LabelSelector

    @classmethod
    def parse(cls, text: str) -> "ControllerSpec":
        from ..policy.labels import parse_selector_text
        namespace, _, selector = text.partition("/")
        if not namespace or not selector:
            raise ValueError(f"{text!r}: write NAMESPACE/SELECTOR, e.g. ingress-nginx/app.kubernetes.io/name="
                             "ingress-nginx")
        try:
            return cls(namespace, parse_selector_text(selector))
        except SelectorError as err:
            raise ValueError(f"{text!r}: {err.message}") from None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.selector}"


@dataclass
class Hop:
    """The last hop of a path as the backend's policy sees it: the source it sees and the verdict."""

    seen_as: dict  # {"kind": "External", ...} clients; {"kind": "Nodes"}; {"kind": "Pods", "pods": [...]}
    text: str
    verdict: str
    allowed_from: IpSet | None = None  # for client and node hops: the addresses that get in
    because: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class ExternalPath:
    via: str
    object: str  # the Service, Ingress or Gateway, namespace/name
    service: str  # the backend Service, namespace/name
    service_port: ServicePort
    backend: Backend
    clients: IpSet  # who may start the path (loadBalancerSourceRanges, or every address)
    hops: list[Hop] = field(default_factory=list)
    route: str | None = None  # "HTTPRoute ns/name" for a Gateway path
    controller: str | None = None  # the controller's (or Gateway's) workload
    controller_pods: tuple[str, ...] = ()
    external_traffic_policy: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        verdicts = {h.verdict for h in self.hops}
        if ALLOWED in verdicts:
            return ALLOWED
        if PARTLY in verdicts:
            return PARTLY
        if UNKNOWN in verdicts or not self.hops:
            return UNKNOWN
        return DENIED

    @property
    def allowed_from(self) -> IpSet:
        """The clients that can get through (through some hop)."""
        out = IpSet()
        for hop in self.hops:
            if hop.verdict in (ALLOWED, PARTLY):
                out = out | (hop.allowed_from if hop.allowed_from is not None else self.clients)
        return out & self.clients

    @property
    def probe(self) -> PortSet | None:
        if self.backend.target_port is None:
            return None
        return PortSet.ports(self.backend.protocol, self.backend.target_port)

    @property
    def object_label(self) -> str:
        return f"{self.via} {self.object}" + (f" ({self.route})" if self.route else "")


class _Context:
    """What every path needs from one analysis, computed once."""

    def __init__(self, analysis, controllers: Sequence[ControllerSpec]):
        self.analysis = analysis
        self.controllers = tuple(controllers)
        self.flows = FlowIndex(analysis)
        self.ingress_terms = class_terms(analysis, INGRESS)
        self.uni = analysis.universe
        state = analysis.state
        self.ipv6 = analysis.policies.uses_ipv6 or any(":" in ip for p in state.pods for ip in p.ips)
        self.everyone = IpSet.of(IPV4_ALL, IPV6_ALL) if self.ipv6 else IpSet.of(IPV4_ALL)
        # A hostNetwork pod's address is its node's: the only node addresses netaudit sees (it does not read Nodes).
        self.node_addresses = IpSet.of(*(ipaddress.ip_network(ip) for p in state.pods if p.host_network
                                         for ip in p.ips))
        self.pod_ips = {ip for p in state.pods for ip in p.ips}
        self._explained: dict = {}
        self._addresses: dict = {}
        self._pods: dict = {}
        self.unreadable = {u.resource for u in state.unreadable}
        # Calico host endpoint policy (preDNAT, applyOnForward) can drop NodePort and load balancer traffic on the
        # node before it is DNATed to a pod; netaudit reads it but does not model it (docs/exposure.md).
        self.host_filtering = sorted(
            str(obj.ref) for obj in state.policies
            if obj.kind == "HostEndpoint" or (isinstance(obj.spec, dict) and (obj.spec.get("preDNAT")
                                                                             or obj.spec.get("applyOnForward"))))

    def backend_class(self, backend: Backend) -> int | None:
        return self.uni.class_of_pod.get(backend.pod.id) if backend.pod is not None else None

    def example_address(self, addresses: IpSet) -> str | None:
        """An address in the set that no pod has (explain judges a pod's address as that pod)."""
        for net in addresses.networks():
            for offset in (net.num_addresses // 2 + 1, 1, 0):
                if offset < net.num_addresses:
                    text = str(net.network_address + offset)
                    if text not in self.pod_ips:
                        return text
        return None

    def explain_side(self, source: str, backend: Backend, side: str = "ingress") -> list[str]:
        """The deciding lines of `explain` for source -> backend on its target port ("egress of SOURCE: ...",
        "ingress: ..."). Backends whose classes the same policies govern get the same walk, so it is explained
        once for all of them."""
        from .explain import EndpointNotFound, explain
        index = self.backend_class(backend)
        key = (source, id(self.ingress_terms.get(index)), backend.protocol, backend.target_port, side)
        found = self._explained.get(key)
        if found is not None:
            return found
        try:
            exp = explain(self.analysis, source, backend.pod.id, backend.protocol, backend.target_port)
        except EndpointNotFound:
            return []
        found = []
        if side == "both" and exp.egress.summary:
            found.append(f"egress of {exp.egress.endpoint}: {exp.egress.verdict}: {exp.egress.summary}")
        if exp.ingress.summary:
            found.append(f"ingress: {exp.ingress.verdict}: {exp.ingress.summary}")
        self._explained[key] = found
        return found

    def addresses_allowed(self, backend: Backend, probe: PortSet) -> tuple[IpSet, IpSet]:
        key = (self.backend_class(backend), probe)
        found = self._addresses.get(key)
        if found is None:
            found = self._addresses[key] = addresses_allowed(self.ingress_terms[key[0]], probe)
        return found

    def pods_matching(self, labels: dict[str, str]) -> list[Pod]:
        key = tuple(sorted(labels.items()))
        found = self._pods.get(key)
        if found is None:
            found = self._pods[key] = [pod for pod in self.analysis.state.pods
                                       if all(pod.labels.get(k) == v for k, v in labels.items())]
        return found


def external_paths(analysis, controllers: Sequence[ControllerSpec] = ()) -> list[ExternalPath]:
    """Every way into the cluster's pods from outside: Service, Ingress and Gateway paths, each judged."""
    ctx = _Context(analysis, controllers)
    backends = {(s.service.namespace, s.service.name, s.port): s for s in service_backends(analysis.state)}
    paths = _service_paths(ctx, backends)
    paths += _ingress_paths(ctx, backends)
    paths += _gateway_paths(ctx, backends)
    return paths


# --- Services --------------------------------------------------------------------------------------------------------
def _service_clients(ctx: _Context, svc: Service) -> IpSet:
    if svc.type == "LoadBalancer" and svc.load_balancer_source_ranges:
        return IpSet.of(*svc.load_balancer_source_ranges)
    return ctx.everyone


def _service_paths(ctx: _Context, backends: dict) -> list[ExternalPath]:
    out = []
    for (_, _, port), spb in backends.items():
        svc = spb.service
        if not svc.externally_reachable:
            continue
        via = {"LoadBalancer": VIA_LOAD_BALANCER, "NodePort": VIA_NODE_PORT}.get(svc.type, VIA_EXTERNAL_IP)
        policy = svc.external_traffic_policy or "Cluster"
        for backend in spb.backends:
            path = ExternalPath(via, svc.id, svc.id, port, backend, _service_clients(ctx, svc),
                                external_traffic_policy=policy)
            if _usable(ctx, path, spb):
                client = _client_hop(ctx, path)
                path.hops = [client] if policy == "Local" else [_node_hop(ctx, path), client]
                if policy != "Local":
                    client.text = ("the client's own address, when the backend runs on the node that received the "
                                   "traffic (judged before kube-proxy's SNAT), or with Calico's eBPF dataplane")
                if ctx.host_filtering:
                    # What the pod's policy admits may still be dropped on the node: say so, never guess.
                    for hop in path.hops:
                        if hop.verdict in (ALLOWED, PARTLY):
                            hop.verdict = UNKNOWN
                            hop.reasons.append("host endpoint policy (" + ", ".join(ctx.host_filtering[:3]) +
                                               ") may drop it on the node before DNAT; netaudit does not model it")
            out.append(path)
    return out


def _usable(ctx: _Context, path: ExternalPath, spb) -> bool:
    """Whether the backend can be judged; if not, say why on the path."""
    backend = path.backend
    if not backend.ready:
        path.notes.append(f"{backend.id} is not ready: kube-proxy sends it nothing")
        return False
    if backend.target_port is None:
        path.notes.append(f"{backend.id} declares no port named {spb.port.target_port!r}")
        return False
    if backend.pod is None:
        path.notes.append(f"{backend.id} is an address, not a pod: no pod policy judges it")
        return False
    if backend.pod.host_network:
        path.hops = [Hop({"kind": "Any"}, "anyone", ALLOWED, None,
                         ["hostNetwork pod: pod policies do not apply to it"])]
        return False
    return True


def _client_hop(ctx: _Context, path: ExternalPath) -> Hop:
    """The backend sees the client's address: which clients of the path does its ingress admit?"""
    allowed, maybe = ctx.addresses_allowed(path.backend, path.probe)
    got = path.clients & allowed
    unsure = (path.clients & maybe) - got
    seen = {"kind": "External", "clients": True}
    if got == path.clients:
        verdict = ALLOWED
    elif got:
        verdict = PARTLY
    elif unsure:
        verdict = UNKNOWN
    else:
        verdict = DENIED
    example = ctx.example_address(got if got else (path.clients - allowed))
    because = ctx.explain_side(f"ip:{example}", path.backend) if example else []
    reasons = [f"whether {addresses_text(unsure)} may connect depends on data netaudit could not read"] \
        if unsure else []
    return Hop(seen, "the client's address", verdict, got, because, reasons)


def _node_hop(ctx: _Context, path: ExternalPath) -> Hop:
    """externalTrafficPolicy Cluster, backend on another node: the backend sees the receiving node's address."""
    allowed, maybe = ctx.addresses_allowed(path.backend, path.probe)
    nodes = ctx.node_addresses
    seen = {"kind": "Nodes"}
    text = "a node's address (kube-proxy SNAT: the node that received the traffic)"
    reasons: list[str] = []
    if nodes:
        if nodes <= allowed:
            verdict = ALLOWED
        elif not (nodes & (allowed | maybe)):
            verdict = DENIED
        else:
            verdict = UNKNOWN
            reasons.append(f"the nodes' addresses ({addresses_text(nodes)}) are admitted only in part or are unknown "
                           "to the policy")
        example = next((str(n.network_address) for n in (nodes & allowed if verdict == ALLOWED else nodes).networks()),
                       None)
    else:
        everything = ctx.everyone
        if everything <= allowed:
            verdict = ALLOWED
        elif not (allowed | maybe):
            verdict = DENIED
        else:
            verdict = UNKNOWN
            reasons.append(f"the backend admits {addresses_text(allowed)} on this port but netaudit does not know "
                           "the nodes' addresses (no hostNetwork pod shows them)")
        example = ctx.example_address(allowed if verdict == ALLOWED else everything - allowed)
    because = ctx.explain_side(f"ip:{example}", path.backend) if example else []
    return Hop(seen, text, verdict, path.clients if verdict == ALLOWED else IpSet(), because, reasons)


# --- controllers (Ingress, Gateway) ---------------------------------------------------------------------------------
def _user_controller_pods(ctx: _Context) -> list[Pod]:
    return [pod for spec in ctx.controllers for pod in ctx.analysis.state.pods
            if pod.namespace == spec.namespace and spec.selector.matches(pod.labels)]


def _ingress_controller(ctx: _Context, ing: Ingress) -> tuple[str | None, list[Pod], list[str]]:
    """(controller name, its pods, notes) for one Ingress."""
    notes: list[str] = []
    state = ctx.analysis.state
    classes = {c.name: c for c in state.ingress_classes}
    controller = None
    if ing.class_name is not None:
        found = classes.get(ing.class_name)
        if found is not None:
            controller = found.controller
        else:
            controller = CLASS_NAME_HINTS.get(ing.class_name)
            unread = "ingressclasses.networking.k8s.io" in ctx.unreadable
            notes.append(f"IngressClass {ing.class_name!r} " + ("could not be read" if unread else "is not in the "
                         "input") + (f"; read as {controller}" if controller else ""))
    else:
        defaults = [c for c in state.ingress_classes if c.is_default]
        if len(defaults) == 1:
            controller = defaults[0].controller
            notes.append(f"no ingressClassName: the default IngressClass {defaults[0].name} serves it")
        else:
            notes.append("no ingressClassName and " + ("several default IngressClasses" if defaults else
                                                        "no default IngressClass") + ": which controller serves it "
                         "is not certain")
    if ctx.controllers:
        return controller, _user_controller_pods(ctx), notes
    pods: list[Pod] = []
    for labels in CONTROLLER_PODS.get(controller or "", ()):
        pods = ctx.pods_matching(labels)
        if pods:
            break
    if controller in OUTSIDE_CONTROLLERS:
        notes.append(f"{controller} runs outside the cluster: the backends see the load balancer's addresses, "
                     "through their Service's NodePort")
    elif not pods:
        notes.append(f"the pods of controller {controller or '(unknown)'} were not found: name them with "
                     "--ingress-controller NAMESPACE/SELECTOR")
    return controller, pods, notes


def _controller_clients(ctx: _Context, pods: list[Pod]) -> tuple[IpSet, list[str]]:
    """Who can reach the controller pods from outside: the source ranges of their LoadBalancer Services."""
    if any(p.host_network for p in pods):
        return ctx.everyone, ["the controller uses the host network: it listens on the nodes' addresses"]
    ranges = IpSet()
    found = False
    for svc in ctx.analysis.state.services:
        if not svc.externally_reachable or not svc.selector:
            continue
        if any(p.namespace == svc.namespace and all(p.labels.get(k) == v for k, v in svc.selector.items())
               for p in pods):
            found = True
            ranges = ranges | _service_clients(ctx, svc)
    if not found:
        return ctx.everyone, ["no LoadBalancer or NodePort Service of the controller was found: assumed reachable "
                              "from anywhere"]
    return ranges, []


def _pod_hop(ctx: _Context, path: ExternalPath, pods: list[Pod]) -> Hop:
    """The controller's pods connect to the backend: its egress and the backend's ingress must allow it."""
    dst = ctx.backend_class(path.backend)
    verdicts = set()
    reasons: set[str] = set()
    example = None
    for pod in pods:
        src = ctx.uni.class_of_pod.get(pod.id)
        if src is None:
            continue
        if src == dst and pod.id == path.backend.pod.id:
            verdicts.add(ALLOWED)
            continue
        allowed, unknown, why = ctx.flows.sets(src, dst)
        if path.probe <= allowed:
            verdicts.add(ALLOWED)
        elif path.probe & unknown:
            verdicts.add(UNKNOWN)
            reasons |= set(why)
        else:
            verdicts.add(DENIED)
        example = example or pod.id
    if not verdicts:
        verdict = UNKNOWN
    elif verdicts == {ALLOWED}:
        verdict = ALLOWED
    elif verdicts == {DENIED}:
        verdict = DENIED
    elif ALLOWED in verdicts:
        verdict = PARTLY
        reasons.add("only some of the controller's pods may connect")
    else:
        verdict = UNKNOWN
    because = ctx.explain_side(example, path.backend, "both") if example else []
    names = sorted(p.id for p in pods)
    return Hop({"kind": "Pods", "pods": names}, "the controller's pods", verdict, None, because, sorted(reasons))


def _backend_paths(ctx: _Context, via: str, obj: str, ref, backends: dict, pods: list[Pod], controller: str | None,
                   notes: list[str], route: str | None = None) -> list[ExternalPath]:
    """The paths through a controller to every backend pod of one Service port reference."""
    svc = next((s for s in ctx.analysis.state.services if s.namespace == ref.namespace and s.name == ref.name), None)
    if svc is None:
        path = ExternalPath(via, obj, f"{ref.namespace}/{ref.name}", ServicePort(0), Backend(None, None, False, "TCP",
                            None), IpSet(), route=route, controller=controller)
        path.notes = notes + [f"{ref.field}: Service {ref.namespace}/{ref.name} is not in the input"]
        return [path]
    port = next((p for p in svc.ports if p.port == ref.port or (p.name and p.name == ref.port)), None)
    if port is None:
        path = ExternalPath(via, obj, svc.id, ServicePort(0), Backend(None, None, False, "TCP", None), IpSet(),
                            route=route, controller=controller)
        path.notes = notes + [f"{ref.field}: Service {svc.id} has no port {ref.port}"]
        return [path]
    spb = backends.get((svc.namespace, svc.name, port))
    clients, client_notes = _controller_clients(ctx, pods) if pods else (ctx.everyone, [])
    controller_id = sorted({endpoint_id(p, "workload") for p in pods})
    out = []
    for backend in spb.backends if spb is not None else ():
        path = ExternalPath(via, obj, svc.id, port, backend, clients, route=route,
                            controller=", ".join(controller_id) or controller,
                            controller_pods=tuple(sorted(p.id for p in pods)), notes=notes + client_notes)
        if _usable(ctx, path, spb):
            if pods:
                path.hops = [_pod_hop(ctx, path, pods)]
            else:
                path.hops = [Hop({"kind": "Pods", "pods": []}, "the controller's pods", UNKNOWN,
                                 reasons=[n for n in notes if "not found" in n or "outside" in n] or
                                 ["the controller's pods are unknown"])]
        out.append(path)
    return out


def _ingress_paths(ctx: _Context, backends: dict) -> list[ExternalPath]:
    out = []
    for ing in ctx.analysis.state.ingresses:
        controller, pods, notes = _ingress_controller(ctx, ing)
        guessed = ing.class_name is not None and "ingressclasses.networking.k8s.io" in ctx.unreadable and \
            not ctx.controllers
        seen = set()
        for ref in ing.backends:
            if not ref.is_service:
                continue
            key = (ref.namespace, ref.name, ref.port)
            if key in seen:
                continue
            seen.add(key)
            found = _backend_paths(ctx, VIA_INGRESS, ing.id, ref, backends, pods, controller, list(notes))
            if guessed:
                # Which controller serves the class is a guess from its name: the verdict is not certain.
                for path in found:
                    for hop in path.hops:
                        if hop.verdict != UNKNOWN:
                            hop.verdict = UNKNOWN
                            hop.reasons.append("the IngressClass could not be read (forbidden): which controller "
                                               "serves it is guessed from its name")
            out += found
    return out


# --- Gateway API -----------------------------------------------------------------------------------------------------
def _listener_admits(ctx: _Context, gateway: Gateway, listener: GatewayListener, route: Route, parent) -> bool:
    if parent.section_name is not None and parent.section_name != listener.name:
        return False
    if parent.port is not None and parent.port != listener.port:
        return False
    kinds = listener.route_kinds or ROUTE_KINDS_BY_PROTOCOL.get(listener.protocol.upper(), ())
    if route.kind not in kinds:
        return False
    if listener.routes_from == "Same":
        return route.namespace == gateway.namespace
    if listener.routes_from == "All":
        return True
    try:
        selector = parse_label_selector(listener.routes_selector or {})
    except SelectorError:
        return False
    return selector.matches(ctx.analysis.state.namespace_labels(route.namespace))


def _granted(ctx: _Context, route: Route, ref) -> bool:
    """A backend in another namespace needs a ReferenceGrant there (Gateway API ReferenceGrant)."""
    if ref.namespace == route.namespace:
        return True
    for grant in ctx.analysis.state.reference_grants:
        if grant.namespace != ref.namespace:
            continue
        if not any(g == "gateway.networking.k8s.io" and k == route.kind and ns == route.namespace
                   for g, k, ns in grant.grants_from):
            continue
        if any(g in ("", "core") and k == "Service" and (n is None or n == ref.name) for g, k, n in grant.grants_to):
            return True
    return False


def _gateway_pods(ctx: _Context, gateway: Gateway) -> list[Pod]:
    pods = [p for p in ctx.analysis.state.pods if p.namespace == gateway.namespace
            and any(p.labels.get(key) == gateway.name for key in GATEWAY_POD_LABELS)]
    if not pods:
        name_key, ns_key = ENVOY_GATEWAY_LABELS
        pods = [p for p in ctx.analysis.state.pods
                if p.labels.get(name_key) == gateway.name and p.labels.get(ns_key) == gateway.namespace]
    if not pods and ctx.controllers:
        pods = _user_controller_pods(ctx)
    return pods


def _gateway_paths(ctx: _Context, backends: dict) -> list[ExternalPath]:
    state = ctx.analysis.state
    gateways = {(g.namespace, g.name): g for g in state.gateways}
    classes = {c.name: c.controller for c in state.gateway_classes}
    out = []
    for route in state.routes:
        for parent in route.parents:
            if parent.kind != "Gateway":
                continue
            gateway = gateways.get((parent.namespace, parent.name))
            if gateway is None:
                continue
            if not any(_listener_admits(ctx, gateway, listener, route, parent) for listener in gateway.listeners):
                continue  # not attached: the Gateway sends it no traffic
            pods = _gateway_pods(ctx, gateway)
            notes = [] if pods else [f"the pods of Gateway {gateway.id} were not found (labels "
                                     f"{GATEWAY_POD_LABELS[0]}={gateway.name}): name them with "
                                     "--ingress-controller NAMESPACE/SELECTOR"]
            controller = classes.get(gateway.class_name) or gateway.class_name
            for ref in route.backends:
                if not ref.is_service:
                    continue
                if not _granted(ctx, route, ref):
                    continue  # refused by the implementation (ResolvedRefs false): no traffic goes there
                out += _backend_paths(ctx, VIA_GATEWAY, gateway.id, ref, backends, pods, controller, list(notes),
                                      route=f"{route.kind} {route.id}")
    return out


def is_public(addresses: IpSet) -> bool:
    """Whether the set holds addresses of the internet (anything outside private and special ranges)."""
    return bool(addresses - PRIVATE)


# --- the view ------------------------------------------------------------------------------------------------------
def path_entries(paths: list[ExternalPath], level: str, namespaces: Sequence[str] = ()):
    """Each judged path as an exposure entry of the backend (peer kind `Path`, DESIGN.md), one per client range.

    `allowed` is the backend's target port when some way along the path admits it, `unknown` when that cannot be
    told; a blocked path is listed too (nothing allowed, `verdict: denied`), with the rule that blocks it.
    """
    from .exposure import ExposureEntry
    from .peers import external_forms, external_text
    wanted = set(namespaces)
    out = []
    for path in paths:
        pod = path.backend.pod
        if pod is None or (wanted and pod.namespace not in wanted):
            continue
        verdict = path.verdict
        reach = path.allowed_from if verdict in (ALLOWED, PARTLY) else path.clients
        probe = path.probe
        seen = [hop.seen_as for hop in path.hops]
        base: dict = {"kind": "Path", "via": path.via, "object": path.object}
        if path.route:
            base["route"] = path.route
        if path.controller:
            base["controller"] = path.controller
        base["service"] = f"{path.service}:{path.service_port.port}/{path.service_port.protocol}"
        if path.external_traffic_policy:
            base["externalTrafficPolicy"] = path.external_traffic_policy
        because = [line for hop in path.hops for line in hop.because]
        reasons = [r for hop in path.hops for r in hop.reasons]
        for cidr, excepts in external_forms(reach, ()) or [("0.0.0.0/0", [])]:
            peer = dict(base, **{"from": {"kind": "External", "cidr": cidr, "except": excepts}}, seenAs=seen)
            text = f"{path.object_label} from {external_text(cidr, excepts)}"
            allowed = probe if probe is not None and verdict in (ALLOWED, PARTLY) else PortSet.empty()
            unknown = probe if probe is not None and verdict == UNKNOWN else PortSet.empty()
            out.append(ExposureEntry(endpoint_id(pod, level), INGRESS, peer, text, allowed, unknown,
                                     because=tuple(because or path.notes), reasons=tuple(reasons or path.notes),
                                     verdict=verdict, hops=tuple(path.hops), notes=tuple(path.notes),
                                     target=probe))
    return out


def exposure_with_paths(analysis, level: str = "workload", namespaces: Sequence[str] = (),
                        controllers: Sequence[ControllerSpec] = (), directions: Sequence[str] = ("ingress", "egress")):
    """The whole exposure view: every endpoint's exposure to the cluster, and the judged paths from outside."""
    from ..model import Alert
    from .exposure import exposure_view
    view = exposure_view(analysis, level, namespaces, directions)
    paths = external_paths(analysis, controllers)
    view.paths = paths
    for item in analysis.state.unreadable:
        what = PATH_RESOURCES.get(item.resource.split(".", 1)[0] if "." in item.resource else item.resource)
        if what and (item.resource.endswith(("networking.k8s.io", GATEWAY_GROUP)) or item.resource == "services"):
            where = f" in namespace {item.namespace}" if item.namespace else ""
            view.alerts.append(Alert("exposure-unknown", f"could not read {item.resource}{where} ({item.reason}): "
                                     f"{what} are unknown, not absent", item.resource))
    view.entries = sorted(view.entries + (path_entries(paths, level, namespaces) if INGRESS in directions else []),
                          key=lambda e: (e.endpoint, e.direction != INGRESS))
    return view
