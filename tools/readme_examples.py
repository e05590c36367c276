"""Fill (or check) the README's example outputs from real runs.

Each example is a `<!-- README-EXAMPLE: netaudit ARGS -->` marker followed by a ```console block whose first line is
`$ netaudit ARGS`. `python tools/readme_examples.py --write` reruns every command and rewrites the block;
tests/unit/test_readme.py checks that the README still shows what the commands print.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- README-EXAMPLE: (netaudit [^>]*?) -->\n```console\n.*?```", re.DOTALL)


def run(command: str) -> str:
    from click.testing import CliRunner

    from auditor.cli import main
    args = shlex.split(command)[1:]
    import os
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, args)
    finally:
        os.chdir(cwd)
    return result.output


def render(text: str) -> str:
    def block(match: re.Match) -> str:
        command = match.group(1)
        output = run(command).rstrip("\n")
        return f"<!-- README-EXAMPLE: {command} -->\n```console\n$ {command}\n{output}\n```"
    return MARKER.sub(block, text)


def examples(text: str) -> list[tuple[str, str]]:
    out = []
    for match in MARKER.finditer(text):
        body = match.group(0).split("```console\n", 1)[1].rsplit("```", 1)[0]
        shown = body.split("\n", 1)[1] if "\n" in body else ""
        out.append((match.group(1), shown))
    return out


if __name__ == "__main__":
    path = ROOT / "README.md"
    text = path.read_text()
    if "--write" in sys.argv:
        path.write_text(render(text))
    else:
        stale = [cmd for cmd, shown in examples(text) if shown.rstrip("\n") != run(cmd).rstrip("\n")]
        print("\n".join(stale) or "README examples are current")
        sys.exit(1 if stale else 0)
