"""`python -m auditor.cli`: the same as the `netaudit` command."""

from . import main

main()
