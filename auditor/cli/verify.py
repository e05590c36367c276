"""`netaudit verify`: check the prediction against the real dataplane with short-lived probe Pods."""

from __future__ import annotations

import sys

import click

from .common import (
    EXIT_FAILED_CHECK,
    EXIT_USAGE,
    InputError,
    analyze_state,
    load_state,
    print_alerts,
    shown_namespaces,
    source_options,
)


def _key_values(values, flag: str) -> dict[str, str]:
    out = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint=flag)
        out[key] = value
    return out


def _tolerations(values) -> list[dict]:
    """KEY[=VALUE][:EFFECT], as `kubectl taint` writes taints; without a value the operator is Exists."""
    out = []
    for text in values:
        body, _, effect = text.partition(":")
        key, sep, value = body.partition("=")
        if not key:
            raise click.BadParameter(f"expected KEY[=VALUE][:EFFECT], got {text!r}", param_hint="--toleration")
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise click.BadParameter(f"effect must be NoSchedule, PreferNoSchedule or NoExecute, not {effect!r}",
                                     param_hint="--toleration")
        toleration = {"key": key, "operator": "Equal" if sep else "Exists"}
        if sep:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        out.append(toleration)
    return out


@click.command()
@source_options
@click.option("--dry-run", is_flag=True,
              help="Print the plan (and, with -o json, the probe Pod manifests); touch nothing. Works on -f too.")
@click.option("--cleanup", is_flag=True,
              help="Delete the probe pods any earlier run left behind (label netaudit.dev/probe=true), in every "
                   "namespace, then exit.")
@click.option("--from", "from_", metavar="NS/POD", help="Probe only from this pod or workload (ns/Kind/name).")
@click.option("--to", metavar="NS/POD", help="Probe only to this pod or workload (ns/Kind/name).")
@click.option("--max-probes", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most this many probes; every (source, destination) pair gets its first before any its "
                   "second.")
@click.option("--probe-image", default="busybox:1.36", show_default=True, metavar="IMAGE",
              help="The probe container's image: it needs /bin/sh, nc (with -w) and nslookup, run as user 65534.")
@click.option("--node-selector", "node_selector", multiple=True, metavar="KEY=VALUE",
              help="Run probe pods only on nodes with this label (repeatable).")
@click.option("--toleration", "tolerations", multiple=True, metavar="KEY[=VALUE][:EFFECT]",
              help="Let probe pods run on nodes with this taint (repeatable).")
@click.option("--timeout", type=click.IntRange(min=1), default=120, show_default=True, metavar="SECONDS",
              help="How long to wait for the probe pods to start.")
@click.option("--probe-timeout", type=click.IntRange(1, 30), default=3, show_default=True, metavar="SECONDS",
              help="Connect timeout of one try.")
