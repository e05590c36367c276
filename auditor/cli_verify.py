"""The `verify` command (probe Pods). Registers itself on `auditor.cli.main`."""
