"""`netaudit dns`: the names cluster DNS serves, and whether every pod can still reach it."""

from __future__ import annotations

import click

from .common import analyze_state, load_state, print_alerts, shown_namespaces, source_options


@click.command()
@source_options
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--dns-service", default="kube-system/kube-dns", show_default=True, metavar="NS/NAME",
              help="The Service pods use for DNS.")
@click.option("--no-records", is_flag=True, help="Only check DNS reachability; do not list the names.")
def dns(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version, quiet,
        output, dns_service, no_records):
    """Cluster DNS: the names it serves, and whether every pod can still reach it.

    Reads the CoreDNS Corefile (ConfigMap kube-system/coredns) for the cluster domain and pods mode, lists the
    A/AAAA, SRV and CNAME names of Services and Pods, and checks that each pod using cluster DNS can reach the
    DNS backends (CoreDNS pods, or NodeLocal DNSCache) on 53/UDP and 53/TCP through its policies.
    """
    from ..dns.names import dns_records
    from ..dns.reachability import dns_path
    from ..dns.settings import dns_settings
    from ..findings.dns import dns_findings
    from ..report import dns as dns_report
    if dns_service.count("/") != 1:
        raise click.BadParameter("expected NAMESPACE/NAME, e.g. kube-system/kube-dns", param_hint="--dns-service")
    service = tuple(dns_service.split("/"))
    shown = shown_namespaces(namespaces, all_namespaces)
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    settings, alerts = dns_settings(state)
    records = [] if no_records else dns_records(state, settings)
    findings = dns_findings(result, service)
    if shown:
        records = [r for r in records if r.owner.split(" ", 1)[1].split("/")[0] in shown]
        findings = [f for f in findings if f.objects and f.objects[0].split("/")[0] in shown]
    path = dns_path(result, service)
    if output == "json":
        click.echo(dns_report.render_json(settings, path, records, findings, result.alerts + alerts), nl=False)
    else:
        click.echo(dns_report.render_text(settings, path, records, findings), nl=False)
    print_alerts(result.alerts + alerts, quiet)
