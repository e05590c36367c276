"""Run every hand-written conformance case (see README.md in this folder) through the offline source and engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auditor.analysis import AnalyzeOptions, analyze
from auditor.sets.ports import PORT_PROTOCOLS, PortSet
from auditor.sources.manifests import build_state, load_manifests

HERE = Path(__file__).parent
CASE_FILES = sorted(p for p in HERE.rglob("*.yaml") if p.name != "README.yaml")


def _load_case(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _state(case: dict, path: Path):
    if "manifests" in case:
        return load_manifests([str((path.parent / case["manifests"]).resolve())])
    docs = [(obj, f"{path.name}#objects[{i}]") for i, obj in enumerate(case["objects"])]
    return build_state(docs)


def _endpoint(analysis, text: str) -> str:
    if text.startswith("ip:"):
        return analysis.universe.region_class(text[3:]).region.id
    return text


class Flows:
    def __init__(self, analysis):
        self.analysis = analysis
        view = analysis.matrix_view("pod")
        self.pods = {e.id for e in view.endpoints if e.kind == "Pod"}
        self.by_pair = {(c.src, c.dst): c for c in view.connections}

    def sets(self, src: str, dst: str) -> tuple[PortSet, PortSet]:
        src_id, dst_id = _endpoint(self.analysis, src), _endpoint(self.analysis, dst)
        for original, resolved in ((src, src_id), (dst, dst_id)):
            if not original.startswith("ip:"):
                assert resolved in self.pods, f"case names pod {original!r}, which the input does not define"
        conn = self.by_pair.get((src_id, dst_id))
        if conn is None:
            return PortSet.empty(), PortSet.empty()
        return conn.allowed, conn.unknown


def _expected_set(spec: dict) -> PortSet:
    result = PortSet.empty()
    for proto, ranges in (spec or {}).items():
        assert proto in PORT_PROTOCOLS, f"`allowed` lists only TCP, UDP and SCTP, not {proto}"
        for low, high in ranges:
            result = result | PortSet.ports(proto, low, high)
    return result


def _param(path: Path):
    """A case that records a known netaudit bug says so in `xfail` (why netaudit's answer is wrong); it must fail."""
    reason = _load_case(path).get("xfail")
    marks = [pytest.mark.xfail(reason=str(reason), strict=True)] if reason else []
    return pytest.param(path, marks=marks, id=str(path.relative_to(HERE).with_suffix("")))


@pytest.mark.parametrize("path", [_param(p) for p in CASE_FILES])
def test_case(path: Path):
    case = _load_case(path)
    assert case.get("name") == path.stem, "a case's name is its file name"
    assert case.get("reason"), "every case says why its answer is right"
    options = AnalyzeOptions(**(case.get("options") or {}))
    analysis = analyze(_state(case, path), options)
    flows = Flows(analysis)
    failures = []
    for expect in case["expect"]:
        if "note" in expect and len(expect) <= 3 and "verdict" not in expect and "allowed" not in expect:
            continue
        allowed, unknown = flows.sets(str(expect["from"]), str(expect["to"]))
        label = f"{expect['from']} -> {expect['to']}"
        if "allowed" in expect:
            want = _expected_set(expect["allowed"])
            got = allowed & PortSet({p: PortSet.all().get(p) for p in PORT_PROTOCOLS})
            got_unknown = unknown & PortSet({p: PortSet.all().get(p) for p in PORT_PROTOCOLS})
            if got != want or got_unknown:
                failures.append(f"{label}: expected exactly {want.short(PORT_PROTOCOLS)}, got "
                                f"{got.short(PORT_PROTOCOLS)}" + (f" (+unknown {got_unknown})" if got_unknown else ""))
            continue
        if "port" in expect:
            port_text, _, proto = str(expect["port"]).partition("/")
            proto = proto.upper() or "TCP"
            probe = PortSet.ports(proto, int(port_text))
        else:
            proto = str(expect["protocol"])
            probe = PortSet.protocol({"ICMPV6": "ICMPv6"}.get(proto.upper(), proto.upper()))
        if probe <= allowed:
            got = "allowed"
        elif probe & unknown:
            got = "unknown"
        elif probe & allowed:
            got = "partly allowed"
        else:
            got = "denied"
        if got != expect["verdict"]:
            failures.append(f"{label} {expect.get('port') or expect.get('protocol')}: expected {expect['verdict']}, "
                            f"got {got}")
    errors = [a.message for a in analysis.alerts if a.severity == "error"]
    for text in case.get("errors") or []:
        if not any(text in message for message in errors):
            failures.append(f"no error says {text!r}; the errors are: {errors}")
    if "errors" in case and not case["errors"] and errors:
        failures.append(f"expected no error, got: {errors}")
    assert not failures, f"{case['name']}: {case['reason']}\n  " + "\n  ".join(failures)


def test_there_are_enough_cases():
    kubernetes_cases = [p for p in CASE_FILES if p.parent.name == "kubernetes"]
    assert len(kubernetes_cases) >= 40
