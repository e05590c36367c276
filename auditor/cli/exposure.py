"""`netaudit exposure`: who could reach each workload, from outside the cluster and from pods that do not exist yet."""

from __future__ import annotations

import click

from .common import InputError, analyze_state, load_state, print_alerts, shown_namespaces, source_options


@click.command()
@source_options
@click.option("--level", type=click.Choice(["workload", "pod"]), default="workload", show_default=True,
              help="One endpoint per workload (Deployment, StatefulSet, ...) or per pod.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for people; json: the netaudit/v1 Exposure document (DESIGN.md).")
@click.option("--direction", type=click.Choice(["both", "ingress", "egress"]), default="both", show_default=True,
              help="Who may reach each endpoint (ingress, and the paths from outside), what it may reach (egress), "
                   "or both.")
@click.option("--ingress-controller", "controllers", multiple=True, metavar="NS/SELECTOR",
              help="The pods that carry Ingress (and Gateway) traffic, when netaudit cannot find them by their usual "
                   "labels, e.g. ingress-nginx/app.kubernetes.io/name=ingress-nginx (repeatable).")
def exposure(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
             quiet, level, output, direction, controllers):
    """Who could reach each workload: from outside the cluster, path by path, and from any pod, including pods
    and namespaces that do not exist yet.

    \b
    From outside the cluster, traffic comes through a path, and the path decides what the pod's policy sees:
      LoadBalancer / NodePort Services   externalTrafficPolicy Local: the client's address; Cluster: a node's
                                         address (kube-proxy SNAT), or the client's on the backend's own node
      Ingress                            the ingress controller's pods (by IngressClass and their usual labels)
      Gateway API routes                 the Gateway's pods (label gateway.networking.k8s.io/gateway-name)
    Each path is judged on the backend's target port, with the rule that decides.

    \b
    Inside the cluster, each endpoint's exposure is written as selectors, so it covers pods to come:
      entire cluster                     any pod of any namespace, existing or future (namespaceSelector: {})
      pods matching S in namespaces N    a LabelSelector (or a Calico selector where no LabelSelector can say it)
      0.0.0.0/0 except ...               addresses (outside the cluster, nodes, and pods by their address)
    Later tiers and denies are applied: an allow cut by an earlier deny is narrowed, or says `unless` and is
    reported unknown ('?') where no selector can say the cut.

    \b
    Examples:
      netaudit exposure -f k8s/                          # paths from outside, then every workload's exposure
      netaudit exposure -n shop -o json                  # the netaudit/v1 Exposure document
      netaudit exposure --direction ingress              # who could reach each workload
      netaudit exposure --ingress-controller edge/app=proxy

    Exit codes: 0 success; 2 bad usage or unusable input.
    """
    from ..engine.paths import ControllerSpec, exposure_with_paths
    from ..report import exposure as exposure_report
    try:
        specs = [ControllerSpec.parse(text) for text in controllers]
    except ValueError as err:
        raise InputError(f"--ingress-controller {err}") from None
    shown = shown_namespaces(namespaces, all_namespaces)
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    directions = ("ingress", "egress") if direction == "both" else (direction,)
    view = exposure_with_paths(result, level, shown, specs, directions)
    if output == "json":
        click.echo(exposure_report.render_json(view), nl=False)
    else:
        click.echo(exposure_report.render_table(view), nl=False)
    print_alerts(result.alerts, quiet)
