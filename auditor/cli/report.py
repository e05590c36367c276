"""`netaudit report`: a report to read or share (HTML, Markdown, Graphviz dot, CSV), with drift and the scheduled
audit's ConfigMap store."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from .common import (
    EXIT_FAILED_CHECK,
    InputError,
    analyze_state,
    findings_in,
    load_path,
    load_state,
    print_alerts,
    shown_namespaces,
    source_options,
)

FORMATS = ("html", "markdown", "dot", "csv")


@click.command()
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
@click.option("--store", metavar="configmap:NS/NAME",
              help="The scheduled audit: use the snapshot stored in this ConfigMap as the baseline, then store this "
                   "run's snapshot there (compressed; the only write netaudit does besides verify). Live cluster only.")
@click.option("--fail-on", type=click.Choice(["high", "medium", "low", "info", "never"]), default="never",
              show_default=True,
              help="Exit 1 on findings of this severity or worse: only new ones (absent from the baseline) when "
                   "there is a baseline or store, else all.")
@click.option("--grouped", is_flag=True,
              help="Flows between groups of endpoints even when there are few pairs (they are grouped anyway beyond "
                   "2,000 pairs, so the page stays small at any size).")
@click.option("--explain-limit", type=click.IntRange(min=0), default=300, show_default=True, metavar="N",
              help="html: explain only the first N flows (each explanation is a tier walk; big clusters have many "
                   "flows).")
def report(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
           quiet, output, level, baseline, store, fail_on, grouped, explain_limit):
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
    from ..findings import run_checks
    from ..report.bundle import build_bundle
    shown = shown_namespaces(namespaces, all_namespaces)
    state = load_state(manifests, snapshot, kubeconfig, context, shown)
    result = analyze_state(state, promote_staged, calico_version)
    findings = findings_in(run_checks(result), shown)
    baseline_origin = None
    baseline_state = None
    previous = None
    store_target = client = None
    if store:
        from ..sources.live import LiveSourceError, api_client
        from ..sources.store import Store, StoreError, load_previous
        if manifests or snapshot or baseline:
            raise InputError("--store works on the live cluster and replaces --baseline: drop -f/--snapshot/--baseline")
        try:
            store_target = Store.parse(store)
            client = api_client(kubeconfig, context)
            baseline_state = load_previous(client, store_target)
        except (StoreError, LiveSourceError) as err:
            raise InputError(str(err)) from None
        baseline_origin = f"ConfigMap {store_target.namespace}/{store_target.name} (previous run)"
    elif baseline:
        baseline_state = load_path(baseline)
        baseline_origin = baseline_state.origin or baseline
    previous_findings = None
    if baseline_state is not None:
        previous = analyze_state(baseline_state, promote_staged, calico_version)
        previous_findings = {(f.code, f.message) for f in run_checks(previous)}
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bundle = build_bundle(result, level, shown, baseline=previous, baseline_origin=baseline_origin,
                          explain_limit=explain_limit, findings=findings, generated=generated, grouped=grouped)
    if output == "html":
        from ..report.html import render
    elif output == "markdown":
        from ..report.markdown import render
    elif output == "dot":
        from ..report.dot import render
    else:
        from ..report.csv_report import render
    click.echo(render(bundle), nl=False)
    print_alerts(result.alerts, quiet)
    failed = bundle.drift is not None and bundle.drift.opens
    new_findings = [f for f in findings if previous_findings is None or (f.code, f.message) not in previous_findings]
    if fail_on != "never":
        from ..findings import SEVERITIES
        failed = failed or any(SEVERITIES.index(f.severity) <= SEVERITIES.index(fail_on) for f in new_findings)
    if store_target is not None:
        from ..sources.store import StoreError, save
        try:
            size = save(client, store_target, state)
        except StoreError as err:
            raise InputError(str(err)) from None
        drift = bundle.drift
        summary = (f"netaudit: {len(state.pods)} pods, {len(state.policies)} policies; {len(findings)} findings "
                   f"({len(new_findings)} new); ")
        summary += (f"drift: {drift_counts(drift)}" if drift is not None else "first run: no baseline yet")
        summary += f"; snapshot stored in ConfigMap {store_target.namespace}/{store_target.name} ({size // 1024} KiB)"
        click.echo(summary, err=True)
    if failed:
        sys.exit(EXIT_FAILED_CHECK)


def drift_counts(drift) -> str:
    """'3 newly allowed, 1 newly denied' (pairs), counted from the change blocks without expanding them."""
    opened = sum(_pairs(b) for b in drift.blocks if b.opened) + sum(len(s.group.members) for s in drift.self_changes
                                                                     if s.opened)
    closed = sum(_pairs(b) for b in drift.blocks if b.closed) + sum(len(s.group.members) for s in drift.self_changes
                                                                    if s.closed)
    return f"{opened} newly allowed, {closed} newly denied"


def _pairs(block) -> int:
    """Pairs (a, b), a != b, of a change block."""
    overlap = len(set(block.src.members) & set(block.dst.members))
    return len(block.src.members) * len(block.dst.members) - overlap
