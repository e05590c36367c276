"""netaudit's command line: click options turned into library calls (`auditor.analysis`), nothing more.

One module per command; what they share (input options, loading, the analysis call, warnings and exit codes) is
in `common`. This module is only the click group that gathers them, so the import graph runs one way:
`cli` -> `cli.<command>` -> `cli.common` -> the library.

Exit codes (the same for every command, also as `kubectl netaudit`): 0 success; 1 the command's check failed
(check: findings at --fail-on; diff and report --baseline: newly allowed flows; verify: mismatches); 2 usage error,
unreadable input with nothing usable left, or a cluster that cannot be reached.
"""

from __future__ import annotations

import click

from .. import __version__
from . import check, diff, dns, explain, exposure, matrix, report, snapshot, verify


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
      netaudit exposure -f examples/shop/                # what the internet and pods to come could reach

    Exit codes: 0 success; 1 a check failed (check, diff, verify); 2 bad usage, unusable input or unreachable
    cluster.
    """


# The modules keep their names (auditor.cli.verify is the module, its command is auditor.cli.verify.verify).
for module in (matrix, explain, exposure, check, dns, diff, snapshot, report, verify):
    main.add_command(getattr(module, module.__name__.rsplit(".", 1)[1]))
