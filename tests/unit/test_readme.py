"""The README shows real output: every README-EXAMPLE block equals what its command prints today."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.readme_examples import examples, run

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("command,shown", examples(README), ids=[c for c, _ in examples(README)])
def test_readme_example_is_current(command, shown):
    assert shown.rstrip("\n") == run(command).rstrip("\n"), (
        f"README output of `{command}` is stale: run `python tools/readme_examples.py --write`")


def test_readme_has_examples_and_the_two_commands():
    assert len(examples(README)) >= 2
    assert "make demo" in README and "make test" in README