@click.option("--tries", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Tries per probe before it counts as dropped; mixed results are reported as flaky.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for people; json: netaudit/v1 VerificationReport (VerificationPlan with --dry-run).")
def verify(manifests, snapshot, kubeconfig, context, namespaces, all_namespaces, promote_staged, calico_version,
           quiet, dry_run, cleanup, from_, to, max_probes, probe_image, node_selector, tolerations, timeout,
           probe_timeout, tries, output):
    """Check the prediction against the real dataplane with short-lived probe Pods.

    For each group of pods that policies treat alike, one probe Pod is created in the source pod's namespace
    with its labels and service account, so the same policies select it. It tries a few ports on one real
    pod of each destination group: one predicted allowed, one predicted denied, and the destination's Service
    target ports. Every probe is retried; each result is compared with the prediction:

    \b
      match        the dataplane did what netaudit predicted
      false-allow  predicted denied, but the connection got through (a policy hole, or a gap in the model)
      false-deny   predicted allowed, but the packets were dropped
      flaky        some tries got through and some did not (reported on its own)

    \b
    Examples:
      netaudit verify --dry-run                         # the plan, nothing created
      netaudit verify -f k8s/ --dry-run -o json         # the plan and probe Pod manifests, from manifests
      netaudit verify -n shop-api --max-probes 20       # probe from shop-api only, 20 probes at most
      netaudit verify --from shop-web/Deployment/frontend --to shop-api/Deployment/cart
      netaudit verify --cleanup                         # delete probe pods a killed run left behind

    -n limits where probe pods are created (a RoleBinding of deploy/rbac-probe.yaml there is enough).
    Probe pods are never Ready (their readiness probe always fails), so Services never send them traffic;
    they run as non-root under the restricted Pod Security Standard, with no service account token, and are
    deleted at the end, on errors, and on Ctrl-C or SIGTERM. Nothing else is written. Probes go to pod IPs
    over TCP; UDP only to DNS ports (elsewhere no reply proves anything); SCTP is not probed. "refused" counts
    as open: the host answered (with a CNI that rejects denied packets with a reset, read it as blocked).

    Exit codes: 0 every probe matched (or was inconclusive); 1 at least one false-allow or false-deny;
    2 bad usage, unreachable cluster, an API error, or probe pods that did not start within --timeout;
    130/143 interrupted by SIGINT/SIGTERM (the probe pods were deleted).
    """
    from ..probe import run as probe_run
    if cleanup:
        _cleanup(kubeconfig, context, quiet)
        return
    if not dry_run and (manifests or snapshot):
        raise InputError("verify probes the live cluster: drop -f/--snapshot, or add --dry-run to print the plan")
    from ..dns.settings import dns_settings
    from ..probe.plan import PlanError, PlanOptions, build_plan
    from ..probe.podspec import ProbeSettings, probe_pods
    from ..report import verify as verify_report
    settings = ProbeSettings(image=probe_image, timeout=probe_timeout, tries=tries,
                             node_selector=_key_values(node_selector, "--node-selector"),
                             tolerations=_tolerations(tolerations))
    hint = "or plan from manifests: add -f PATH" if dry_run else \
        "or see the plan without a cluster: netaudit verify --dry-run -f PATH"
    state = load_state(manifests, snapshot, kubeconfig, context, offline_hint=hint)
    result = analyze_state(state, promote_staged, calico_version)
    settings_dns, _ = dns_settings(state)
    options = PlanOptions(namespaces=shown_namespaces(namespaces, all_namespaces), source=from_, destination=to,
                          max_probes=max_probes, require_running=not manifests,
                          dns_name=f"kubernetes.default.svc.{settings_dns.domain}")
    try:
        plan = build_plan(result, options)
    except PlanError as err:
        raise InputError(str(err)) from None
    run_id = probe_run.new_run_id()
    pods = probe_pods(plan, run_id, settings)
    if dry_run:
        if output == "json":
            click.echo(verify_report.render_plan_json(plan, pods), nl=False)
        else:
            click.echo(verify_report.render_plan_table(plan, pods), nl=False)
        print_alerts(result.alerts, quiet)
        return
    if not pods:
        for reason in plan.skipped:
            click.echo(f"skipped: {reason}", err=True)
        raise InputError("nothing to probe: no running pod (without hostNetwork) matches the limits")

    outcome = _run(probe_run, plan, pods, run_id, settings, timeout, quiet, kubeconfig, context)
    from ..probe.collect import observations_by_id, parse_log
    from ..probe.compare import compare, displaced_sources
    logs = [parse_log(outcome.logs.get(pod["metadata"]["name"], ""), pod["metadata"]["name"]) for pod in pods]
    observations, warnings = observations_by_id(logs)
    warnings = outcome.warnings + warnings
    if outcome.left:
        warnings.append("could not delete: " + "; ".join(outcome.left) + " (run `netaudit verify --cleanup`)")
    sources = [s for s in plan.sources if plan.probes_from(s)]
    probe_ips = {s.class_index: outcome.pod_ips.get(p["metadata"]["name"], "") for s, p in zip(sources, pods)}
    unpredictable = displaced_sources(plan, probe_ips, _region_index(result.universe))
    report = compare(plan, observations, run_id, warnings, unpredictable)
    if output == "json":
        click.echo(verify_report.render_json(report), nl=False)
    else:
        click.echo(verify_report.render_table(report), nl=False)
    print_alerts(result.alerts, quiet)
    if report.mismatches:
        sys.exit(EXIT_FAILED_CHECK)
    if not observations and any(p.method != "none" for p in plan.probes):
        click.echo("error: no probe reported a result (see the warnings above)", err=True)
        sys.exit(EXIT_USAGE)


def _run(probe_run, plan, pods, run_id, settings, timeout, quiet, kubeconfig, context):
    from ..probe.podspec import active_deadline_for
    progress = None if quiet else (lambda text: click.echo(f"netaudit: {text}", err=True))
    try:
        core = probe_run.connect(kubeconfig, context)
        runner = probe_run.ProbeRunner(core, progress=progress)
        if progress:
            progress(f"run {run_id}: {len(plan.probes)} probes from {len(pods)} probe pod(s)")
        longest = max(pod["spec"]["activeDeadlineSeconds"] for pod in pods)
        return runner.run(pods, run_id, start_timeout=timeout,
                          finish_timeout=max(longest, active_deadline_for(len(plan.probes), settings)) + 30)
    except probe_run.Interrupted as err:
        click.echo(f"interrupted ({err}): {_cleanup_text(err)}", err=True)
        sys.exit(128 + err.signum)
    except probe_run.ProbeRunError as err:
        raise InputError(f"{err}{'; ' + _cleanup_text(err) if err.deleted or err.left else ''}") from None


def _cleanup_text(err) -> str:
    if err.left:
        return (f"could not delete {len(err.left)} probe pod(s): {'; '.join(err.left)} "
                "(run `netaudit verify --cleanup`)")
    if len(err.deleted) == 1:
        return "deleted it"
    return "deleted them" if err.deleted else "no probe pod was left"


def _region_index(universe):
    def region_of(ip: str):
        try:
            return universe.address_space.region_of(ip).index
        except (ValueError, AssertionError):  # not an address, or a family the analysis did not model
            return None
    return region_of


def _cleanup(kubeconfig, context, quiet) -> None:
    from ..probe import run as probe_run
    from ..probe.podspec import PROBE_LABEL
    try:
        runner = probe_run.ProbeRunner(probe_run.connect(kubeconfig, context))
        deleted, left = runner.delete_matching(f"{PROBE_LABEL}=true", None)
    except probe_run.ProbeRunError as err:
        raise InputError(str(err)) from None
    for name in deleted:
        click.echo(f"deleted pod {name}")
    if not quiet:
        click.echo(f"{len(deleted)} probe pod(s) deleted" if deleted else "no probe pod left behind", err=True)
    if left:
        raise InputError("could not delete or look in: " + "; ".join(left))
