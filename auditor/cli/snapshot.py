"""`netaudit snapshot`: save what was read, to analyze later anywhere."""

from __future__ import annotations

import click

from .common import InputError, load_state, print_alerts, shown_namespaces, source_options


@click.command()
@source_options
@click.option("-o", "--output", "output_path", required=True, metavar="FILE",
              help="Where to write the snapshot (JSON; a name ending in .gz is compressed; '-' for stdout).")
def snapshot(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
             quiet, output_path):
    """Save what was read (the normalized cluster state) as a versioned JSON snapshot.

    Analyze it later, anywhere, with `--snapshot FILE` on any command: for air-gapped review, bug reports,
    or as the baseline for drift.
    """
    from ..sources.snapshot import write_snapshot
    state = load_state(manifests, snapshot, kubeconfig, context, shown_namespaces(namespaces, all_namespaces))
    try:
        write_snapshot(state, output_path)
    except OSError as err:
        raise InputError(f"cannot write {output_path}: {err.strerror or err}") from None
    if output_path != "-" and not quiet:
        click.echo(f"wrote {output_path}: {len(state.namespaces)} namespaces, {len(state.pods)} pods, "
                   f"{len(state.policies)} policies", err=True)
    print_alerts(state.alerts, quiet)
