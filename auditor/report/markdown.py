"""`report -o markdown`: summary, drift, findings and flows as GitHub-flavoured Markdown (for a PR comment or wiki).

Cells come from the cluster, so they are escaped: `|` would end a table cell, a newline the row, `*` and a backquote
would start emphasis or code (`0.0.0.0/0*` names a region), and `<`, `>`, `&` are written as entities because
Markdown renderers pass inline HTML through.
"""

from __future__ import annotations

from .bundle import ReportBundle, ports_text

MEMBERS_SHOWN = 100  # per group; `netaudit matrix -o json --grouped` lists them all
DRIFT_PAIRS = 400  # more changed pairs than this: drift as change blocks


def cell(value) -> str:
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*")
    return " ".join(text.split())


def _table(headers: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def render(bundle: ReportBundle) -> str:
    inv = bundle.inventory
    names = bundle.names
    p = bundle.protocols
    cluster = sum(1 for ep in bundle.endpoints if not ep.external)
    severities = bundle.findings_by_severity
    lines = ["# netaudit report", ""]
    skipped = bundle.skipped_input
    if skipped:
        lines += [f"> **Incomplete: {len(skipped)} piece(s) of the input could not be read**, and everything below "
                  "is computed without them.", ">"]
        lines += [f"> - `{cell(a.code)}` {cell(a.message)}" for a in skipped]
        lines.append("")
    lines += [f"- Source: {cell(inv.origin or 'unknown')}",
              f"- Read: {inv.namespaces} namespaces, {inv.pods} pods ({inv.workloads} workloads), {inv.services} "
              f"services, {sum(inv.policies.values())} policies"
              + (" (" + ", ".join(f"{n} {cell(k)}" for k, n in inv.policies.items()) + ")" if inv.policies else "")]
    if inv.calico_version:
        lines.append(f"- Calico version: {cell(inv.calico_version)}")
    for item in inv.unreadable:
        lines.append(f"- Could not read: {cell(item)}")
    lines += [f"- Level: {bundle.level}; namespaces: "
              + (cell(", ".join(bundle.namespaces_shown)) if bundle.namespaces_shown else "all"),
              f"- Endpoints: {len(bundle.endpoints)} ({cluster} in the cluster, {len(bundle.endpoints) - cluster} "
              "address regions outside)",
              (f"- Flows: {len(bundle.flows)} grouped connections (up to {bundle.pairs:,} pairs), "
               if bundle.grouped else f"- Flows: {len(bundle.flows)} allowed connections, ")
              + f"{bundle.unknown_flows} with unknown ports",
              f"- Findings: {len(bundle.findings)} ("
              + ", ".join(f"{n} {s}" for s, n in severities.items()) + ")",
              f"- Warnings: {len(bundle.warnings)}"]
    if bundle.generated:
        lines.append(f"- Generated: {cell(bundle.generated)} by netaudit {bundle.version}")
    lines.append("")

    if bundle.drift is not None:
        lines += _drift(bundle, names, p)

    lines += ["## Findings", ""]
    if bundle.findings:
        lines += _table(["Severity", "Code", "Finding", "Objects", "Fix"],
                        [[f.severity, f.code, f.message, ", ".join(f.objects), f.hint] for f in bundle.findings])
    else:
        lines.append("No findings.")
    lines.append("")

    lines += ["## Flows", "", "What the source may open on the destination (its egress and the destination's "
              "ingress both allow it).", ""]
    if bundle.flows:
        show_unknown = any(f.unknown for f in bundle.flows)
        headers = ["From", "To", "Allowed"] + (["Unknown"] if show_unknown else [])
        rows = []
        for f in bundle.flows:
            row = [_node(bundle, f.src), "itself (another of its pods)" if f.to_itself else _node(bundle, f.dst),
                   ports_text(f.allowed, p, "-")]
            if show_unknown:
                row.append(ports_text(f.unknown, p))
            rows.append(row)
        lines += _table(headers, rows)
    else:
        lines.append("No allowed flows.")
    notes = bundle.notes
    if notes:
        lines.append("")
        lines += [f"- {cell(n)}" for n in notes]
    lines.append("")
    if bundle.grouped:
        lines += _groups(bundle)

    lines += _exposure(bundle)

    if bundle.warnings:
        lines += [f"## Warnings ({len(bundle.warnings)})", ""]
        lines += [f"- `{cell(a.code)}` {cell(a.message)}" for a in bundle.warnings]
        lines.append("")
    return "\n".join(lines)


def _node(bundle: ReportBundle, node: str) -> str:
    group = bundle.group(node)
    return group.name if group.single else f"{group.name} ({len(group.members):,})"


def _groups(bundle: ReportBundle) -> list[str]:
    names = {ep.id: ep.name for ep in bundle.endpoints}
    used = {f.src for f in bundle.flows} | {f.dst for f in bundle.flows}
    lines = ["## Groups", ""]
    for group in bundle.groups.values():
        if group.id not in used or group.single:
            continue
        shown = ", ".join(names.get(m, m) for m in group.members[:MEMBERS_SHOWN])
        more = len(group.members) - MEMBERS_SHOWN
        lines.append(f"- **{cell(group.name)}** ({len(group.members):,}): {cell(shown)}"
                     + (f" and {more:,} more" if more > 0 else ""))
    lines.append("")
    return lines


def _drift(bundle: ReportBundle, names: dict, p) -> list[str]:
    drift = bundle.drift
    lines = ["## Drift since the baseline", "", f"Baseline: {cell(bundle.baseline_origin or 'the baseline')}", ""]
    if not (drift.changed or drift.added_endpoints or drift.removed_endpoints):
        lines += ["No change in connectivity.", ""]
    if drift.pair_bound() <= DRIFT_PAIRS:
        changes = list(drift.pair_changes())
        ends = lambda c: [names.get(c.src, c.src), names.get(c.dst, c.dst)]  # noqa: E731
        unit = ""
    else:
        changes = drift.blocks + drift.self_changes
        ends = lambda c: ([c.src.description, c.dst.description] if hasattr(c, "src")  # noqa: E731
                          else [c.group.description, "itself (another of its pods)"])
        unit = " groups of flows"
    for title, attr, headers, cells in (
            ("Newly allowed", "opened", ["From", "To", "Opened", "Before"],
             lambda c: [c.opened.short(p), c.before.short(p) if c.before else "-"]),
            ("Newly denied", "closed", ["From", "To", "Closed", "Now"],
             lambda c: [c.closed.short(p), c.after.short(p) if c.after else "-"]),
            ("Newly unknown", "unknown_now", ["From", "To", "Unknown"], lambda c: [c.unknown_now.short(p)])):
        rows = [ends(c) + cells(c) for c in changes if getattr(c, attr)]
        if rows:
            lines += [f"### {title} ({len(rows)}{unit})", ""]
            lines += _table(headers, rows)
            lines.append("")
    if drift.added_endpoints:
        lines += ["New endpoints: " + cell(", ".join(drift.added_endpoints)), ""]
    if drift.removed_endpoints:
        lines += ["Removed endpoints: " + cell(", ".join(drift.removed_endpoints)), ""]
    return lines


def _exposure(bundle: ReportBundle) -> list[str]:
    summary = bundle.exposure
    if summary is None:
        return []
    lines = ["## Exposure", "", "### From outside the cluster", ""]
    if summary.paths:
        lines += _table(["Backend", "Path", "From", "Port", "Verdict", "Decided by"], summary.paths)
    else:
        lines.append("No LoadBalancer, NodePort, Ingress or Gateway path leads to these workloads.")
    lines += ["", "### Open to every namespace, existing or future", ""]
    if summary.wide:
        lines += _table(["Endpoint", "Direction", "Peers", "Ports", "Because"], summary.wide)
        if summary.wide_total > len(summary.wide):
            lines += ["", f"The first {len(summary.wide)} of {summary.wide_total}: `netaudit exposure` lists all."]
    else:
        lines.append("None: every exposure names its namespaces.")
    lines.append("")
    return lines
