"""`report -o html`: one self-contained page (summary, drift, findings, a filterable matrix, explained flows).

The page makes no network request: CSS and JS are inline, there are no fonts, images or links to other hosts, and a
Content-Security-Policy (`default-src 'none'`, the inline script and style allowed by their hashes only) makes the
browser refuse anything else, including any script that a hostile name could smuggle in if escaping ever failed.

Everything from the cluster (names, labels, messages) is untrusted: it goes into the markup through `html.escape`
only, and into the JSON that the filter script reads through `_json_for_script`, which escapes `<`, `>` and `&` so
that no `</script>` can close the data element early. The script never writes markup: it only hides and shows
elements that are already in the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json

from .bundle import ALLOWED, DENIED, UNKNOWN, Flow, ReportBundle, ports_text
from .explain_text import render_text

GRID_LIMIT = 40  # endpoints; past that a grid is unreadable and only the list of flows is shown
WARNING_LIMIT = 500
OBJECTS_SHOWN = 12  # objects listed per finding; `netaudit check -o json` lists them all
DRIFT_PAIRS = 400  # more changed pairs than this: the drift is shown as change blocks


def e(value) -> str:
    return html.escape(str(value), quote=True)


def render(bundle: ReportBundle) -> str:
    names = bundle.names
    parts = [
        _header(bundle),
        _skipped(bundle),
        _summary(bundle),
        _drift(bundle, names) if bundle.drift is not None else "",
        _findings(bundle),
        _connectivity(bundle, names),
        _exposure(bundle),
        _warnings(bundle),
        _footer(bundle),
    ]
    script_hash = _sha256(SCRIPT)
    style_hash = _sha256(STYLE)
    csp = (f"default-src 'none'; script-src '{script_hash}'; style-src '{style_hash}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    title = "netaudit report" + (f": {bundle.inventory.origin}" if bundle.inventory.origin else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{e(csp)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(p for p in parts if p)
        + f"\n<script type=\"application/json\" id=\"report-data\">{_json_for_script(_script_data(bundle))}</script>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


# --- sections ----------------------------------------------------------------------------------------------------

def _header(bundle: ReportBundle) -> str:
    inv = bundle.inventory
    bits = [f"source <b>{e(inv.origin or 'unknown')}</b>", f"level <b>{e(bundle.level)}</b>"]
    if bundle.namespaces_shown:
        bits.append("namespaces <b>" + e(", ".join(bundle.namespaces_shown)) + "</b>")
    if bundle.generated:
        bits.append(f"generated {e(bundle.generated)}")
    bits.append(f"netaudit {e(bundle.version)}")
    links = [("summary", "Summary")] + ([("drift", "Drift")] if bundle.drift is not None else []) + [
        ("findings", "Findings"), ("connectivity", "Connectivity"), ("warnings", "Warnings")]
    nav = " ".join(f"<a href=\"#{anchor}\">{text}</a>" for anchor, text in links)
    return (f"<header><h1>netaudit report</h1><p class=\"meta\">{' · '.join(bits)}</p>"
            f"<nav>{nav}</nav></header>")


def _skipped(bundle: ReportBundle) -> str:
    """Input that was not read, above everything else: every number on the page is computed without it."""
    skipped = bundle.skipped_input
    if not skipped:
        return ""
    rows = "".join(f"<li><code>{e(a.code)}</code> {e(a.message)}</li>" for a in skipped)
    return (f"<section id=\"skipped\" class=\"skipped\"><h2>Incomplete: {len(skipped)} piece(s) of the input could "
            "not be read</h2><p>Everything below is computed without them.</p>"
            f"<ul class=\"warnings\">{rows}</ul></section>")


def _summary(bundle: ReportBundle) -> str:
    inv = bundle.inventory
    cluster = [ep for ep in bundle.endpoints if not ep.external]
    external = len(bundle.endpoints) - len(cluster)
    level_word = {"pod": "pods", "workload": "workloads", "namespace": "namespaces"}.get(bundle.level, bundle.level)
    policies = sum(inv.policies.values())
    severities = bundle.findings_by_severity
    cards = [
        _card("Endpoints", len(bundle.endpoints), f"{len(cluster)} {level_word}, {external} address "
                                                  f"region{'' if external == 1 else 's'} outside the cluster"),
        _card("Policies", policies, ", ".join(f"{n} {kind}" for kind, n in inv.policies.items()) or "none"),
        _card("Flows", len(bundle.flows), (f"grouped connections standing for up to {bundle.pairs:,} pairs; "
                                           if bundle.grouped else "allowed connections; ")
              + f"{bundle.unknown_flows} with unknown ports"),
        _card("Findings", len(bundle.findings),
              " ".join(f"<span class=\"sev sev-{s}\">{n} {s}</span>" for s, n in severities.items()),
              raw_detail=True, alert=severities["high"] > 0),
        _card("Warnings", len(bundle.warnings), "things netaudit could not read or judge"
              if bundle.warnings else "everything was read", warn=bool(bundle.warnings)),
    ]
    if bundle.drift is not None:
        drift = bundle.drift
        if drift.pair_bound() <= DRIFT_PAIRS:
            opened = len(drift.newly_allowed)
            detail = f"flows vs the baseline; {len(drift.newly_denied)} newly denied"
        else:
            opened = sum(1 for b in drift.blocks if b.opened) + sum(1 for c in drift.self_changes if c.opened)
            detail = "groups of flows vs the baseline (see Drift)"
        cards.append(_card("Newly allowed", opened, detail, alert=opened > 0))
    read = [("Source", e(inv.origin or "unknown")),
            ("Read", e(f"{inv.namespaces} namespaces, {inv.pods} pods ({inv.workloads} workloads), "
                       f"{inv.services} services, {policies} policies"))]
    if inv.calico_version:
        read.append(("Calico version", e(inv.calico_version)))
    if inv.unreadable:
        read.append(("Could not read", "<ul>" + "".join(f"<li>{e(u)}</li>" for u in inv.unreadable) + "</ul>"))
    read.append(("Shown", e(f"one row per {bundle.level}; "
                            + ("namespaces " + ", ".join(bundle.namespaces_shown) if bundle.namespaces_shown
                               else "every namespace"))))
    if bundle.baseline_origin:
        read.append(("Baseline", e(bundle.baseline_origin)))
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in read)
    return (f"<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">{''.join(cards)}</div>"
            f"<table class=\"read\">{rows}</table></section>")


def _card(title: str, number: int, detail: str, raw_detail: bool = False, alert: bool = False,
          warn: bool = False) -> str:
    cls = "card alert" if alert else "card warn" if warn else "card"
    return (f"<div class=\"{cls}\"><div class=\"card-title\">{e(title)}</div><div class=\"card-number\">{number}"
            f"</div><div class=\"card-detail\">{detail if raw_detail else e(detail)}</div></div>")


def _drift(bundle: ReportBundle, names: dict[str, str]) -> str:
    drift = bundle.drift
    p = drift.protocols
    name = lambda i: e(names.get(i, i))  # noqa: E731
    out = [f"<section id=\"drift\"><h2>Drift since the baseline</h2>"
           f"<p>Compared with {e(bundle.baseline_origin or 'the baseline')}, at {e(drift.level)} level.</p>"]
    if not (drift.changed or drift.added_endpoints or drift.removed_endpoints):
        out.append("<p class=\"ok\">No change in connectivity.</p>")
    if drift.pair_bound() <= DRIFT_PAIRS:
        changes = list(drift.pair_changes())
        ends = lambda c: (name(c.src), name(c.dst))  # noqa: E731
        unit = ""
    else:
        changes = drift.blocks + drift.self_changes
        ends = lambda c: ((e(c.src.description), e(c.dst.description)) if hasattr(c, "src")  # noqa: E731
                          else (e(c.group.description), "itself (another of its pods)"))
        unit = " groups of flows"
    sections = [
        ("Newly allowed", "bad", [c for c in changes if c.opened], ("Opened", "Before"),
         lambda c: (c.opened.short(p), c.before.short(p) if c.before else "-")),
        ("Newly denied", "", [c for c in changes if c.closed], ("Closed", "Now"),
         lambda c: (c.closed.short(p), c.after.short(p) if c.after else "-")),
        ("Newly unknown", "warn", [c for c in changes if c.unknown_now], ("Unknown", ""),
         lambda c: (c.unknown_now.short(p), "")),
    ]
    for title, cls, rows_of, (col_a, col_b), cells in sections:
        if not rows_of:
            continue
        rows = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in ends(c))
                       + "".join(f"<td class=\"ports\">{e(x)}</td>" for x in cells(c)) + "</tr>" for c in rows_of)
        out.append(f"<h3 class=\"{cls}\">{title} ({len(rows_of)}{unit})</h3><table class=\"list\"><thead><tr>"
                   f"<th>From</th><th>To</th><th>{col_a}</th><th>{col_b}</th></tr></thead><tbody>{rows}</tbody>"
                   "</table>")
    if drift.added_endpoints:
        out.append("<p>New endpoints: " + e(", ".join(drift.added_endpoints)) + "</p>")
    if drift.removed_endpoints:
        out.append("<p>Removed endpoints: " + e(", ".join(drift.removed_endpoints)) + "</p>")
    out.append("</section>")
    return "".join(out)


def _findings(bundle: ReportBundle) -> str:
    if not bundle.findings:
        return "<section id=\"findings\"><h2>Findings</h2><p class=\"ok\">No findings.</p></section>"
    rows = []
    for f in bundle.findings:
        objects = "".join(f"<li>{e(o)}</li>" for o in f.objects[:OBJECTS_SHOWN])
        if len(f.objects) > OBJECTS_SHOWN:
            objects += f"<li class=\"muted\">… and {len(f.objects) - OBJECTS_SHOWN:,} more (-o json lists them)</li>"
        rows.append(f"<tr class=\"finding\"><td><span class=\"sev sev-{e(f.severity)}\">{e(f.severity)}</span></td>"
                    f"<td><code>{e(f.code)}</code></td><td>{e(f.message)}</td>"
                    f"<td><ul class=\"objects\">{objects}</ul></td><td>{e(f.hint)}</td></tr>")
    return ("<section id=\"findings\"><h2>Findings</h2><table class=\"list findings\"><thead><tr><th>Severity</th>"
            "<th>Code</th><th>Finding</th><th>Objects</th><th>Fix</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></section>")


def _connectivity(bundle: ReportBundle, names: dict[str, str]) -> str:
    namespaces = sorted({ep.namespace for ep in bundle.endpoints if ep.namespace})
    options = ["<option value=\"\">every namespace</option>"]
    options += [f"<option value=\"{e(ns)}\">{e(ns)}</option>" for ns in namespaces]
    if any(ep.external for ep in bundle.endpoints):
        options.append("<option value=\"-\">outside the cluster</option>")
    controls = (
        "<div class=\"controls\"><label>Filter <input id=\"filter-text\" type=\"search\" autocomplete=\"off\" "
        "placeholder=\"name contains… e.g. shop-api/cart\"></label>"
        f"<label>Namespace <select id=\"filter-ns\">{''.join(options)}</select></label>"
        f"<span id=\"flow-count\">{len(bundle.flows)} of {len(bundle.flows)} flows</span></div>"
        "<p class=\"hint\">The filter picks the endpoints whose name contains the text (and that are in the chosen "
        "namespace): the list keeps every flow from or to them, the grid keeps them and their peers (in grey).</p>"
    )
    out = ["<section id=\"connectivity\"><h2>Connectivity</h2>",
           "<p>Read each line as: the source may open these ports on the destination (its egress and the "
           "destination's ingress both allow it). Pairs with nothing allowed are not listed.</p>", controls]
    if len(bundle.endpoints) <= GRID_LIMIT and not bundle.grouped:
        out.append(_grid(bundle))
    elif bundle.grouped:
        out.append(f"<p class=\"hint\">{len(bundle.endpoints):,} endpoints, {bundle.pairs:,} pairs at most: shown as "
                   "connections between groups of endpoints. Each group is described by an exact phrase; open it in "
                   "the list of groups below to see its members.</p>")
    else:
        out.append(f"<p class=\"hint\">{len(bundle.endpoints)} endpoints: too many for a grid; see the list.</p>")
    out.append(_flow_list(bundle, names))
    if bundle.grouped:
        out.append(_groups(bundle))
    notes = bundle.notes
    if notes:
        out.append("<ul class=\"notes\">" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    out.append("</section>")
    return "".join(out)


def _grid(bundle: ReportBundle) -> str:
    eps = bundle.endpoints
    by_pair = {(f.src, f.dst): f for f in bundle.flows}
    head = "".join(f"<th class=\"col\" data-e=\"{i}\" title=\"{e(ep.id)}\"><span>{e(ep.name)}</span></th>"
                   for i, ep in enumerate(eps))
    rows = []
    for i, src in enumerate(eps):
        cells = []
        for j, dst in enumerate(eps):
            flow = by_pair.get((src.id, dst.id))
            if flow is None:
                text, cls = ("·", "c-self") if i == j else ("-", "c-none")
            else:
                text, cls = _cell(flow, bundle.protocols)
            tip = f"{src.name} → {dst.name}: {text}"
            cells.append(f"<td class=\"{cls}\" data-e=\"{j}\" title=\"{e(tip)}\">{e(text)}</td>")
        rows.append(f"<tr data-e=\"{i}\"><th class=\"row\" title=\"{e(src.id)}\">{e(src.name)}</th>{''.join(cells)}"
                    "</tr>")
    legend = ("<p class=\"legend\"><span class=\"c-some\">80/TCP</span> allowed ports "
              "<span class=\"c-all\">all</span> every port and protocol "
              "<span class=\"c-unknown\">?</span> unknown "
              "<span class=\"c-none\">-</span> nothing <span class=\"c-self\">·</span> itself</p>")
    return (f"<div class=\"grid-wrap\"><table id=\"grid\"><thead><tr><th class=\"corner\">from \\ to</th>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{legend}")


def _cell(flow: Flow, protocols) -> tuple[str, str]:
    text = ports_text(flow.allowed, protocols)
    unknown = ports_text(flow.unknown, protocols)
    if unknown:
        return (text + " " if text else "") + "?" + unknown, "c-unknown"
    return text, "c-all" if text == "all" else "c-some"


def _flow_list(bundle: ReportBundle, names: dict[str, str]) -> str:
    total = len(bundle.flows)
    explained = bundle.explained_flows
    if total == 0:
        return "<div id=\"flows\"><p>No allowed flows.</p></div>"
    note = ""
    if bundle.explain_limit < total:
        note = (f"<p class=\"hint cap\">Explanations are included for the first {min(bundle.explain_limit, total)} "
                f"of {total} flows, in this order, to keep the page small. Explain any other flow with "
                "<code>netaudit explain SOURCE DESTINATION --port PORT/PROTO</code>.</p>")
    show_unknown = any(ports_text(f.unknown, bundle.protocols) for f in bundle.flows)
    items = ["<div class=\"flow-head\"><span>From</span><span>To</span><span>Allowed</span>"
             + ("<span>Unknown</span>" if show_unknown else "") + f"<span>Explained ({explained})</span></div>"]
    for flow in bundle.flows:
        allowed = ports_text(flow.allowed, bundle.protocols, "-")
        unknown = ports_text(flow.unknown, bundle.protocols)
        cols = (f"<span class=\"src\">{_node(bundle, flow.src)}</span>"
                f"<span class=\"dst\">{'itself (another of its pods)' if flow.to_itself else _node(bundle, flow.dst)}"
                "</span>"
                f"<span class=\"ports\">{e(allowed)}</span>"
                + (f"<span class=\"ports unknown\">{e(unknown)}</span>" if show_unknown else ""))
        if not flow.explained:
            items.append(f"<div class=\"flow\"><div class=\"flow-row\">{cols}<span class=\"muted\">not explained"
                         "</span></div></div>")
            continue
        chips = "".join(f"<span class=\"chip chip-{s.verdict}\">{_MARK[s.verdict]} {e(s.port_text)}</span>"
                        for s in flow.samples)
        traces = "".join(_sample(s) for s in flow.samples)
        reasons = ""
        if unknown and flow.reasons:
            reasons = "<p class=\"reasons\">Unknown because: " + e("; ".join(flow.reasons)) + "</p>"
        items.append(f"<details class=\"flow\"><summary class=\"flow-row\">{cols}<span>{chips}</span></summary>"
                     f"<div class=\"traces\">{traces}</div>{reasons}</details>")
    opening = "<div id=\"flows\">" if show_unknown else "<div id=\"flows\" class=\"known\">"
    return note + opening + "".join(items) + "</div>"


def _node(bundle: ReportBundle, node: str) -> str:
    """A flow's end: an endpoint's name, or a group's description with its size and a link to its members."""
    group = bundle.group(node)
    if group.single:
        return e(group.name)
    return f"{e(group.name)} <a class=\"members\" href=\"#group-{e(group.id)}\">({len(group.members):,})</a>"


