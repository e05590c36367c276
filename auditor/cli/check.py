"""`netaudit check`: the findings, most severe first; a CI gate with --fail-on."""

from __future__ import annotations

import sys

import click

from .common import (
    EXIT_FAILED_CHECK,
    analyze_state,
    findings_in,
    load_state,
    print_alerts,
    shown_namespaces,
    source_options,
)


@click.command()
@source_options
@click.option("-o", "--output", type=click.Choice(["table", "json", "sarif"]), default="table", show_default=True,
              help="table: for people; json: netaudit/v1 Findings; sarif: SARIF 2.1.0 for code-scanning tools.")
@click.option("--fail-on", type=click.Choice(["high", "medium", "low", "info", "never"]), default="high",
              show_default=True, help="Exit with code 1 when a finding of this severity or worse exists.")
def check(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
          quiet, output, fail_on):
    """List what is wrong or risky: findings with a stable code, severity, the objects and a fix hint.

    \b
    Examples:
      netaudit check                                # the live cluster
      netaudit check -f k8s/ --fail-on medium       # a CI gate on manifests
      netaudit check -f k8s/ -o sarif > netaudit.sarif
    """
    from ..findings import SEVERITIES, run_checks
    from ..report import findings as findings_report
    shown = shown_namespaces(namespaces, all_namespaces)
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    findings = findings_in(run_checks(result), shown)
    if output == "json":
        click.echo(findings_report.render_json(findings, result.alerts), nl=False)
    elif output == "sarif":
        sources = {str(p.ref): p.source for p in state.policies if p.source}
        click.echo(findings_report.render_sarif(findings, sources), nl=False)
    else:
        click.echo(findings_report.render_table(findings), nl=False)
    print_alerts(result.alerts, quiet)
    if fail_on != "never":
        limit = SEVERITIES.index(fail_on)
        if any(SEVERITIES.index(f.severity) <= limit for f in findings):
            sys.exit(EXIT_FAILED_CHECK)
