"""netaudit's command line: click options turned into library calls (analysis.py), nothing more.

Exit codes (the same for every command, also as `kubectl netaudit`):
  0  success
  1  the command's check failed (check: findings at --fail-on; diff: newly allowed flows; verify: mismatches)
  2  usage error, unreadable input with nothing usable left, or a cluster that cannot be reached
"""

from __future__ import annotations

import functools
import os
import sys

import click

from . import __version__
from .model import ClusterState

EXIT_OK, EXIT_FAILED_CHECK, EXIT_USAGE = 0, 1, 2

SOURCE_HELP = """
\b
Input (pick one; with none, the cluster of the current kubeconfig context is read):
  -f/--manifests PATH   YAML/JSON files or folders (repeatable; '-' reads stdin)
  --snapshot FILE       a snapshot saved by `netaudit snapshot`
  --kubeconfig/--context  which cluster, as in kubectl
"""


class InputError(click.ClickException):
    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def source_options(func):
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
    @click.option("-q", "--quiet", is_flag=True, help="Do not print warnings on stderr.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


def _say(text: str) -> None:
    """Progress on stderr, only when a person is watching (a terminal); pipes and CI logs stay clean."""
    if _progress_enabled():
        sys.stderr.write("\r\033[K" + (f"netaudit: {text}" if text else ""))
        sys.stderr.flush()


def _load(manifests, snapshot, kubeconfig, context, namespaces: tuple[str, ...] = ()) -> ClusterState:
    from .sources.manifests import ManifestError
    _say("reading " + ("manifests" if manifests else "snapshot" if snapshot else "the cluster"))
    if manifests and snapshot:
        raise InputError("give either --manifests or --snapshot, not both")
    try:
        if manifests:
            from .sources.manifests import load_manifests
            state = load_manifests(manifests)
        elif snapshot:
            from .sources.snapshot import SnapshotError, read_snapshot
            try:
                state = read_snapshot(snapshot)
            except SnapshotError as err:
                raise InputError(str(err)) from None
        else:
            from .sources.live import LiveSourceError, load_live
            try:
                state = load_live(kubeconfig=kubeconfig, context=context, progress=_progress_enabled(),
                                  namespaces=tuple(namespaces))
            except LiveSourceError as err:
                raise InputError(str(err)) from None
    except ManifestError as err:
        raise InputError(str(err)) from None
    _say("")
    if not state.pods and not state.policies:
        _print_alerts(state.alerts, quiet=False)
        raise InputError("nothing usable in the input: no pods, workloads or policies were read")
    return state


def _progress_enabled() -> bool:
    return sys.stderr.isatty()


def _print_alerts(alerts, quiet: bool, limit: int = 20) -> None:
    if quiet or not alerts:
        return
    for alert in alerts[:limit]:
        click.echo(f"{alert.severity}: {alert.message}", err=True)
    if len(alerts) > limit:
        click.echo(f"... and {len(alerts) - limit} more warnings (see `-o json`)", err=True)


def _analyze(state, promote_staged, calico_version):
    from .analysis import AnalyzeOptions, analyze
    _say(f"analyzing {len(state.pods)} pods and {len(state.policies)} policies")
    try:
        return analyze(state, AnalyzeOptions(promote_staged=promote_staged, calico_version=calico_version))
    finally:
        _say("")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="netaudit")
def main():
    """Audit the network policy of a Kubernetes cluster: who can reach whom, on which ports, and why.

    netaudit reads Pods, Namespaces, Services and every NetworkPolicy from the cluster of your current
    kubeconfig context (read-only), or from manifests with -f, and computes the effective connectivity.

    \b
    Examples:
      netaudit matrix -f examples/shop/                  # who can reach whom, from manifests
      netaudit matrix --level namespace                  # the live cluster, one row per namespace
      netaudit matrix -f k8s/ -o json > matrix.json      # machine-readable (schema netaudit/v1)
      netaudit explain shop-web/frontend shop-api/cart --port 8080/TCP -f examples/shop/

    Exit codes: 0 success; 1 a check failed (check, diff, verify); 2 bad usage, unusable input or unreachable
    cluster.
    """


@main.command()
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
    state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
    result = _analyze(state, promote_staged, calico_version)
    shown = () if all_namespaces else namespaces
    if level == "service":
        from .engine.services import reachability
        from .report import services as service_report
        results = reachability(result, clients, shown)
        if output == "json":
            click.echo(service_report.render_json(results, clients, result.alerts), nl=False)
        else:
            click.echo(service_report.render_table(results, show_all=view == "list"), nl=False)
        _print_alerts(result.alerts, quiet)
        return
    view_data = result.matrix_view(level=level, namespaces=shown)
    if output == "json":
        from .report.json_matrix import render
        click.echo(render(view_data), nl=False)
    else:
        from .report.table import render
        click.echo(render(view_data, view), nl=False)
    _print_alerts(result.alerts, quiet)


