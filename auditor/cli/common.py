"""What every command shares: the input options, loading, the analysis call, warnings and exit codes.

Exit codes (the same for every command, also as `kubectl netaudit`):
  0  success
  1  the command's check failed (check: findings at --fail-on; diff: newly allowed flows; verify: mismatches)
  2  usage error, unreadable input with nothing usable left, or a cluster that cannot be reached
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import sys

import click

from ..model import ClusterState

EXIT_OK, EXIT_FAILED_CHECK, EXIT_USAGE = 0, 1, 2


class InputError(click.ClickException):
    """Input that cannot be used: printed as one `error:` line, exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def source_options(func):
    """The options that say where the cluster comes from and how to judge it; every reading command takes them."""
    @click.option("-f", "--manifests", "manifests", multiple=True, metavar="PATH",
                  help="Read YAML/JSON manifests from files or folders instead of a cluster (repeatable).")
    @click.option("--snapshot", metavar="FILE", help="Read a snapshot saved by `netaudit snapshot`.")
    @click.option("--kubeconfig", metavar="FILE", envvar="KUBECONFIG", help="Path to the kubeconfig file.")
    @click.option("--context", metavar="NAME", help="The kubeconfig context to use.")
    @click.option("-n", "--namespace", "namespaces", multiple=True, metavar="NS",
                  help="Only show these namespaces (repeatable). The whole cluster is still read, because "
                       "policies elsewhere decide what reaches them.")
    @click.option("-A", "--all-namespaces", is_flag=True, help="Show every namespace (the default).")
    @click.option("--promote-staged", is_flag=True,
                  help="Evaluate Calico staged policies as if they were enforced (a preview).")
    @click.option("--calico-version", metavar="X.Y",
                  help="Judge as this Calico version does (offline; live clusters report their own).")
    @click.option("-q", "--quiet", is_flag=True,
                  help="Do not print warnings on stderr. Errors (input that was skipped) are always printed.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def shown_namespaces(namespaces, all_namespaces) -> tuple[str, ...]:
    """The namespaces a command limits its output to: none (everything) with -A."""
    return () if all_namespaces else tuple(namespaces)


def say(text: str) -> None:
    """Progress on stderr, only when a person is watching (a terminal); pipes and CI logs stay clean."""
    if progress_enabled():
        sys.stderr.write("\r\033[K" + (f"netaudit: {text}" if text else ""))
        sys.stderr.flush()


def progress_enabled() -> bool:
    return sys.stderr.isatty()


OFFLINE_HINT = "or read manifests with -f PATH (or a snapshot with --snapshot FILE)"


def load_state(manifests, snapshot, kubeconfig, context, namespaces: tuple[str, ...] = (),
               offline_hint: str = OFFLINE_HINT) -> ClusterState:
    """Read the cluster state from manifests, a snapshot or the live cluster; InputError when nothing is usable.
    `offline_hint`: what the command accepts instead of a cluster, said when there is none."""
    from ..sources.documents import ManifestError
    say("reading " + ("manifests" if manifests else "snapshot" if snapshot else "the cluster"))
    if manifests and snapshot:
        raise InputError("give either --manifests or --snapshot, not both")
    try:
        if manifests:
            from ..sources.manifests import load_manifests
            state = load_manifests(manifests)
        elif snapshot:
            from ..sources.snapshot import SnapshotError, read_snapshot
            try:
                state = read_snapshot(snapshot)
            except SnapshotError as err:
                raise InputError(str(err)) from None
        else:
            from ..sources.live import LiveSourceError, load_live
            try:
                state = load_live(kubeconfig=kubeconfig, context=context, progress=progress_enabled(),
                                  namespaces=tuple(namespaces))
            except LiveSourceError as err:
                raise InputError(f"{err}, {offline_hint}" if err.no_cluster and offline_hint else str(err)) from None
    except ManifestError as err:
        raise InputError(str(err)) from None
    say("")
    if not state.pods and not state.policies:
        print_alerts(state.alerts, quiet=False)
        raise InputError("nothing usable in the input: no pods, workloads or policies were read")
    return state


def load_path(path: str) -> ClusterState:
    """A snapshot file (netaudit snapshot) or manifests, told apart by content."""
    if os.path.isfile(path) and (path.endswith((".json", ".json.gz"))):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                head = json.load(handle)
            if isinstance(head, dict) and head.get("kind") == "ClusterSnapshot":
                return load_state((), path, None, None)
        except (OSError, ValueError):
            pass
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    return load_state((path,), None, None, None)


def print_alerts(alerts, quiet: bool, limit: int = 20) -> None:
    """Errors (input that was skipped: the result is incomplete) always, every one of them; warnings unless -q,
    the first `limit` of them."""
    errors = [a for a in alerts if a.severity == "error"]
    for alert in errors:
        click.echo(f"error: {alert.message}", err=True)
    if quiet:
        return
    warnings = [a for a in alerts if a.severity != "error"]
    for alert in warnings[:limit]:
        click.echo(f"{alert.severity}: {alert.message}", err=True)
    if len(warnings) > limit:
        click.echo(f"... and {len(warnings) - limit} more warnings (see `-o json`)", err=True)


def analyze_state(state, promote_staged, calico_version):
    """The analysis, with progress on a terminal."""
    from ..analysis import AnalyzeOptions, analyze
    say(f"analyzing {len(state.pods)} pods and {len(state.policies)} policies")
    try:
        return analyze(state, AnalyzeOptions(promote_staged=promote_staged, calico_version=calico_version))
    finally:
        say("")


def write_stdout(text: str) -> None:
    """Large outputs are written in chunks as they are computed."""
    click.echo(text, nl=False)


def object_namespace(obj: str) -> str | None:
    """The namespace an object reference names: 'NetworkPolicy ns/name' -> ns; 'ns/Kind/name' -> ns;
    'Namespace ns' -> ns; cluster-scoped objects -> None."""
    text = obj.split(" ", 1)[1] if " " in obj else obj
    return text.split("/", 1)[0] if "/" in text or obj.startswith("Namespace ") else None


def findings_in(findings, namespaces: tuple[str, ...]):
    """With -n: the findings that name an object of those namespaces, or no object at all."""
    if not namespaces:
        return findings
    wanted = set(namespaces)
    return [f for f in findings if not f.objects or any(object_namespace(o) in wanted for o in f.objects)]