def _groups(bundle: ReportBundle) -> str:
    """Every group a flow names, once. Its members are in the page's data block and written into the element (as
    text, never markup) when the reader opens it, so a page for 10,000 pods stays a few MB."""
    numbers = _group_numbers(bundle)
    items = []
    for group in bundle.groups.values():
        if group.id not in numbers or group.single:
            continue
        items.append(f"<details class=\"group\" id=\"group-{e(group.id)}\" data-g=\"{numbers[group.id]}\">"
                     f"<summary>{e(group.name)} <span class=\"muted\">{len(group.members):,} members</span>"
                     "</summary><p class=\"members\"></p></details>")
    return "<h3>Groups</h3><div id=\"groups\">" + "".join(items) + "</div>"


def _group_numbers(bundle: ReportBundle) -> dict[str, int]:
    """The position of each flow end in the data block's `groups` list."""
    numbers: dict[str, int] = {}
    for flow in bundle.flows:
        for node in (flow.src, flow.dst):
            numbers.setdefault(node, len(numbers))
    return numbers


_MARK = {ALLOWED: "✓", UNKNOWN: "?", DENIED: "✗"}
_SAMPLE_TITLE = {ALLOWED: "an allowed port", UNKNOWN: "an unknown port", DENIED: "a denied port"}


