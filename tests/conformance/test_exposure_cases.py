"""Exposure on the conformance cases (README.md in this folder, "Exposure expectations").

1. On every case of every folder: `netaudit exposure` is exact against the matrix, peer by peer (each existing pod
   and address gets from the entries that cover it exactly what the engine's one-direction walk allows it).
2. On cases with `exposure:`, `paths:` or `findings:` sections: the hand-derived answers about peers that do not
   exist yet, the paths from outside the cluster, and the findings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auditor.analysis import AnalyzeOptions, analyze
from auditor.engine.paths import ControllerSpec, exposure_with_paths
from auditor.findings import run_checks
from auditor.report.exposure import exposure_document
from auditor.sets.ports import PORT_PROTOCOLS, PortSet
from auditor.sources.manifests import build_state, load_manifests
from tests.exposure_check import exactness_failures
from tests.exposure_reader import PeerFacts, contract_ports, covered

HERE = Path(__file__).parent
CASE_FILES = sorted(p for p in HERE.rglob("*.yaml") if p.name != "README.yaml")
EXPOSURE_CASES = [p for p in CASE_FILES if {"exposure", "paths", "findings"} & set(yaml.safe_load(p.read_text()))]


def _analysis(path: Path):
    case = yaml.safe_load(path.read_text())
    if "manifests" in case:
        state = load_manifests([str((path.parent / case["manifests"]).resolve())])
    else:
        state = build_state([(obj, f"{path.name}#objects[{i}]") for i, obj in enumerate(case["objects"])])
    return case, analyze(state, AnalyzeOptions(**(case.get("options") or {})))


def _ports(spec: dict | None) -> PortSet:
    out = PortSet.empty()
    for proto, ranges in (spec or {}).items():
        for low, high in ranges:
            out = out | PortSet.ports(proto, low, high)
    return out


def _only_ports(ports: PortSet) -> PortSet:
    return PortSet({p: ports.get(p) for p in PORT_PROTOCOLS})


@pytest.mark.parametrize("path", CASE_FILES, ids=[str(p.relative_to(HERE).with_suffix("")) for p in CASE_FILES])
def test_exposure_is_exact_on_every_case(path: Path):
    _, analysis = _analysis(path)
    failures = exactness_failures(analysis)
    assert not failures, "\n".join(failures)


def _facts(spec: dict) -> PeerFacts:
    """A peer of an expectation: a pod that may not exist (namespace, labels...) or an address."""
    if "ip" in spec:
        return PeerFacts(ips=(spec["ip"],))
    return PeerFacts(namespace=spec["namespace"], namespace_labels=dict(spec.get("namespaceLabels") or {}),
                     labels=dict(spec.get("labels") or {}), service_account=spec.get("serviceAccount", "default"),
                     ips=tuple([spec["podIP"]] if spec.get("podIP") else []),
                     host_network=bool(spec.get("hostNetwork")),
                     named_ports=tuple(tuple(p) for p in spec.get("namedPorts") or []))


@pytest.mark.parametrize("path", EXPOSURE_CASES, ids=[str(p.relative_to(HERE).with_suffix("")) for p in EXPOSURE_CASES])
def test_exposure_expectations(path: Path):
    case, analysis = _analysis(path)
    assert case.get("reason"), "every case says why its answer is right"
    controllers = [ControllerSpec.parse(t) for t in case.get("ingressControllers") or []]
    document = exposure_document(exposure_with_paths(analysis, "pod", (), controllers))
    failures = []
    for expect in case.get("exposure") or []:
        where = f"{expect['endpoint']} {expect['direction']}"
        if "peer" in expect:
            # The entry with exactly this peer (as the contract writes it): its ports, or that there is none.
            entries = [e for e in document["exposure"] if e["endpoint"] == expect["endpoint"]
                       and e["direction"] == expect["direction"] and e["peer"] == expect["peer"]
                       and (e.get("unless") or []) == (expect.get("unless") or [])]
            label = f"{where} peer {expect['peer']}" + (f" unless {expect['unless']}" if expect.get("unless") else "")
            if expect.get("absent"):
                if entries:
                    failures.append(f"{label}: expected no such entry, got {entries[0]}")
                continue
            if not entries:
                others = [(e["peer"], e.get("unless")) for e in document["exposure"]
                          if e["endpoint"] == expect["endpoint"] and e["direction"] == expect["direction"]]
                failures.append(f"{label}: no such entry; the entries are {others}")
                continue
            got = _only_ports(contract_ports(entries[0]["allowed"]))
            got_unknown = _only_ports(contract_ports(entries[0]["unknown"]))
            if got != _ports(expect.get("allowed")) or got_unknown != _ports(expect.get("unknown")):
                failures.append(f"{label}: expected allowed {_ports(expect.get('allowed'))} unknown "
                                f"{_ports(expect.get('unknown'))}, got {got} unknown {got_unknown}")
            if "namedPorts" in expect and entries[0].get("namedPorts", []) != expect["namedPorts"]:
                failures.append(f"{label}: expected namedPorts {expect['namedPorts']}, got "
                                f"{entries[0].get('namedPorts')}")
        else:
            # A peer that may not exist: the ports the document gives it, read as the contract words it.
            allowed, unknown = covered(document, expect["endpoint"], expect["direction"], _facts(expect["covers"]),
                                       existing=False)
            allowed, unknown = _only_ports(allowed), _only_ports(unknown)
            if allowed != _ports(expect.get("allowed")) or unknown != _ports(expect.get("unknown")):
                failures.append(f"{where} for {expect['covers']}: expected allowed {_ports(expect.get('allowed'))} "
                                f"unknown {_ports(expect.get('unknown'))}, got {allowed} unknown {unknown}")
    paths = [e for e in document["exposure"] if e["peer"]["kind"] == "Path"]
    for expect in case.get("paths") or []:
        label = f"{expect['endpoint']} via {expect['via']} {expect['object']}"
        found = [e for e in paths if e["endpoint"] == expect["endpoint"] and e["peer"]["via"] == expect["via"]
                 and e["peer"]["object"] == expect["object"]
                 and ("route" not in expect or e["peer"].get("route") == expect["route"])
                 and ("service" not in expect or e["peer"]["service"] == expect["service"])]
        if expect.get("absent"):
            if found:
                failures.append(f"{label}: expected no path, got {found[0]['peer']}")
            continue
        if not found:
            failures.append(f"{label}: no such path; paths are {[(e['endpoint'], e['peer']) for e in paths]}")
            continue
        entry = found[0]
        if entry["verdict"] != expect["verdict"]:
            failures.append(f"{label}: expected {expect['verdict']}, got {entry['verdict']} ({entry['because']})")
        if "from" in expect and entry["peer"]["from"] != {"kind": "External", **expect["from"]}:
            failures.append(f"{label}: expected from {expect['from']}, got {entry['peer']['from']}")
        if "allowed" in expect and _only_ports(contract_ports(entry["allowed"])) != _ports(expect["allowed"]):
            failures.append(f"{label}: expected allowed {_ports(expect['allowed'])}, got {entry['allowed']}")
        for key in ("controller", "externalTrafficPolicy"):
            if key in expect and entry["peer"].get(key) != expect[key]:
                failures.append(f"{label}: expected {key} {expect[key]}, got {entry['peer'].get(key)}")
        if "seenAs" in expect and [s["kind"] for s in entry["peer"]["seenAs"]] != expect["seenAs"]:
            failures.append(f"{label}: expected seenAs {expect['seenAs']}, got {entry['peer']['seenAs']}")
    if "findings" in case:
        codes = {f.code for f in run_checks(analysis)}
        for code in case["findings"].get("present") or []:
            if code not in codes:
                failures.append(f"finding {code} expected, not found (found {sorted(codes)})")
        for code in case["findings"].get("absent") or []:
            if code in codes:
                failures.append(f"finding {code} found, expected none")
    assert not failures, f"{case['name']}: {case['reason']}\n  " + "\n  ".join(failures)


def test_there_are_exposure_cases_for_every_path_and_form():
    cases = [yaml.safe_load(p.read_text()) for p in EXPOSURE_CASES]
    vias = {e["via"] for c in cases for e in c.get("paths") or []}
    assert {"LoadBalancer", "NodePort", "Ingress", "Gateway"} <= vias
    kinds = {e["peer"]["kind"] for c in cases for e in c.get("exposure") or [] if "peer" in e}
    assert {"Cluster", "Pods", "External"} <= kinds
