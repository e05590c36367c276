"""`matrix -o table`: a grid (sources down, destinations across, allowed ports in the cells) for small views and
a list of allowed flows, grouped by source, for large ones.

External endpoints are address regions: a CIDR minus the more specific CIDRs some policy names inside it. They are
shown as the CIDR with a star and explained under the table, so a region is never mistaken for its whole CIDR.
"""

from __future__ import annotations

from tabulate import tabulate

from ..engine.matrix import MatrixView

GRID_LIMIT = 8  # more endpoints than this and a grid no longer fits a terminal: list instead


def display_names(view: MatrixView) -> tuple[dict[str, str], list[str]]:
    """Short names for endpoints, and footnotes for external regions with exceptions."""
    names: dict[str, str] = {}
    notes: list[str] = []
    for ep in view.endpoints:
        if ep.kind == "External":
            if ep.excepts:
                names[ep.id] = f"{ep.cidr}*"
                notes.append(f"{ep.cidr}* = {ep.cidr} except {', '.join(ep.excepts)}")
            else:
                names[ep.id] = ep.cidr or ep.id
        elif view.level == "workload" and ep.id.count("/") == 2:
            ns, kind, name = ep.id.split("/")
            names[ep.id] = f"{ns}/{name}" if kind != "Pod" else f"{ns}/{name} (pod)"
        else:
            names[ep.id] = ep.id
    return names, notes


def cell(allowed, unknown, protocols) -> str:
    text = allowed.short(protocols) if allowed else ""
    if unknown:
        text = (text + " " if text else "") + "?" + unknown.short(protocols)
    return text or "-"


def render(view: MatrixView, style: str = "auto") -> str:
    if style == "auto":
        style = "grid" if len(view.endpoints) <= GRID_LIMIT else "list"
    return render_grid(view) if style == "grid" else render_list(view)


def _footer(notes: list[str]) -> str:
    return "".join(f"  {n}\n" for n in notes)


def render_grid(view: MatrixView) -> str:
    names, notes = display_names(view)
    ids = [e.id for e in view.endpoints]
    by_pair = {(c.src, c.dst): c for c in view.connections}
    rows = []
    for src in ids:
        row = [names[src]]
        for dst in ids:
            conn = by_pair.get((src, dst))
            if src == dst and conn is None:
                row.append("·")
            elif conn is None:
                row.append("-")
            else:
                row.append(cell(conn.allowed, conn.unknown, view.protocols))
        rows.append(row)
    headers = ["from \\ to"] + [_wrap(names[i]) for i in ids]
    legend = ("cells: what the source may open on the destination ('all' = every port and protocol, '-' = "
              "nothing, '?' = unknown, '·' = itself)\n")
    return (tabulate(rows, headers=headers, tablefmt="simple_grid", disable_numparse=True) + "\n" + legend
            + _footer(notes))


def render_list(view: MatrixView) -> str:
    names, notes = display_names(view)
    if not view.connections:
        return "no allowed flows\n"
    show_unknown = any(c.unknown for c in view.connections)
    rows = []
    previous = None
    for conn in sorted(view.connections, key=lambda c: (_is_external(view, c.src), c.src,
                                                         _is_external(view, c.dst), c.dst)):
        src = names[conn.src] if conn.src != previous else ""
        if conn.src != previous and previous is not None:
            rows.append([""] * (4 if show_unknown else 3))
        previous = conn.src
        row = [src, names[conn.dst], conn.allowed.short(view.protocols) if conn.allowed else "-"]
        if show_unknown:
            row.append(conn.unknown.short(view.protocols) if conn.unknown else "")
        rows.append(row)
    headers = ["FROM", "TO", "ALLOWED"] + (["UNKNOWN"] if show_unknown else [])
    return tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n" + _footer(notes)


def _is_external(view: MatrixView, endpoint_id: str) -> bool:
    return endpoint_id.startswith("cidr:")


def _wrap(name: str) -> str:
    # Column headers wrap at the namespace separator to keep grids narrow.
    return name.replace("/", "/\n", 1) if len(name) > 12 and not name[0].isdigit() else name
