"""The repo carries its own semantics reference, and everything that cites it points at something that exists.

docs/semantics.md defines anchors (`<a id="K8S-A4"></a>`); conformance cases cite them, and so do docstrings and
comments. A clone of the repo has nothing else to check the reasoning against, so:
- every anchor-shaped token in a case's `cites`, and anywhere in the repo's text files, names a defined anchor;
- no file refers to the reference this one replaced, which lived outside the repo.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "semantics.md"
CASES = REPO / "tests" / "conformance"
ANCHOR = re.compile(r"\b(?:K8S|CAL|ADM|SVC|DNS|MIS|NA)-[A-Z][0-9]+\b")
DEFINITION = re.compile(r'<a id="([^"]+)"></a>')
# Spelled in two pieces so that this file does not match itself.
GONE = ("SEMANTICS" + ".md", ".." + "/shared")
OLD_ITEM = re.compile(r"^(?:K8s A[0-9]+|Calico C[0-9]+|SEMANTICS\b)")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".toml", ".txt", ".cfg", ".ini", ".sh", ".mk", ".html",
                 ".j2", ".go", ""}


def defined_anchors() -> list[str]:
    return DEFINITION.findall(DOC.read_text(encoding="utf-8"))


def repo_text_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files (what a clone or a commit would carry)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".cache", "__pycache__", ".pytest_cache", ".hypothesis", "node_modules"}
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                 if p.is_file() and not (set(p.relative_to(REPO).parts) & skip)
                 and not any(part.endswith(".egg-info") for part in p.parts)]
    files = []
    for name in names:
        path = REPO / name
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in ("Makefile", "Dockerfile")):
            files.append(path)
    return files


def test_anchors_are_unique_and_well_formed():
    anchors = defined_anchors()
    assert len(anchors) > 50, "docs/semantics.md lost its anchors"
    assert len(anchors) == len(set(anchors)), sorted(a for a in anchors if anchors.count(a) > 1)
    assert all(ANCHOR.fullmatch(a) for a in anchors), [a for a in anchors if not ANCHOR.fullmatch(a)]


def test_doc_cross_references_resolve():
    text = DOC.read_text(encoding="utf-8")
    defined = set(defined_anchors())
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        if ANCHOR.fullmatch(link):
            assert link in defined, f"docs/semantics.md links to #{link}, which it does not define"
    assert set(ANCHOR.findall(text)) <= defined, sorted(set(ANCHOR.findall(text)) - defined)


CASE_FILES = sorted(CASES.rglob("*.yaml"))


@pytest.mark.parametrize("path", CASE_FILES, ids=[str(p.relative_to(CASES).with_suffix("")) for p in CASE_FILES])
def test_case_cites_resolve(path: Path):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    cites = case.get("cites") or []
    assert cites, "every case cites the semantics it checks"
    defined = set(defined_anchors())
    anchors = [a for cite in cites for a in ANCHOR.findall(str(cite))]
    assert anchors, "every case cites at least one anchor of docs/semantics.md"
    missing = sorted(set(anchors) - defined)
    assert not missing, f"cited anchors not defined in docs/semantics.md: {missing}"
    stale = [c for c in cites if OLD_ITEM.match(str(c))]
    assert not stale, f"cites in the old numbering: {stale}"


def test_every_anchor_token_in_the_repo_is_defined():
    defined = set(defined_anchors())
    problems = []
    for path in repo_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for token in set(ANCHOR.findall(text)) - defined:
            problems.append(f"{path.relative_to(REPO)}: {token}")
    assert not problems, "anchor-shaped references to nothing:\n" + "\n".join(sorted(problems))


def test_no_reference_to_the_external_semantics_file():
    hits = []
    for path in repo_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(word in line for word in GONE):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert not hits, "references to a file outside the repo:\n" + "\n".join(hits)


def test_readme_states_the_real_number_of_conformance_cases():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"`tests/conformance/`: (\d+) small named clusters", readme)
    assert stated, "README no longer says how many conformance cases there are"
    assert int(stated.group(1)) == len(CASE_FILES)
    marked = sum(1 for p in CASE_FILES if yaml.safe_load(p.read_text(encoding="utf-8")).get("xfail"))
    said = re.search(r"(\d+) of them are marked `xfail`", readme)
    assert (int(said.group(1)) if said else 0) == marked