def _sample(sample) -> str:
    return (f"<div class=\"trace trace-{sample.verdict}\"><h4>{_SAMPLE_TITLE[sample.verdict]}: "
            f"{e(sample.port_text)}</h4><pre>{e(render_text(sample.explanation))}</pre></div>")


def _exposure(bundle: ReportBundle) -> str:
    summary = bundle.exposure
    if summary is None:
        return ""

    def table(headers: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table class=\"list\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    out = ["<section id=\"exposure\"><h2>Exposure</h2><h3>From outside the cluster</h3>",
           "<p>Each way in (LoadBalancer, NodePort, Ingress, Gateway route), judged on the backend's target port as "
           "its policy sees the source.</p>"]
    out.append(table(["Backend", "Path", "From", "Port", "Verdict", "Decided by"], summary.paths) if summary.paths
               else "<p class=\"ok\">No path from outside leads to these workloads.</p>")
    out.append("<h3>Open to every namespace, existing or future</h3>")
    if summary.wide:
        out.append(table(["Endpoint", "Direction", "Peers", "Ports", "Because"], summary.wide))
        if summary.wide_total > len(summary.wide):
            out.append(f"<p class=\"hint cap\">The first {len(summary.wide)} of {summary.wide_total}: "
                       "<code>netaudit exposure</code> lists all.</p>")
    else:
        out.append("<p class=\"ok\">None: every exposure names its namespaces.</p>")
    out.append("</section>")
    return "".join(out)


