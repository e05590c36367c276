"""`matrix -o table`: three layouts, for three sizes of answer.

- grid: sources down, destinations across, allowed ports in the cells (a handful of endpoints);
- list: one line per allowed flow, grouped by source, written as it is computed (any number of pairs, memory flat);
- groups: one line per grouped connection ("all 10,000 pods -> all 10,000 pods: all"), for dense or large clusters,
  where a list would be millions of lines.

External endpoints are address regions: a CIDR minus the more specific CIDRs some policy names inside it. They are
shown as the CIDR with a star and explained under the table, so a region is never mistaken for its whole CIDR.
"""

from __future__ import annotations

from typing import Callable, Iterable

from tabulate import tabulate

from ..engine.groups import GroupedView
from ..engine.matrix import Connection, MatrixEndpoint, MatrixView

GRID_LIMIT = 8  # more endpoints than this and a grid no longer fits a terminal
LIST_LIMIT = 400  # more pairs than this and a list is too long to read: groups instead
LIST_LEGEND = ("read: FROM may open ALLOWED on TO (FROM's egress and TO's ingress both allow it); 'all' = every port\n"
               "and protocol; pairs not listed: nothing allowed.")
MEMBERS_SHOWN = 10  # members listed under the groups table for a group whose description names none


def display_names(level: str, endpoints: Iterable[MatrixEndpoint]) -> tuple[dict[str, str], list[str]]:
    """Short names for endpoints, and footnotes for external regions with exceptions."""
    names: dict[str, str] = {}
    notes: list[str] = []
    for ep in endpoints:
        if ep.kind == "External":
            if ep.excepts:
                names[ep.id] = f"{ep.cidr}*"
                notes.append(f"{ep.cidr}* = {ep.cidr} except {', '.join(ep.excepts)}")
            else:
                names[ep.id] = ep.cidr or ep.id
        elif level == "workload" and ep.id.count("/") == 2:
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


def _footer(notes: list[str]) -> str:
    return "".join(f"  {n}\n" for n in notes)


def render_grid(view: MatrixView) -> str:
    names, notes = display_names(view.level, view.endpoints)
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


def write_list(level: str, endpoints: list[MatrixEndpoint], connections: Iterable[Connection],
               protocols: tuple[str, ...], write: Callable[[str], object]) -> None:
    """One line per flow, a blank line between sources, cluster endpoints first. Column widths come from the
    endpoint names, so lines are written as the connections arrive. Unknown ports follow the allowed ones with a
    '?' (as in the grid)."""
    names, notes = display_names(level, endpoints)
    itself = " (itself)"  # a workload or namespace to itself: between two of its pods
    width = max([len("FROM"), len("TO")] + [len(n) + len(itself) for n in names.values()]) + 2
    order = {e.id: i for i, e in enumerate(endpoints)}
    selfs = False
    out: list[str] = []
    previous = None
    wrote = False
    for conn in _cluster_first(connections, order):
        if not wrote:
            out.append(f"{'FROM':<{width}}{'TO':<{width}}ALLOWED\n")
            wrote = True
        if conn.src != previous and previous is not None:
            out.append("\n")
        src = names.get(conn.src, conn.src) if conn.src != previous else ""
        previous = conn.src
        dst = names.get(conn.dst, conn.dst)
        if conn.dst == conn.src:
            dst += itself
            selfs = True
        out.append(f"{src:<{width}}{dst:<{width}}{cell(conn.allowed, conn.unknown, protocols)}\n")
        if len(out) >= 2000:
            write("".join(out))
            out.clear()
    if not wrote:
        out.append("no allowed flows\n")
    else:
        out.append(LIST_LEGEND + (" TO '(itself)': between two pods of that endpoint." if selfs else "") + "\n")
    out.append(_footer(notes))
    write("".join(out))


def _cluster_first(connections: Iterable[Connection], order: dict[str, int]):
    """Connections come sorted by (source id, destination id); show external destinations after cluster ones in
    each row, and rows of external sources last, without holding more than one row."""
    row: list[Connection] = []
    external_rows: list[list[Connection]] = []
    for conn in connections:
        if row and conn.src != row[0].src:
            yield from _row(row, order, external_rows)
            row = []
        row.append(conn)
    if row:
        yield from _row(row, order, external_rows)
    for held in external_rows:
        yield from held


def _row(row, order, external_rows):
    row.sort(key=lambda c: (c.dst.startswith("cidr:"), c.dst))
    if row[0].src.startswith("cidr:"):
        external_rows.append(row)  # external sources: few (one per address region), shown last
        return ()
    return row


def render_list(view: MatrixView) -> str:
    parts: list[str] = []
    write_list(view.level, view.endpoints, view.connections, view.protocols, parts.append)
    return "".join(parts)


def render(view: MatrixView, style: str = "auto") -> str:
    if style == "auto":
        style = "grid" if len(view.endpoints) <= GRID_LIMIT else "list"
    return render_grid(view) if style == "grid" else render_list(view)


def render_groups(view: GroupedView) -> str:
    """One line per grouped connection; groups described by an exact phrase (members listed below when the
    phrase names none)."""
    groups = view.group_by_id
    names, notes = display_names(view.level, view.endpoints)
    external = {e.id for e in view.endpoints if e.external}

    def place(group_id: str) -> tuple:  # cluster groups first, then by description
        group = groups[group_id]
        return (all(m in external for m in group.members), group.description)

    rows = []
    for conn in sorted(view.connections, key=lambda c: (place(c.src), place(c.dst))):
        rows.append([groups[conn.src].description, groups[conn.dst].description,
                     cell(conn.allowed, conn.unknown, view.protocols)])
    for entry in view.self_connections:
        rows.append([groups[entry.group].description, "itself (another of its pods)",
                     cell(entry.allowed, entry.unknown, view.protocols)])
    if not rows:
        return "no allowed flows\n"
    text = tabulate(rows, headers=["FROM", "TO", "ALLOWED"], tablefmt="plain", disable_numparse=True) + "\n"
    listed = []
    for group in view.groups:
        if group.description[:1].isdigit() or " ranges" in group.description:
            shown = ", ".join(names.get(m, m) for m in group.members[:MEMBERS_SHOWN])
            more = len(group.members) - MEMBERS_SHOWN
            listed.append(f"{group.description}: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    pairs = view.pair_bound()
    summary = (f"{len(view.connections) + len(view.self_connections)} grouped connections standing for up to "
               f"{pairs:,} {view.level} pairs (-o json --grouped lists every group's members)\n")
    return text + _footer(listed) + summary


def _wrap(name: str) -> str:
    # Column headers wrap at the namespace separator to keep grids narrow.
    return name.replace("/", "/\n", 1) if len(name) > 12 and not name[0].isdigit() else name
