"""`report -o csv`: one row per flow, for spreadsheets and scripts.

Columns: `from` and `to` (endpoint ids as in `matrix -o json`; for a flow between groups, the groups' descriptions),
`allowed` and `unknown` (ports as the table writes them: `80,443/TCP 53/UDP`, `all`, or empty), `unknown_reason`,
and `from_members` / `to_members` (the endpoint ids each end stands for, space-separated; one id for a pair).
A flow of a group to `itself` holds, for each member, between two of its own pods.
"""

from __future__ import annotations

import csv
import io

from .bundle import ReportBundle, ports_text

HEADER = ["from", "to", "allowed", "unknown", "unknown_reason", "from_members", "to_members"]


def render(bundle: ReportBundle) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    p = bundle.protocols
    for flow in bundle.flows:
        unknown = ports_text(flow.unknown, p)
        src, dst = bundle.group(flow.src), bundle.group(flow.dst)
        writer.writerow([_end(src), "itself" if flow.to_itself else _end(dst), ports_text(flow.allowed, p), unknown,
                         "; ".join(flow.reasons) if unknown else "", " ".join(src.members), " ".join(dst.members)])
    return out.getvalue()


def _end(group) -> str:
    return group.members[0] if group.single else group.name
