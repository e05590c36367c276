"""netaudit exposure against netpol-analyzer's `list --exposure` (np-guard, built by `make netpolicy`; skipped
without it).

The one answer both tools give in the same terms is exposure to the entire cluster: netpol-analyzer's
`entire-cluster` line and netaudit's `Cluster` entry, per workload and direction, on numeric ports. Small random
clusters of Deployments (netpol-analyzer reads workloads; bare Pods need scheduling status it insists on) with
Kubernetes NetworkPolicies from tests/strategies.py; no hostNetwork pods and no admin policies, where the two tools
read things differently (docs/exposure.md, "Where netaudit and netpol-analyzer differ"). A line with a named
port (netpol-analyzer writes `TCP http` for egress) is not compared.

Two more differences found by this test leave a cluster out, each with its reason:
- a rule naming a port with another protocol than the container declares for that name (`port: dns, protocol:
  TCP` for a UDP `dns`): the Kubernetes API matches a named port on name and protocol (docs/semantics.md K8S-A9),
  and so does Calico; netpol-analyzer v1.4.2 resolves it on the name alone;
- a named port in a rule that also admits addresses (no `to`): netpol-analyzer stops with "cannot convert named
  port for an IP destination"; netaudit follows Calico, where the name simply never matches an address.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditor.analysis import analyze
from auditor.engine.exposure import exposure_view
from auditor.report.exposure import exposure_document
from auditor.sets.ports import PORT_PROTOCOLS, PortSet
from auditor.sources.manifests import build_state
from bench import peers as P
from tests.exposure_reader import contract_ports
from tests.strategies import NAMESPACES, PORT_DEFS, label_maps, network_policies

if not P.NETPOL_ANALYZER.available():
    pytest.skip(f"netpol-analyzer is not built at {P.NETPOLICY_BIN}: run `make netpolicy` (or make bench-peers)",
                allow_module_level=True)

pytestmark = pytest.mark.differential


@st.composite
def deployment_clusters(draw):
    objects = []
    for ns in NAMESPACES:
        labels = draw(st.sampled_from([{}, {"team": "a"}, {"team": "b"}]))
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    for i in range(draw(st.integers(1, 4))):
        labels = draw(label_maps(nonempty=True))
        ports = [{"name": n, "containerPort": p, "protocol": pr} for n, p, pr in (PORT_DEFS[0], PORT_DEFS[2])]
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": f"w{i}", "namespace": draw(st.sampled_from(NAMESPACES))},
                        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [{"name": "c", "image": "i", "ports": ports}]}}}})
    for i in range(draw(st.integers(1, 3))):
        objects.append(draw(network_policies(i)))
    return objects


def _named_port_protocol_mismatch(objects) -> bool:
    declared = {(p["name"], p.get("protocol") or "TCP") for o in objects if o["kind"] == "Deployment"
                for c in o["spec"]["template"]["spec"]["containers"] for p in c.get("ports") or [] if p.get("name")}
    names = {name for name, _ in declared}
    for obj in objects:
        if obj["kind"] != "NetworkPolicy":
            continue
        for key in ("ingress", "egress"):
            for rule in obj["spec"].get(key) or []:
                for port in rule.get("ports") or []:
                    name = port.get("port")
                    if isinstance(name, str) and name in names and \
                            (name, port.get("protocol") or "TCP") not in declared:
                        return True
    return False


def _ports(conn: str) -> PortSet | None:
    """netpol-analyzer's connection text as a port set; None when it names ports (compared elsewhere, not here)."""
    if conn == "All Connections":
        return PortSet({p: PortSet.all().get(p) for p in PORT_PROTOCOLS})
    if conn == "No Connections":
        return PortSet.empty()
    out, proto = PortSet.empty(), None
    for item in conn.split(","):
        item = item.strip()
        match = re.fullmatch(r"(TCP|UDP|SCTP) (.+)", item)
        if match:
            proto, item = match.group(1), match.group(2)
        if not re.fullmatch(r"\d+(-\d+)?", item) or proto is None:
            return None
        low, _, high = item.partition("-")
        out = out | PortSet.ports(proto, int(low), int(high or low))
    return out


def _their_entire_cluster(text: str) -> dict[tuple[str, str], PortSet | None]:
    doc = json.loads(text)
    out = {}
    for direction, key, side in (("ingress", "ingress_exposure", "dst"), ("egress", "egress_exposure", "src")):
        for line in (doc.get("exposure_results") or {}).get(key) or []:
            other = line["src"] if side == "dst" else line["dst"]
            if other != "entire-cluster":
                continue
            ns_name, _, kind = line[side].rpartition("[")
            namespace, _, name = ns_name.partition("/")
            out[(f"{namespace}/{kind.rstrip(']')}/{name}", direction)] = _ports(line["conn"])
    return out


class _QuotedDumper(yaml.SafeDumper):
    """Every string in quotes: Go's YAML 1.1 reader takes a bare `y` (a namespace here) for a boolean."""


_QuotedDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                                                                   style='"'))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(deployment_clusters())
def test_entire_cluster_exposure_agrees_with_netpol_analyzer(objects):
    assume(not _named_port_protocol_mismatch(objects))
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "cluster.yaml").write_text(yaml.dump_all(objects, Dumper=_QuotedDumper))
        proc = subprocess.run([str(P.NETPOLICY_BIN), "list", "--dirpath", tmp, "--exposure", "-o", "json", "-q"],
                              capture_output=True, text=True, timeout=120)
    assume("cannot convert named port for an IP destination" not in proc.stderr + proc.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = _their_entire_cluster(proc.stdout)
    document = exposure_document(exposure_view(analyze(build_state([(o, "g") for o in objects])), "workload"))
    ours: dict[tuple[str, str], PortSet] = {}
    for entry in document["exposure"]:
        if entry["peer"] == {"kind": "Cluster"} and not entry.get("unknown"):
            key = (entry["endpoint"], entry["direction"])
            ours[key] = ours.get(key, PortSet.empty()) | contract_ports(entry["allowed"])
    for key in set(theirs) | set(ours):
        if theirs.get(key, PortSet.empty()) is None:
            continue  # a named port: not a number netaudit can compare here
        mine = PortSet({p: ours.get(key, PortSet.empty()).get(p) for p in PORT_PROTOCOLS})
        assert mine == theirs.get(key, PortSet.empty()), (
            f"{key}: netaudit Cluster {mine}, netpol-analyzer entire-cluster {theirs.get(key)}\n"
            + yaml.safe_dump_all(objects))
