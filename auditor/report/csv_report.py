"""`report -o csv`: one row per connection, for spreadsheets and scripts.

Columns: `from` and `to` (endpoint ids as in `matrix -o json`), `allowed` and `unknown` (ports as the table writes
them: `80,443/TCP 53/UDP`, `all`, or empty), and `unknown_reason`.
"""

from __future__ import annotations

import csv
import io

from .bundle import ReportBundle, ports_text

HEADER = ["from", "to", "allowed", "unknown", "unknown_reason"]


def render(bundle: ReportBundle) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    p = bundle.protocols
    for flow in bundle.flows:
        unknown = ports_text(flow.unknown, p)
        writer.writerow([flow.src, flow.dst, ports_text(flow.allowed, p), unknown,
                         "; ".join(flow.reasons) if unknown else ""])
    return out.getvalue()