def _warnings(bundle: ReportBundle) -> str:
    if not bundle.warnings:
        return "<section id=\"warnings\"><h2>Warnings</h2><p class=\"ok\">None: everything was read.</p></section>"
    shown = bundle.warnings[:WARNING_LIMIT]
    rows = "".join(f"<li><code>{e(a.code)}</code> {e(a.message)}</li>" for a in shown)
    more = (f"<p class=\"hint\">… and {len(bundle.warnings) - WARNING_LIMIT} more (see <code>netaudit matrix -o json"
            "</code>).</p>") if len(bundle.warnings) > WARNING_LIMIT else ""
    return (f"<section id=\"warnings\"><h2>Warnings ({len(bundle.warnings)})</h2><p>Verdicts that depend on these "
            f"are marked unknown, never silently allowed or denied.</p><ul class=\"warnings\">{rows}</ul>{more}"
            "</section>")


def _footer(bundle: ReportBundle) -> str:
    return (f"<footer>Written by netaudit {e(bundle.version)}. This page is self-contained: it loads nothing from "
            "the network.</footer>")


# --- data for the script -----------------------------------------------------------------------------------------

def _script_data(bundle: ReportBundle) -> dict:
    index = {ep.id: i for i, ep in enumerate(bundle.endpoints)}
    data = {"endpoints": [{"name": ep.name, "ns": ep.namespace if ep.namespace is not None else "-"}
                          for ep in bundle.endpoints]}
    if not bundle.grouped:
        data["flows"] = [[index[f.src], index[f.dst]] for f in bundle.flows]
        return data
    # Grouped: a flow shows when a member of either group is picked; groups are listed once.
    numbers = _group_numbers(bundle)
    data["groups"] = [[index[m] for m in bundle.group(node).members if m in index] for node in numbers]
    data["flows"] = [[numbers[f.src], numbers[f.dst]] for f in bundle.flows]
    return data


