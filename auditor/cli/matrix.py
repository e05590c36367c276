"""`netaudit matrix`: who can reach whom, on which protocols and ports."""

from __future__ import annotations

import click

from .common import analyze_state, load_state, print_alerts, shown_namespaces, source_options, write_stdout


@click.command()
@source_options
@click.option("--level", type=click.Choice(["pod", "workload", "namespace", "service"]), default="pod",
              show_default=True,
              help="One row per pod, per workload (Deployment, StatefulSet, ...) or per namespace; `service`: for "
                   "each client and Service port, whether all, some or none of the backends are reachable.")
@click.option("--clients", type=click.Choice(["pod", "workload", "namespace"]), default="workload",
              show_default=True, help="With --level service: group clients by pod, workload or namespace.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for people; json: the netaudit/v1 ConnectivityMatrix (one connection per pair, written "
                   "as it is computed), or ConnectivityGroups with --grouped.")
@click.option("--grouped", is_flag=True,
              help="json: groups of endpoints and connections between groups (size grows with what differs, not "
                   "with pairs); expanding it gives exactly the pair document.")
@click.option("--view", type=click.Choice(["auto", "grid", "list", "groups"]), default="auto", show_default=True,
              help="Table layout: a grid of cells; one line per allowed flow; or one line per group of flows (auto: "
                   "grid for a few endpoints, list up to 400 flows, groups beyond).")
def matrix(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
           quiet, level, clients, output, grouped, view):
    """Who can reach whom, on which protocols and ports.

    A flow is allowed when the source's egress and the destination's ingress both allow it. Unknown cells
    ('?') depend on something netaudit could not read or parse; the warnings say what.

    Large or dense clusters (few policies: most pods reach most pods) are shown as groups: "all 10,000 pods ->
    all 10,000 pods: all" is one line, not 100 million.

    \b
    Examples:
      netaudit matrix -f k8s/ --level workload              # a grid, a list or groups, whichever reads best
      netaudit matrix --view groups                         # the live cluster, one line per group of flows
      netaudit matrix -o json > pairs.json                  # every pair (streamed)
      netaudit matrix -o json --grouped > groups.json       # the same, grouped (small)
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
    if grouped and output != "json":
        raise click.BadParameter("--grouped shapes the json output; for a table use --view groups",
                                 param_hint="--grouped")
    if output == "json":
        from ..report import json_matrix
        if grouped:
            json_matrix.write_grouped(result.grouped_view(level, shown), write_stdout)
        else:
            json_matrix.write_pairs(result, level, shown, write_stdout)
    else:
        write_table(result, level, shown, view)
    print_alerts(result.alerts, quiet)


def write_table(result, level: str, shown: tuple[str, ...], view: str) -> None:
    from ..engine.matrix import iter_connections, level_map, shown_endpoints
    from ..report import table
    endpoints = shown_endpoints(level_map(result, level), set(shown))
    if view == "auto":
        if len(endpoints) <= table.GRID_LIMIT:
            view = "grid"
        else:
            grouped = result.grouped_view(level, shown)
            view = "list" if grouped.pair_bound() <= table.LIST_LIMIT else "groups"
    if view == "grid":
        click.echo(table.render_grid(result.matrix_view(level, shown)), nl=False)
    elif view == "groups":
        click.echo(table.render_groups(result.grouped_view(level, shown)), nl=False)
    else:
        listed = shown_endpoints(level_map(result, level), set(), None)  # names for both ends of every flow
        table.write_list(level, listed, iter_connections(result, level, shown), result.protocols, write_stdout)