@main.command()
@click.argument("source")
@click.argument("destination")
@click.option("--port", "port_text", metavar="PORT/PROTO",
              help="The port to explain, e.g. 80/TCP, 53/UDP, 80 (TCP), or ICMP. Not needed for svc: destinations.")
@source_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(source, destination, port_text, manifests, snapshot, kubeconfig, context, namespaces, all_namespaces,
            promote_staged, calico_version, quiet, output):
    """Why SOURCE can or cannot reach DESTINATION on one port.

    SOURCE and DESTINATION are pods (namespace/name), workloads (namespace/Kind/name) or addresses
    (ip:203.0.113.7). For each direction it shows which policies select the endpoint, tier by tier, and which
    rule decided, or that none did. DESTINATION may also be a Service port, svc:NAMESPACE/NAME:PORT (number or
    name): each ready backend is explained on its own target port, as policy sees the connection after DNAT.

    \b
    Examples:
      netaudit explain shop-web/frontend shop-api/cart --port 8080/TCP -f examples/shop/
      netaudit explain shop-web/frontend svc:shop-api/cart:http -f examples/shop/
    """
    from .engine.explain import EndpointNotFound
    from .engine.explain import explain as explain_flow
    from .engine.ports import parse_port_text
    if destination.startswith("svc:"):
        if port_text:
            raise click.BadParameter("a svc: destination names its port: drop --port", param_hint="--port")
        from .engine.services import ServiceNotFound, explain_service
        from .report.explain_text import render_service_json, render_service_text
        state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
        result = _analyze(state, promote_staged, calico_version)
        try:
            sexp = explain_service(result, source, destination)
        except (ServiceNotFound, EndpointNotFound) as err:
            raise InputError(str(err)) from None
        click.echo(render_service_json(sexp) if output == "json" else render_service_text(sexp), nl=False)
        _print_alerts(result.alerts, quiet)
        return
    if not port_text:
        raise click.BadParameter("give the port to explain, e.g. --port 80/TCP", param_hint="--port")
    try:
        protocol, port = parse_port_text(port_text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--port") from None
    state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
    result = _analyze(state, promote_staged, calico_version)
    try:
        exp = explain_flow(result, source, destination, protocol, port)
    except EndpointNotFound as err:
        raise InputError(str(err)) from None
    from .report.explain_text import render_json, render_text
    click.echo(render_json(exp) if output == "json" else render_text(exp), nl=False)
    _print_alerts(result.alerts, quiet)


@main.command()
@source_options
@click.option("-o", "--output", "output_path", required=True, metavar="FILE",
              help="Where to write the snapshot (JSON; a name ending in .gz is compressed; '-' for stdout).")
def snapshot(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
             quiet, output_path):
    """Save what was read (the normalized cluster state) as a versioned JSON snapshot.

    Analyze it later, anywhere, with `--snapshot FILE` on any command: for air-gapped review, bug reports,
    or as the baseline for drift.
    """
    from .sources.snapshot import write_snapshot
    state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
    try:
        write_snapshot(state, output_path)
    except OSError as err:
        raise InputError(f"cannot write {output_path}: {err.strerror or err}") from None
    if output_path != "-" and not quiet:
        click.echo(f"wrote {output_path}: {len(state.namespaces)} namespaces, {len(state.pods)} pods, "
                   f"{len(state.policies)} policies", err=True)
    _print_alerts(state.alerts, quiet)


@main.command()
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
    from .findings import SEVERITIES, run_checks
    from .report import findings as findings_report
    state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
    result = _analyze(state, promote_staged, calico_version)
    findings = run_checks(result)
    if namespaces and not all_namespaces:
        wanted = set(namespaces)
        findings = [f for f in findings if not f.objects or any(_object_namespace(o) in wanted for o in f.objects)]
    if output == "json":
        click.echo(findings_report.render_json(findings, result.alerts), nl=False)
    elif output == "sarif":
        sources = {str(p.ref): p.source for p in state.policies if p.source}
        click.echo(findings_report.render_sarif(findings, sources), nl=False)
    else:
        click.echo(findings_report.render_table(findings), nl=False)
    _print_alerts(result.alerts, quiet)
    if fail_on != "never":
        limit = SEVERITIES.index(fail_on)
        if any(SEVERITIES.index(f.severity) <= limit for f in findings):
            sys.exit(EXIT_FAILED_CHECK)


def _object_namespace(obj: str) -> str | None:
    """'NetworkPolicy ns/name' -> ns; 'ns/Kind/name' -> ns; 'Namespace ns' -> ns."""
    text = obj.split(" ", 1)[1] if " " in obj else obj
    return text.split("/", 1)[0] if "/" in text or obj.startswith("Namespace ") else None


@main.command()
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
    from .dns.names import dns_records
    from .dns.reachability import dns_findings, dns_path
    from .dns.settings import dns_settings
    if dns_service.count("/") != 1:
        raise click.BadParameter("expected NAMESPACE/NAME, e.g. kube-system/kube-dns", param_hint="--dns-service")
    service = tuple(dns_service.split("/"))
    state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
    result = _analyze(state, promote_staged, calico_version)
    settings, alerts = dns_settings(state)
    records = [] if no_records else dns_records(state, settings)
    shown = set(namespaces) if namespaces and not all_namespaces else None
    if shown:
        records = [r for r in records if r.owner.split(" ", 1)[1].split("/")[0] in shown]
    findings = dns_findings(result, service)
    if shown:
        findings = [f for f in findings if f.objects and f.objects[0].split("/")[0] in shown]
    path = dns_path(result, service)
    from .report import dns as dns_report
    if output == "json":
        click.echo(dns_report.render_json(settings, path, records, findings, result.alerts + alerts), nl=False)
    else:
        click.echo(dns_report.render_text(settings, path, records, findings), nl=False)
    _print_alerts(result.alerts + alerts, quiet)


@main.command()
@click.argument("inputs", nargs=-1, metavar="[OLD NEW]")
@source_options
@click.option("--with", "with_paths", multiple=True, metavar="PATH",
              help="What-if: apply these manifests to the current state (repeatable).")
@click.option("--without", "without", multiple=True, metavar="KIND/NS/NAME",
              help="What-if: remove this object from the current state (repeatable), e.g. "
                   "NetworkPolicy/shop-api/default-deny.")
@click.option("--level", type=click.Choice(["pod", "workload", "namespace"]), default="workload", show_default=True)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def diff(inputs, manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged,
         calico_version, quiet, with_paths, without, level, output):
    """What changed: flows newly allowed, newly denied, or newly unknown.

    \b
    Two states:   netaudit diff old.json new.json          (snapshots, or manifest folders)
    What-if:      netaudit diff --with new-policy.yaml     (current state vs. current + the change)
                  netaudit diff -f k8s/ --with pr/ --without NetworkPolicy/shop/allow-all

    Exit code 1 when something is newly allowed, so a pipeline can stop a change that opens access.
    """
    from .engine.diff import diff_views
    from .report import diff as diff_report
    from .sources.overlay import OverlayError, apply_overlay
    if inputs and (with_paths or without):
        raise InputError("give either two states (OLD NEW) or --with/--without, not both")
    if inputs:
        if len(inputs) != 2:
            raise InputError("diff takes two states: OLD NEW (snapshot files or manifest folders)")
        old_state, new_state = (_load_one(i) for i in inputs)
    elif with_paths or without:
        old_state = _load(manifests, snapshot, kubeconfig, context, () if all_namespaces else namespaces)
        try:
            new_state = apply_overlay(old_state, list(with_paths), list(without))
        except OverlayError as err:
            raise InputError(str(err)) from None
    else:
        raise InputError("nothing to compare: give OLD NEW, or --with/--without (see --help)")
    shown = () if all_namespaces else namespaces
    old_view = _analyze(old_state, promote_staged, calico_version).matrix_view(level, shown)
    new_result = _analyze(new_state, promote_staged, calico_version)
    new_view = new_result.matrix_view(level, shown)
    result = diff_views(old_view, new_view)
    click.echo(diff_report.render_json(result) if output == "json" else diff_report.render_text(result), nl=False)
    _print_alerts(new_result.alerts, quiet)
    if result.newly_allowed:
        sys.exit(EXIT_FAILED_CHECK)


def _load_one(path: str) -> ClusterState:
    """A snapshot file (netaudit snapshot) or manifests, told apart by content."""
    import json as _json
    if os.path.isfile(path) and (path.endswith((".json", ".json.gz"))):
        try:
            opener = __import__("gzip").open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                head = _json.load(handle)
            if isinstance(head, dict) and head.get("kind") == "ClusterSnapshot":
                return _load((), path, None, None)
        except (OSError, ValueError):
            pass
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    return _load((path,), None, None, None)


# Commands with a module of their own register themselves on `main` when imported.
from . import cli_report, cli_verify  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