def _json_for_script(data) -> str:
    """JSON that is safe inside <script>: `<`, `>` and `&` become \\u escapes (still the same JSON)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


STYLE = """
:root { --fg: #1d2430; --muted: #5d6778; --line: #d8dde6; --bg: #ffffff; --soft: #f4f6f9;
  --ok: #1e7b45; --ok-bg: #e3f4e9; --all-bg: #fde8c8; --all-fg: #8a4b00; --unk-bg: #fff6bf; --unk-fg: #6b5800;
  --bad: #b42318; --bad-bg: #fde4e1; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 0 24px 48px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, pre, .ports, .chip, #grid td { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
header { border-bottom: 1px solid var(--line); padding: 16px 0 8px; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { margin: 28px 0 10px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
h3.bad { color: var(--bad); }
.meta { color: var(--muted); margin: 0 0 6px; }
nav a { margin-right: 14px; color: #2456a6; text-decoration: none; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 170px; flex: 1;
  background: var(--soft); }
.card.alert { border-color: #e9a39b; background: #fff5f4; }
section.skipped { border: 1px solid #e9a39b; background: #fff5f4; padding: 8px 16px; border-radius: 6px; }
.card.warn { border-color: #ecc98a; background: #fffaf0; }
.card-title { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card-number { font-size: 26px; font-weight: 600; }
.card-detail { color: var(--muted); font-size: 13px; }
table.read { margin-top: 14px; border-collapse: collapse; }
table.read th { text-align: left; color: var(--muted); font-weight: normal; padding: 2px 16px 2px 0;
  vertical-align: top; }
table.read td { padding: 2px 0; }
table.read ul { margin: 0; padding-left: 18px; }
table.list { border-collapse: collapse; width: 100%; }
table.list th, table.list td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
table.list thead th { background: var(--soft); font-size: 12px; text-transform: uppercase; color: var(--muted); }
.findings td:nth-child(3) { min-width: 320px; }
ul.objects { margin: 0; padding-left: 16px; font-size: 12px; }
.sev { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
  margin-right: 4px; }
.sev-high { background: var(--bad-bg); color: var(--bad); }
.sev-medium { background: var(--all-bg); color: var(--all-fg); }
.sev-low { background: #e6eefb; color: #2456a6; }
.sev-info { background: #eceef2; color: var(--muted); }
.ok { color: var(--ok); }
.hint { color: var(--muted); font-size: 13px; }
.controls { display: flex; gap: 18px; align-items: center; flex-wrap: wrap; padding: 10px 12px;
  background: var(--soft); border: 1px solid var(--line); border-radius: 8px; position: sticky; top: 0; z-index: 2; }
.controls input { width: 280px; padding: 4px 8px; font: inherit; }
.controls select { padding: 3px 6px; font: inherit; }
#flow-count { color: var(--muted); margin-left: auto; }
.grid-wrap { overflow-x: auto; margin: 12px 0 4px; }
#grid { border-collapse: collapse; font-size: 12px; }
#grid th, #grid td { border: 1px solid var(--line); padding: 3px 6px; white-space: nowrap; }
#grid th.col { vertical-align: bottom; background: var(--soft); font-weight: 600; }
#grid th.col span { writing-mode: vertical-rl; transform: rotate(180deg); display: inline-block; max-height: 190px;
  overflow: hidden; text-overflow: ellipsis; }
#grid th.row { text-align: right; background: var(--soft); position: sticky; left: 0; }
#grid th.corner { color: var(--muted); font-weight: normal; background: var(--soft); }
#grid td { text-align: center; }
.c-some { background: var(--ok-bg); color: var(--ok); }
.c-all { background: var(--all-bg); color: var(--all-fg); font-weight: 600; }
.c-unknown { background: var(--unk-bg); color: var(--unk-fg); }
.c-none { color: #b7beca; }
.c-self { color: #b7beca; background: var(--soft); }
.legend span { display: inline-block; padding: 0 6px; margin: 0 2px 0 10px; border: 1px solid var(--line);
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.legend { font-size: 12px; color: var(--muted); }
#flows { border: 1px solid var(--line); border-radius: 8px; margin-top: 12px; }
.flow-row, .flow-head { display: grid; grid-template-columns: 2fr 2fr 2fr 1.2fr 2.2fr; gap: 10px; padding: 5px 10px;
  align-items: baseline; }
#flows.known .flow-row, #flows.known .flow-head { grid-template-columns: 2fr 2fr 2fr 2.2fr; }
.flow-head { background: var(--soft); font-size: 12px; text-transform: uppercase; color: var(--muted);
  border-radius: 8px 8px 0 0; }
.flow { border-top: 1px solid var(--line); }
.flow[hidden] { display: none; }
details.flow > summary { cursor: pointer; list-style: none; }
details.flow > summary::-webkit-details-marker { display: none; }
details.flow > summary:hover { background: #f7f9fc; }
details.flow > summary .src::before { content: "▸ "; color: var(--muted); }
details.flow[open] > summary .src::before { content: "▾ "; }
details.flow[open] > summary { background: #eef3fb; }
.src, .dst { overflow-wrap: anywhere; }
.flow-row .src { padding-left: 0; }
.ports { overflow-wrap: anywhere; }
.ports.unknown { color: var(--unk-fg); }
.muted { color: #9aa3b2; font-size: 12px; }
.chip { display: inline-block; border-radius: 4px; padding: 0 6px; margin: 1px 4px 1px 0; font-size: 12px; }
.chip-allowed { background: var(--ok-bg); color: var(--ok); }
.chip-denied { background: #eceef2; color: var(--muted); }
.chip-unknown { background: var(--unk-bg); color: var(--unk-fg); }
.traces { padding: 4px 12px 12px 28px; display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 12px; }
.trace h4 { margin: 6px 0 4px; font-size: 13px; }
.trace-allowed h4 { color: var(--ok); }
.trace-unknown h4 { color: var(--unk-fg); }
.trace-denied h4 { color: var(--muted); }
.trace pre { margin: 0; padding: 8px 10px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.reasons { color: var(--unk-fg); margin: 0; padding: 0 12px 12px 28px; }
#grid tr.peer th.row, #grid th.col.peer { color: #9aa3b2; font-weight: normal; }
ul.notes { color: var(--muted); font-size: 13px; }
a.members { color: #2456a6; font-size: 12px; text-decoration: none; }
details.group { border-top: 1px solid var(--line); padding: 4px 10px; }
details.group > summary { cursor: pointer; }
p.members { margin: 4px 0 8px 16px; font-size: 12px; overflow-wrap: anywhere; }
ul.warnings li { margin-bottom: 4px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var text = document.getElementById("filter-text");
  var space = document.getElementById("filter-ns");
  var count = document.getElementById("flow-count");
  var flows = document.querySelectorAll("#flows .flow");
  var rows = document.querySelectorAll("#grid tbody tr");
  var heads = document.querySelectorAll("#grid thead th.col");
  function apply() {
    var needle = text.value.trim().toLowerCase();
    var ns = space.value;
    var all = !needle && !ns;
    var keep = data.endpoints.map(function (ep) {
      return (!needle || ep.name.toLowerCase().indexOf(needle) >= 0) && (!ns || ep.ns === ns);
    });
    var near = keep.slice();  // the endpoints picked, and their peers
    var shown = 0;
    var picked = data.groups ? data.groups.map(function (members) {
      return members.some(function (m) { return keep[m]; });
    }) : null;
    data.flows.forEach(function (pair, k) {
      var visible = picked ? (picked[pair[0]] || picked[pair[1]]) : (keep[pair[0]] || keep[pair[1]]);
      if (flows[k]) { flows[k].hidden = !visible; }
      if (visible) { shown += 1; if (!picked) { near[pair[0]] = true; near[pair[1]] = true; } }
    });
    rows.forEach(function (row, i) {
      row.hidden = !near[i];
      row.classList.toggle("peer", !all && !keep[i]);
      row.querySelectorAll("td").forEach(function (cell, j) { cell.hidden = !near[j]; });
    });
    heads.forEach(function (head, j) {
      head.hidden = !near[j];
      head.classList.toggle("peer", !all && !keep[j]);
    });
    count.textContent = shown + " of " + data.flows.length + " flows";
  }
  text.addEventListener("input", apply);
  space.addEventListener("change", apply);
  document.querySelectorAll("details.group").forEach(function (box) {
    box.addEventListener("toggle", function () {
      var list = box.querySelector("p.members");
      if (!box.open || list.textContent) { return; }
      list.textContent = data.groups[Number(box.dataset.g)].map(function (m) {
        return data.endpoints[m].name;
      }).join(", ");
    });
  });
  apply();
})();
"""
