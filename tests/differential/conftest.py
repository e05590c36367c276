"""Differential tests: netaudit against other analyzers run as subprocesses (network-config-analyzer in .venv-nca/).

Select them with `pytest -m differential`; they skip with the reason when the peer is not installed
(`make nca-venv` or `make bench-peers` installs it). A summary of what was compared is printed at the end of the run.
"""

from __future__ import annotations

SUMMARY_KEY = "differential_summary"


def pytest_configure(config):
    config.addinivalue_line("markers", "differential: compares netaudit with another analyzer run as a subprocess "
                                       "(network-config-analyzer from .venv-nca: make nca-venv)")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = getattr(config, SUMMARY_KEY, None)
    if lines:
        terminalreporter.section("differential: netaudit vs network-config-analyzer")
        for line in lines:
            terminalreporter.write_line(line)
