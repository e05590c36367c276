"""`netaudit diff`: what a change opens, closes or makes unknown (two states, or what-if)."""

from __future__ import annotations

import sys

import click

from .common import (
    EXIT_FAILED_CHECK,
    InputError,
    analyze_state,
    load_path,
    load_state,
    print_alerts,
    shown_namespaces,
    source_options,
    write_stdout,
)


@click.command()
@click.argument("inputs", nargs=-1, metavar="[OLD NEW]")
@source_options
@click.option("--with", "with_paths", multiple=True, metavar="PATH",
              help="What-if: apply these manifests to the current state (repeatable).")
@click.option("--without", "without", multiple=True, metavar="KIND/NS/NAME",
              help="What-if: remove this object from the current state (repeatable), e.g. "
                   "NetworkPolicy/shop-api/default-deny.")
@click.option("--level", type=click.Choice(["pod", "workload", "namespace"]), default="workload", show_default=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: changed pairs, or groups of them when there are many; json: every changed pair "
                   "(ConnectivityDiff), or with --grouped the change blocks between groups.")
@click.option("--grouped", is_flag=True, help="Groups of flows: with -o json the ConnectivityDiffGroups form, in "
                                              "the table one line per change block even when few pairs changed.")
def diff(inputs, manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged,
         calico_version, quiet, with_paths, without, level, output, grouped):
    """What changed: flows newly allowed, newly denied, or newly unknown.

    \b
    Two states:   netaudit diff old.json new.json          (snapshots, or manifest folders)
    What-if:      netaudit diff --with new-policy.yaml     (current state vs. current + the change)
                  netaudit diff -f k8s/ --with pr/ --without NetworkPolicy/shop/allow-all

    Exit code 1 when something is newly allowed, so a pipeline can stop a change that opens access.
    """
    from ..engine.diff import diff_analyses
    from ..report import diff as diff_report
    from ..sources.overlay import OverlayError, apply_overlay
    shown = shown_namespaces(namespaces, all_namespaces)
    if inputs and (with_paths or without):
        raise InputError("give either two states (OLD NEW) or --with/--without, not both")
    if inputs:
        if len(inputs) != 2:
            raise InputError("diff takes two states: OLD NEW (snapshot files or manifest folders)")
        old_state, new_state = (load_path(i) for i in inputs)
    elif with_paths or without:
        old_state = load_state(manifests, snapshot, kubeconfig, context, shown)
        try:
            new_state = apply_overlay(old_state, list(with_paths), list(without))
        except OverlayError as err:
            raise InputError(str(err)) from None
    else:
        raise InputError("nothing to compare: give OLD NEW, or --with/--without (see --help)")
    old_result = analyze_state(old_state, promote_staged, calico_version)
    new_result = analyze_state(new_state, promote_staged, calico_version)
    result = diff_analyses(old_result, new_result, level, shown)
    if output == "json":
        (diff_report.write_grouped_json if grouped else diff_report.write_json)(result, write_stdout)
    else:
        click.echo(diff_report.render_text(result, grouped=True if grouped else None), nl=False)
    print_alerts(new_result.alerts, quiet)
    if result.opens:
        sys.exit(EXIT_FAILED_CHECK)
