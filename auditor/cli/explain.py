"""`netaudit explain`: why one flow is allowed or denied, tier by tier and rule by rule."""

from __future__ import annotations

import click

from .common import InputError, analyze_state, load_state, print_alerts, shown_namespaces, source_options


@click.command()
@click.argument("source")
@click.argument("destination")
@click.option("--port", "port_text", metavar="PORT/PROTO",
              help="The port to explain, e.g. 80/TCP, 53/UDP, 80 (TCP), or ICMP. Not needed for svc: destinations.")
@source_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(source, destination, port_text, manifests, snapshot, kubeconfig, context, namespaces, all_namespaces,
            promote_staged, calico_version, quiet, output):
    """Why SOURCE can or cannot reach DESTINATION on one port.

    SOURCE and DESTINATION are pods (namespace/name), workloads (namespace/Kind/name) or addresses
    (ip:203.0.113.7). For each direction it shows which policies select the endpoint, tier by tier, and which
    rule decided, or that none did. DESTINATION may also be a Service port, svc:NAMESPACE/NAME:PORT (number or
    name): each ready backend is explained on its own target port, as policy sees the connection after DNAT.

    \b
    Examples:
      netaudit explain shop-web/frontend shop-api/cart --port 8080/TCP -f examples/shop/
      netaudit explain shop-web/frontend svc:shop-api/cart:http -f examples/shop/
    """
    from ..engine.explain import EndpointNotFound
    from ..engine.explain import explain as explain_flow
    from ..sets.ports import parse_port_text
    shown = shown_namespaces(namespaces, all_namespaces)
    if destination.startswith("svc:"):
        if port_text:
            raise click.BadParameter("a svc: destination names its port: drop --port", param_hint="--port")
        from ..engine.services import ServiceNotFound, explain_service
        from ..report.explain_text import render_service_json, render_service_text
        state = load_state(manifests, snapshot, kubeconfig, context, shown)
        result = analyze_state(state, promote_staged, calico_version)
        try:
            sexp = explain_service(result, source, destination)
        except (ServiceNotFound, EndpointNotFound) as err:
            raise InputError(str(err)) from None
        click.echo(render_service_json(sexp) if output == "json" else render_service_text(sexp), nl=False)
        print_alerts(result.alerts, quiet)
        return
    if not port_text:
        raise click.BadParameter("give the port to explain, e.g. --port 80/TCP", param_hint="--port")
    try:
        protocol, port = parse_port_text(port_text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--port") from None
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    try:
        exp = explain_flow(result, source, destination, protocol, port)
    except EndpointNotFound as err:
        raise InputError(str(err)) from None
    from ..report.explain_text import render_json, render_text
    click.echo(render_json(exp) if output == "json" else render_text(exp), nl=False)
    print_alerts(result.alerts, quiet)
