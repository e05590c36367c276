"""The `report` command (HTML, Markdown, Graphviz dot, CSV). Registers itself on `auditor.cli.main`."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from .cli import (
    EXIT_FAILED_CHECK,
    _analyze,
    _load,
    _load_one,
    _object_namespace,
    _print_alerts,
    main,
    source_options,
)

FORMATS = ("html", "markdown", "dot", "csv")


@main.command()
@source_options
@click.option("-o", "--output", type=click.Choice(FORMATS), default="html", show_default=True,
              help="html: one self-contained page (summary, findings, filterable matrix, explained flows); "
                   "markdown: summary, findings and flows tables; dot: a Graphviz graph of the allowed flows; "
                   "csv: one row per connection.")
@click.option("--level", type=click.Choice(["pod", "workload", "namespace"]), default="workload",
              show_default=True, help="One endpoint per pod, per workload or per namespace.")
@click.option("--baseline", metavar="FILE",
              help="A snapshot saved by `netaudit snapshot` (or a manifests folder) to compare with: adds the flows "
                   "newly allowed and newly denied (html, markdown), and exits 1 when something is newly allowed.")
@click.option("--explain-limit", type=click.IntRange(min=0), default=300, show_default=True, metavar="N",
              help="html: explain only the first N flows (each explanation is a tier walk; big clusters have many "
                   "flows).")
def report(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
           quiet, output, level, baseline, explain_limit):
    """A report to read or share: what was read, the findings, who can reach whom, and why.

    The report goes to stdout. The HTML page is one file with no network requests at all (inline style and
    script), safe to attach to a ticket or open offline.

    \b
    Examples:
      netaudit report -o html > report.html                   # the live cluster
      netaudit report -f examples/shop/ -o markdown > report.md
      netaudit report -f k8s/ -o dot | dot -Tsvg > flows.svg
      netaudit report -f k8s/ -o csv --level namespace > flows.csv
      netaudit report --baseline last-week.json -o html > report.html   # with drift; exit 1 if newly allowed

    Exit codes: 0 success; 1 --baseline given and some flow is newly allowed; 2 bad usage or unusable input.
    """
    from .findings import run_checks
    from .report.bundle import build_bundle
    state = _load(manifests, snapshot, kubeconfig, context)
    result = _analyze(state, promote_staged, calico_version)
    shown = () if all_namespaces else tuple(namespaces)
    findings = run_checks(result)
    if shown:
        wanted = set(shown)
        findings = [f for f in findings if not f.objects or any(_object_namespace(o) in wanted for o in f.objects)]
    baseline_view = baseline_origin = None
    if baseline:
        baseline_state = _load_one(baseline)
        baseline_view = _analyze(baseline_state, promote_staged, calico_version).matrix_view(level, shown)
        baseline_origin = baseline_state.origin or baseline
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bundle = build_bundle(result, level, shown, baseline_view=baseline_view, baseline_origin=baseline_origin,
                          explain_limit=explain_limit, findings=findings, generated=generated)
    if output == "html":
        from .report.html import render
    elif output == "markdown":
        from .report.markdown import render
    elif output == "dot":
        from .report.dot import render
    else:
        from .report.csv_report import render
    click.echo(render(bundle), nl=False)
    _print_alerts(result.alerts, quiet)
    if bundle.drift is not None and bundle.drift.newly_allowed:
        sys.exit(EXIT_FAILED_CHECK)
