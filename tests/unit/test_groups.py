"""The grouped matrix (`matrix -o json --grouped`) expands to exactly the pair document (`matrix -o json`).

The expansion is written here from DESIGN.md's contract, independently of the code that builds groups: a pair
(a in `from`, b in `to`, a != b) has the union of the `allowed` sets of the connections that cover it, and the union
of their `unknown` sets minus what is allowed; a `self` entry gives each member of its group that pair with itself.
Checked on every conformance case and on random clusters, at every level, with and without -n.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.report.json_matrix import write_grouped, write_pairs
from auditor.sources.manifests import build_state, load_manifests
from tests.strategies import clusters

CASES = sorted(p for p in (Path(__file__).parents[1] / "conformance").rglob("*.yaml"))
LEVELS = ("pod", "workload", "namespace")


def _ports(entries) -> frozenset:
    """A contract port list as a set of (protocol, low, high, detail) atoms, ranges split to single values lazily:
    ranges are compared as canonical merged intervals per protocol."""
    out = {}
    for entry in entries:
        key = entry["protocol"]
        spans = entry.get("ports") or entry.get("numbers") or entry.get("types") or [["all"]]
        out.setdefault(key, set()).update(tuple(s) for s in spans)
    return out


def _merge(a: dict, b: dict) -> dict:
    out = {k: set(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, set()).update(v)
    return out


def _normal(ports: dict) -> dict:
    """Merge touching ranges so that two spellings of one set compare equal."""
    out = {}
    for proto, spans in ports.items():
        if any(len(s) != 2 or not all(isinstance(x, int) for x in s) for s in spans):
            out[proto] = frozenset(spans)
            continue
        merged = []
        for low, high in sorted(spans):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        if merged:
            out[proto] = tuple(map(tuple, merged))
    return out


def _minus(a: dict, b: dict) -> dict:
    """a - b on normalized range sets (unknown minus allowed)."""
    out = {}
    for proto, spans in _normal(a).items():
        remove = _normal(b).get(proto, ())
        if isinstance(spans, frozenset):
            out[proto] = spans
            continue
        left = []
        for low, high in spans:
            pieces = [(low, high)]
            for r_low, r_high in remove:
                pieces = [p for lo, hi in pieces for p in ((lo, min(hi, r_low - 1)), (max(lo, r_high + 1), hi))
                          if p[0] <= p[1]]
            left.extend(pieces)
        if left:
            out[proto] = tuple(left)
    return out


def expand(doc: dict) -> dict:
    groups = {g["id"]: g["members"] for g in doc["groups"]}
    pairs: dict = {}
    for conn in doc["connections"]:
        for a in groups[conn["from"]]:
            for b in groups[conn["to"]]:
                if a == b:
                    continue
                allowed, unknown = pairs.get((a, b), ({}, {}))
                pairs[(a, b)] = (_merge(allowed, _ports(conn["allowed"])), _merge(unknown, _ports(conn["unknown"])))
    for entry in doc["self"]:
        for a in groups[entry["group"]]:
            allowed, unknown = pairs.get((a, a), ({}, {}))
            pairs[(a, a)] = (_merge(allowed, _ports(entry["allowed"])), _merge(unknown, _ports(entry["unknown"])))
    out = {}
    for key, (allowed, unknown) in pairs.items():
        unknown = _minus(unknown, allowed)
        allowed = _normal(allowed)
        if allowed or unknown:
            out[key] = (allowed, unknown)
    return out


def pairs_of(doc: dict) -> dict:
    return {(c["from"], c["to"]): (_normal(_ports(c["allowed"])), _normal(_ports(c["unknown"])))
            for c in doc["connections"]}


def _documents(analysis, level, namespaces=()):
    grouped, paired = [], []
    write_grouped(analysis.grouped_view(level, namespaces), grouped.append)
    write_pairs(analysis, level, namespaces, paired.append)
    return json.loads("".join(grouped)), json.loads("".join(paired))


def _assert_same(analysis, level, namespaces=()):
    grouped, paired = _documents(analysis, level, namespaces)
    assert grouped["kind"] == "ConnectivityGroups" and paired["kind"] == "ConnectivityMatrix"
    expected = pairs_of(paired)
    got = expand(grouped)
    assert got == expected, (
        f"{level} {namespaces}: only in groups {sorted(set(got) - set(expected))[:5]}, only in pairs "
        f"{sorted(set(expected) - set(got))[:5]}, different "
        f"{[(k, got[k], expected[k]) for k in set(got) & set(expected) if got[k] != expected[k]][:3]}")
    members = {m for g in grouped["groups"] for m in g["members"]}
    assert members <= {e["id"] for e in grouped["endpoints"]}
    return len(expected)


def _case_state(path: Path):
    case = yaml.safe_load(path.read_text())
    if "manifests" in case:
        return load_manifests([str((path.parent / case["manifests"]).resolve())]), case
    return build_state([(o, f"{path.name}#{i}") for i, o in enumerate(case["objects"])]), case


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(p.parents[1])) for p in CASES])
def test_groups_expand_to_the_pairs_on_conformance_cases(path):
    state, case = _case_state(path)
    from auditor.analysis import AnalyzeOptions
    analysis = analyze(state, AnalyzeOptions(**(case.get("options") or {})))
    for level in LEVELS:
        _assert_same(analysis, level)
    namespaces = sorted(analysis.universe.by_namespace)[:1]
    for level in LEVELS:
        _assert_same(analysis, level, namespaces)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_pods=8, max_policies=5), st.sampled_from(LEVELS), st.sampled_from([(), ("x",), ("x", "z")]))
def test_groups_expand_to_the_pairs_on_random_clusters(objects, level, namespaces):
    analysis = analyze(build_state([(o, "generated") for o in objects]))
    _assert_same(analysis, level, namespaces)


def test_a_cluster_without_policies_is_one_group_per_side():
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{i}"}} for i in range(3)]
    objects += [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": f"n{i % 3}",
                                                                "labels": {"app": f"a{i}"}},
                 "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": f"10.0.0.{i + 1}"}}
                for i in range(30)]
    analysis = analyze(build_state([(o, "t") for o in objects]))
    grouped, paired = _documents(analysis, "pod")
    assert len(paired["connections"]) == 30 * 29 + 2 * 30  # every pod pair, and each pod to and from outside
    by_id = {g["id"]: g for g in grouped["groups"]}
    described = {(by_id[c["from"]]["description"], by_id[c["to"]]["description"]) for c in grouped["connections"]}
    assert described == {("all 30 pods", "all 30 pods"), ("all 30 pods", "all external addresses"),
                         ("all external addresses", "all 30 pods")}
    _assert_same(analysis, "workload")


def test_pair_stream_memory_does_not_grow_with_pairs():
    """100,000 pairs are written with no more memory than 10,000 (the output goes to a sink, as to a pipe)."""
    def cluster(pods):
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]
        objects += [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i:04d}", "namespace": "x"},
                     "spec": {"containers": [{"name": "c", "image": "i"}]},
                     "status": {"podIP": f"10.0.{i // 250}.{i % 250 + 1}"}} for i in range(pods)]
        return analyze(build_state([(o, "t") for o in objects]))

    def peak(analysis):
        written = [0]

        def sink(text):
            written[0] += len(text)
        tracemalloc.start()
        try:
            write_pairs(analysis, "pod", (), sink)
            return tracemalloc.get_traced_memory()[1], written[0]
        finally:
            tracemalloc.stop()

    small, big = cluster(100), cluster(317)  # 9,900 and 100,172 pod pairs (plus each pod to the outside)
    small_peak, small_bytes = peak(small)
    big_peak, big_bytes = peak(big)
    assert big_bytes > 9 * small_bytes  # the output did grow with the pairs...
    assert big_peak < 2 * small_peak + 500_000, (small_peak, big_peak)  # ...the memory did not
