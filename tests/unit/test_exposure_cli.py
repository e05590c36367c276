"""`netaudit exposure`: table and JSON, levels, -n, --ingress-controller, exit codes; and the report section.

Expected answers come from reading the manifests: the demo's frontend is published by a LoadBalancer Service with
externalTrafficPolicy Local (examples/shop/10-frontend.yaml) and its policy admits any source on its `http` port,
3000 (examples/shop/50-policies-shop-web.yaml)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from auditor.cli import main

SHOP = "examples/shop/"


def run(*args):
    return CliRunner().invoke(main, ["exposure", "-f", SHOP, "-q", *args])


def test_table_lists_the_paths_from_outside_then_the_exposure():
    result = run()
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("FROM OUTSIDE THE CLUSTER") < out.index("EXPOSURE")
    line = next(li for li in out.splitlines() if li.startswith("shop-web/Deployment/frontend") and "LoadBalancer" in li)
    assert "3000/TCP" in line and "allowed" in line and "externalTrafficPolicy Local" in line


def test_json_is_the_exposure_contract():
    result = run("-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "netaudit/v1" and doc["kind"] == "Exposure" and doc["level"] == "workload"
    assert {"shop-web/Deployment/frontend", "monitoring/Deployment/prometheus"} <= {e["id"] for e in doc["endpoints"]}
    for entry in doc["exposure"]:
        assert set(entry) >= {"endpoint", "direction", "peer", "allowed", "unknown", "because"}
        assert entry["peer"]["kind"] in ("Cluster", "Pods", "External", "Path")
    path = next(e for e in doc["exposure"] if e["peer"]["kind"] == "Path"
                and e["endpoint"] == "shop-web/Deployment/frontend")
    assert path["peer"]["via"] == "LoadBalancer" and path["peer"]["object"] == "shop-web/frontend"
    assert path["peer"]["from"] == {"kind": "External", "cidr": "0.0.0.0/0", "except": []}
    assert path["allowed"] == [{"protocol": "TCP", "ports": [[3000, 3000]]}]
    # No policy selects prometheus: exposed to every pod and every address, on everything (DESIGN.md).
    prometheus = [e for e in doc["exposure"] if e["endpoint"] == "monitoring/Deployment/prometheus"
                  and e["direction"] == "ingress"]
    every = [{"protocol": p, "ports": [[1, 65535]]} for p in ("TCP", "UDP", "SCTP")]
    assert {"kind": "Cluster"} in [e["peer"] for e in prometheus]
    assert {"kind": "External", "cidr": "0.0.0.0/0", "except": []} in [e["peer"] for e in prometheus]
    assert all(e["allowed"] == every for e in prometheus)


def test_pod_level_and_namespace_filter():
    doc = json.loads(run("-o", "json", "--level", "pod", "-n", "shop-web").stdout)
    assert doc["level"] == "pod"
    assert doc["endpoints"] and all(e["namespace"] == "shop-web" for e in doc["endpoints"])
    assert all(e["endpoint"].startswith("shop-web/") for e in doc["exposure"])


def test_bad_ingress_controller_is_a_usage_error():
    result = run("--ingress-controller", "no-slash")
    assert result.exit_code == 2 and "NAMESPACE/SELECTOR" in result.output and "Traceback" not in result.output
    result = run("--ingress-controller", "edge/app in (a")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_help_teaches_the_paths_and_the_forms():
    text = CliRunner().invoke(main, ["exposure", "--help"]).output
    for word in ("externalTrafficPolicy", "Ingress", "Gateway", "entire cluster", "unless", "--ingress-controller"):
        assert word in text


def test_report_has_an_exposure_section():
    markdown = CliRunner().invoke(main, ["report", "-f", SHOP, "-q", "-o", "markdown"]).stdout
    section = markdown[markdown.index("## Exposure"):]
    row = next(li for li in section.splitlines() if li.startswith("| shop-web/Deployment/frontend | LoadBalancer"))
    assert "3000/TCP" in row and "allowed" in row
    assert "| monitoring/Deployment/prometheus | ingress | any pod in the cluster (entire cluster) | all |" in section
    html = CliRunner().invoke(main, ["report", "-f", SHOP, "-q", "-o", "html"]).stdout
    assert '<section id="exposure">' in html and "LoadBalancer shop-web/frontend" in html


def test_snapshots_keep_ingresses_and_gateways_and_old_snapshots_still_read(tmp_path):
    snap = tmp_path / "store.json"
    assert CliRunner().invoke(main, ["snapshot", "-f", "examples/exposure/", "-o", str(snap), "-q"]).exit_code == 0
    direct = json.loads(CliRunner().invoke(main, ["exposure", "-f", "examples/exposure/", "-q", "-o", "json"]).stdout)
    saved = json.loads(CliRunner().invoke(main, ["exposure", "--snapshot", str(snap), "-q", "-o", "json"]).stdout)
    assert saved["exposure"] == direct["exposure"]
    assert any(e["peer"]["kind"] == "Path" and e["peer"]["via"] == "Ingress" for e in saved["exposure"])
    # A snapshot written before Ingresses and Gateways were kept has none of their keys: it reads, without paths
    # through them.
    doc = json.loads(snap.read_text())
    for key in ("ingresses", "ingress_classes", "gateways", "gateway_classes", "routes", "reference_grants"):
        doc["state"].pop(key)
    for service in doc["state"]["services"]:
        service.pop("load_balancer_source_ranges")
        service.pop("external_ips")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["exposure", "--snapshot", str(old), "-q", "-o", "json"])
    assert result.exit_code == 0, result.output
    vias = {e["peer"]["via"] for e in json.loads(result.stdout)["exposure"] if e["peer"]["kind"] == "Path"}
    assert vias == {"NodePort", "LoadBalancer"}
