"""`report -o dot`: the allowed connections as a Graphviz digraph.

One node per endpoint, pods and workloads grouped in a cluster per namespace, the addresses outside the cluster in
one cluster of their own; an edge per allowed connection labelled with its ports, and a dashed edge for the ports
whose verdict is unknown. When flows are grouped, a group of several endpoints is one node of its own (an octagon
labelled with its description and size). Render with `dot -Tsvg report.dot > report.svg`.
"""

from __future__ import annotations

from .bundle import ReportBundle, ports_text


def quote(value) -> str:
    """A DOT double-quoted string. Backslashes are doubled so that label escapes (\\n, \\l, \\N) cannot be
    injected from names."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", "\\n")
    return f'"{text}"'


def render(bundle: ReportBundle) -> str:
    p = bundle.protocols
    lines = ["digraph netaudit {",
             "  rankdir=LR;",
             '  graph [fontname="Helvetica", fontsize=11];',
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#1e7b45", fontcolor="#1e7b45"];']
    groups: dict[str | None, list] = {}
    for ep in bundle.endpoints:
        groups.setdefault(ep.namespace, []).append(ep)
    for number, (namespace, members) in enumerate(sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))):
        if namespace is None:
            lines.append(f"  subgraph cluster_{number} {{")
            lines.append(f"    label={quote('outside the cluster')}; style=dashed; color=\"#9aa3b2\";")
        elif bundle.level == "namespace":
            lines.append("  {")  # a namespace is already one node: no box around it
        else:
            lines.append(f"  subgraph cluster_{number} {{")
            lines.append(f"    label={quote('namespace ' + namespace)}; style=rounded; color=\"#9aa3b2\";")
        for ep in members:
            label = ep.name if not ep.note else f"{ep.name}\n{ep.note}"
            extra = ', fillcolor="#f4f6f9", shape=ellipse' if ep.external else ""
            lines.append(f"    {quote(ep.id)} [label={quote(label)}{extra}];")
        lines.append("  }")
    for group in bundle.groups.values():
        if not group.single and group.id in {n for f in bundle.flows for n in (f.src, f.dst)}:
            lines.append(f"  {quote(group.id)} [label={quote(f'{group.name} ({len(group.members)})')}, "
                         'shape=octagon, fillcolor="#fdf3e1"];')
    for flow in bundle.flows:
        allowed, unknown = ports_text(flow.allowed, p), ports_text(flow.unknown, p)
        flow = _endpoint_ends(bundle, flow)
        if allowed:
            lines.append(f"  {quote(flow.src)} -> {quote(flow.dst)} [label={quote(allowed)}];")
        if unknown:
            lines.append(f"  {quote(flow.src)} -> {quote(flow.dst)} [label={quote('? ' + unknown)}, "
                         'style=dashed, color="#8a6d00", fontcolor="#8a6d00"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _endpoint_ends(bundle: ReportBundle, flow):
    """A one-member group is drawn as its endpoint's node."""
    src, dst = bundle.group(flow.src), bundle.group(flow.dst)
    if src.single or dst.single:
        from dataclasses import replace
        return replace(flow, src=src.members[0] if src.single else flow.src,
                       dst=dst.members[0] if dst.single else flow.dst)
    return flow
