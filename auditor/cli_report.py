"""The `report` command (HTML, Markdown, Graphviz dot, CSV). Registers itself on `auditor.cli.main`."""
