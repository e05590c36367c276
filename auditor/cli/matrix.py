"""`netaudit matrix`: who can reach whom, on which protocols and ports."""

from __future__ import annotations

import click

from .common import analyze_state, load_state, print_alerts, shown_namespaces, source_options


@click.command()
@source_options
@click.option("--level", type=click.Choice(["pod", "workload", "namespace", "service"]), default="pod",
              show_default=True,
              help="One row per pod, per workload (Deployment, StatefulSet, ...) or per namespace; `service`: for "
                   "each client and Service port, whether all, some or none of the backends are reachable.")
@click.option("--clients", type=click.Choice(["pod", "workload", "namespace"]), default="workload",
              show_default=True, help="With --level service: group clients by pod, workload or namespace.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for people; json: the netaudit/v1 ConnectivityMatrix.")
@click.option("--view", type=click.Choice(["auto", "grid", "list"]), default="auto", show_default=True,
              help="Table layout: a grid of cells, or one line per allowed flow (auto: grid when it fits).")
def matrix(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
           quiet, level, clients, output, view):
    """Who can reach whom, on which protocols and ports.

    A flow is allowed when the source's egress and the destination's ingress both allow it. Unknown cells
    ('?') depend on something netaudit could not read or parse; the warnings say what.
    """
    shown = shown_namespaces(namespaces, all_namespaces)
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    if level == "service":
        from ..engine.services import reachability
        from ..report import services as service_report
        results = reachability(result, clients, shown)
        if output == "json":
            click.echo(service_report.render_json(results, clients, result.alerts), nl=False)
        else:
            click.echo(service_report.render_table(results, show_all=view == "list"), nl=False)
        print_alerts(result.alerts, quiet)
        return
    view_data = result.matrix_view(level=level, namespaces=shown)
    if output == "json":
        from ..report.json_matrix import render
        click.echo(render(view_data), nl=False)
    else:
        from ..report.table import render
        click.echo(render(view_data, view), nl=False)
    print_alerts(result.alerts, quiet)
