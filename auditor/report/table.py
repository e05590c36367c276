"""`matrix -o table`: a grid (sources down, destinations across, allowed ports in the cells) for small views and
a list of allowed flows for large ones."""

from __future__ import annotations

from tabulate import tabulate

from ..engine.matrix import MatrixView

GRID_LIMIT = 14  # more endpoints than this and a grid no longer fits a terminal: list instead


def short_name(endpoint_id: str, level: str) -> str:
    if level == "workload" and endpoint_id.count("/") == 2:
        ns, _kind, name = endpoint_id.split("/")
        return f"{ns}/{name}"
    return endpoint_id


def cell(allowed, unknown, protocols) -> str:
    text = allowed.short(protocols) if allowed else ""
    if unknown:
        text = (text + " " if text else "") + "?" + unknown.short(protocols)
    return text or "-"


def render(view: MatrixView, style: str = "auto") -> str:
    if style == "auto":
        style = "grid" if len(view.endpoints) <= GRID_LIMIT else "list"
    return render_grid(view) if style == "grid" else render_list(view)


def render_grid(view: MatrixView) -> str:
    ids = [e.id for e in view.endpoints]
    names = {i: short_name(i, view.level) for i in ids}
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
    legend = ("cells: what the source may open to the destination ('all' = every port and protocol, '-' = "
              "nothing, '?' = unknown, '·' = itself)")
    return tabulate(rows, headers=headers, tablefmt="simple_grid", disable_numparse=True) + "\n" + legend + "\n"


def render_list(view: MatrixView) -> str:
    rows = [[short_name(c.src, view.level), short_name(c.dst, view.level), c.allowed.short(view.protocols)
             if c.allowed else "-", c.unknown.short(view.protocols) if c.unknown else ""]
            for c in view.connections]
    if not rows:
        return "no allowed flows\n"
    headers = ["FROM", "TO", "ALLOWED", "UNKNOWN"]
    if not any(r[3] for r in rows):
        headers = headers[:3]
        rows = [r[:3] for r in rows]
    return tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n"


def _wrap(name: str) -> str:
    # Column headers wrap at the namespace separator to keep grids narrow.
    return name.replace("/", "/\n", 1) if len(name) > 12 else name
