"""`netaudit report`: markdown, dot, csv and html on a small cluster whose flows are worked out by hand below.

The cluster (SMALL), at workload level:

    web/frontend (app=frontend, port http=8080)   web/admin (app=admin)
    db/postgres (StatefulSet, app=postgres, 5432) tools/debug (app=debug, namespace without policies)

    web/default-deny   selects every pod of web for ingress and egress, allows nothing
    web/frontend       frontend: ingress from app=admin (same namespace) on http; egress to db/app=postgres on 5432
    web/admin          admin: egress to app=frontend on 8080 (policyTypes [Egress])
    db/postgres        postgres: ingress from web/app=frontend on 5432 (policyTypes [Ingress]: egress stays open)

Egress: admin -> frontend 8080/TCP only; frontend -> postgres 5432/TCP only; postgres, debug: anything.
Ingress: frontend <- admin on 8080/TCP; admin <- nothing; postgres <- frontend on 5432/TCP; debug <- anything.
The policies name no CIDR, so everything outside the cluster is one region, 0.0.0.0/0, unfiltered both ways.
A flow needs both ends to agree, so exactly six pairs carry traffic:

    web/admin     -> web/frontend  8080/TCP   (admin's egress rule, frontend's ingress rule on http=8080)
    web/frontend  -> db/postgres   5432/TCP   (frontend's egress rule, postgres's ingress rule)
    db/postgres   -> tools/debug   all        (postgres egress not isolated, debug ingress not isolated)
    db/postgres   -> 0.0.0.0/0     all
    tools/debug   -> 0.0.0.0/0     all
    0.0.0.0/0     -> tools/debug   all
Everything else is cut by one side: e.g. debug -> postgres (postgres admits only frontend), postgres -> frontend
(frontend admits only admin), admin -> postgres (admin's egress reaches only frontend).

Findings: tools/debug is selected by no policy (no-ingress-isolation, medium; no-egress-isolation, low); db/postgres
is not selected for egress (no-egress-isolation, low); there is no kube-dns Service (dns-service-missing, info).

HOSTILE adds tools/quarantine, selecting debug for ingress with a peer whose label value is not a valid label
(`"><script>alert(1)</script>`): the peer may or may not match, the rule has no ports, so whether anything reaches
debug is unknown on every port: postgres -> debug and 0.0.0.0/0 -> debug become unknown instead of allowed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from auditor import analysis
from auditor.cli import main
from auditor.findings import Finding
from auditor.model import Alert
from auditor.report import csv_report, dot, html, markdown
from auditor.report.bundle import Flow, Inventory, ReportBundle, ReportEndpoint, build_bundle
from auditor.sets.ports import PortSet

SMALL = textwrap.dedent("""
    apiVersion: v1
    kind: Namespace
    metadata: {name: web}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: db}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: tools}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: frontend, namespace: web}
    spec:
      template:
        metadata: {labels: {app: frontend}}
        spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: admin, namespace: web}
    spec:
      template:
        metadata: {labels: {app: admin}}
        spec: {containers: [{name: c, image: i}]}
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: postgres, namespace: db}
    spec:
      template:
        metadata: {labels: {app: postgres}}
        spec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: debug, namespace: tools}
    spec:
      template:
        metadata: {labels: {app: debug}}
        spec: {containers: [{name: c, image: i}]}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: default-deny, namespace: web}
    spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: frontend, namespace: web}
    spec:
      podSelector: {matchLabels: {app: frontend}}
      policyTypes: [Ingress, Egress]
      ingress:
      - from: [{podSelector: {matchLabels: {app: admin}}}]
        ports: [{port: http}]
      egress:
      - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: db}},
              podSelector: {matchLabels: {app: postgres}}}]
        ports: [{port: 5432}]
    """)
ADMIN_EGRESS = textwrap.dedent("""
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: admin, namespace: web}
    spec:
      podSelector: {matchLabels: {app: admin}}
      policyTypes: [Egress]
      egress:
      - to: [{podSelector: {matchLabels: {app: frontend}}}]
        ports: [{port: 8080}]
    """)
POSTGRES_INGRESS = textwrap.dedent("""
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: postgres, namespace: db}
    spec:
      podSelector: {matchLabels: {app: postgres}}
      policyTypes: [Ingress]
      ingress:
      - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}},
                podSelector: {matchLabels: {app: frontend}}}]
        ports: [{port: 5432}]
    """)
EVIL = '"><script>alert(1)</script>'
HOSTILE = textwrap.dedent("""
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: quarantine, namespace: tools}
    spec:
      podSelector: {matchLabels: {app: debug}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: '%s'}}}]
    """) % EVIL

ADMIN, FRONTEND = "web/Deployment/admin", "web/Deployment/frontend"
POSTGRES, DEBUG, OUTSIDE = "db/StatefulSet/postgres", "tools/Deployment/debug", "cidr:0.0.0.0/0"
EXPECTED_FLOWS = {  # (from, to) -> allowed, by hand (module docstring)
    (ADMIN, FRONTEND): "8080/TCP",
    (FRONTEND, POSTGRES): "5432/TCP",
    (POSTGRES, DEBUG): "all",
    (POSTGRES, OUTSIDE): "all",
    (DEBUG, OUTSIDE): "all",
    (OUTSIDE, DEBUG): "all",
}
SHORT = {ADMIN: "web/admin", FRONTEND: "web/frontend", POSTGRES: "db/postgres", DEBUG: "tools/debug",
         OUTSIDE: "0.0.0.0/0"}


def cluster(tmp_path, *extra: str) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(SMALL + ADMIN_EGRESS + POSTGRES_INGRESS + "".join(extra))
    return str(path)


def run(*args):
    result = CliRunner().invoke(main, list(args) + ["-q"])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def bundle_of(tmp_path, *extra, **options) -> ReportBundle:
    state = analysis.load(manifests=[cluster(tmp_path, *extra)])
    return build_bundle(analysis.analyze(state), **options)


# --- csv -------------------------------------------------------------------------------------------------------

def test_csv_one_row_per_connection(tmp_path):
    result = run("report", "-f", cluster(tmp_path), "-o", "csv")
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["from", "to", "allowed", "unknown", "unknown_reason", "from_members", "to_members"]
    assert {(r[0], r[1]): r[2] for r in rows[1:]} == EXPECTED_FLOWS
    assert all((r[5], r[6]) == (r[0], r[1]) for r in rows[1:])  # a pair stands for itself
    assert len(rows) == 1 + len(EXPECTED_FLOWS)
    assert all(r[3] == "" and r[4] == "" for r in rows[1:])  # nothing unknown in SMALL


def test_csv_unknown_column_and_quoting(tmp_path):
    # HOSTILE: postgres -> debug and 0.0.0.0/0 -> debug are unknown on everything, allowed on nothing.
    rows = list(csv.DictReader(io.StringIO(run("report", "-f", cluster(tmp_path, HOSTILE), "-o", "csv").stdout)))
    by_pair = {(r["from"], r["to"]): r for r in rows}
    assert set(by_pair) == set(EXPECTED_FLOWS)
    for pair in ((POSTGRES, DEBUG), (OUTSIDE, DEBUG)):
        assert (by_pair[pair]["allowed"], by_pair[pair]["unknown"]) == ("", "all")
        assert EVIL in by_pair[pair]["unknown_reason"]  # the quote inside survives csv quoting
    assert by_pair[(ADMIN, FRONTEND)]["allowed"] == "8080/TCP"


def test_csv_namespace_level(tmp_path):
    # Namespaces: admin -> frontend is web -> web (two different pods of web), frontend -> postgres is web -> db.
    rows = list(csv.reader(io.StringIO(run("report", "-f", cluster(tmp_path), "-o", "csv", "--level",
                                           "namespace").stdout)))
    assert {(r[0], r[1]): r[2] for r in rows[1:]} == {
        ("web", "web"): "8080/TCP", ("web", "db"): "5432/TCP", ("db", "tools"): "all", ("db", OUTSIDE): "all",
        ("tools", OUTSIDE): "all", (OUTSIDE, "tools"): "all"}


# --- markdown --------------------------------------------------------------------------------------------------

def _md_table(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def test_markdown_summary_findings_and_flows(tmp_path):
    result = run("report", "-f", cluster(tmp_path), "-o", "markdown")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("# netaudit report\n")
    assert "- Read: 3 namespaces, 4 pods (4 workloads), 0 services, 4 policies (4 NetworkPolicy)" in text
    assert "- Endpoints: 5 (4 in the cluster, 1 address regions outside)" in text
    assert "- Flows: 6 allowed connections, 0 with unknown ports" in text
    assert "- Findings: 4 (0 high, 1 medium, 2 low, 1 info)" in text
    findings = _md_table(text, "## Findings")
    assert [(f[0], f[1]) for f in findings] == [("medium", "no-ingress-isolation"), ("low", "no-egress-isolation"),
                                                ("low", "no-egress-isolation"), ("info", "dns-service-missing")]
    assert "tools/Deployment/debug" in findings[0][3] and findings[0][4]  # objects and a fix hint
    flows = _md_table(text, "## Flows")
    assert {(f[0], f[1]): f[2] for f in flows} == {(SHORT[s], SHORT[d]): a for (s, d), a in EXPECTED_FLOWS.items()}
    assert "## Drift" not in text


def test_markdown_escapes_cells(tmp_path):
    text = run("report", "-f", cluster(tmp_path, HOSTILE), "-o", "markdown").stdout
    assert EVIL not in text and "<script>" not in text
    assert "&quot;" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # as text, not as markup
    assert markdown.cell("a|b\nc") == "a\\|b c"


# --- dot -------------------------------------------------------------------------------------------------------

def test_dot_nodes_clusters_and_edges(tmp_path):
    text = run("report", "-f", cluster(tmp_path), "-o", "dot").stdout
    assert text.startswith("digraph netaudit {")
    edges = set(re.findall(r'^\s+"([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];$', text, re.M))
    assert edges == {(s, d, a) for (s, d), a in EXPECTED_FLOWS.items()}
    for ns, members in (("web", (ADMIN, FRONTEND)), ("db", (POSTGRES,)), ("tools", (DEBUG,))):
        block = re.search(r'subgraph cluster_\d+ \{\n    label="namespace %s";[^\n]*\n((?:    "[^\n]*\n)+)  \}' % ns,
                          text)
        assert block, ns
        assert set(re.findall(r'^    "([^"]+)" \[', block.group(1), re.M)) == set(members)
    assert not re.findall(r" -> .*style=dashed", text)  # no unknown edge


def test_dot_unknown_edges_are_dashed(tmp_path):
    text = run("report", "-f", cluster(tmp_path, HOSTILE), "-o", "dot").stdout
    dashed = set(re.findall(r'^\s+"([^"]+)" -> "([^"]+)" \[label="\? all", style=dashed', text, re.M))
    assert dashed == {(POSTGRES, DEBUG), (OUTSIDE, DEBUG)}
    assert f'"{POSTGRES}" -> "{DEBUG}" [label="all"]' not in text  # not allowed any more, only unknown


def test_dot_quotes_hostile_names():
    assert dot.quote('a"b\\n') == '"a\\"b\\\\n"'
    text = dot.render(_hostile_bundle())
    assert '"ns/x\\"];evil[label=\\"' in text  # the quote is escaped: the name stays one ID


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install -y graphviz)")
def test_dot_parses_with_graphviz(tmp_path):
    for extra in ((), (HOSTILE,)):
        text = run("report", "-f", cluster(tmp_path, *extra), "-o", "dot").stdout
        done = subprocess.run(["dot", "-Tjson"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        graph = json.loads(done.stdout)
        names = {o["_gvid"]: o["name"] for o in graph["objects"] if "nodes" not in o}
        assert set(names.values()) == set(SHORT)
        clusters = {o["label"]: {names[i] for i in o["nodes"]} for o in graph["objects"] if "nodes" in o}
        assert clusters == {"namespace web": {ADMIN, FRONTEND}, "namespace db": {POSTGRES},
                            "namespace tools": {DEBUG}, "outside the cluster": {OUTSIDE}}
        assert len(graph["edges"]) == 6
    done = subprocess.run(["dot", "-Tsvg"], input=dot.render(_hostile_bundle()), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "<script>" not in done.stdout


# --- the bundle: which flows and ports are explained -----------------------------------------------------------

def test_bundle_explains_one_allowed_and_one_denied_port(tmp_path):
    bundle = bundle_of(tmp_path)
    flows = {(f.src, f.dst): f for f in bundle.flows}
    assert set(flows) == set(EXPECTED_FLOWS)
    admin = flows[(ADMIN, FRONTEND)]
    assert [(s.verdict, s.port_text) for s in admin.samples] == [("allowed", "8080/TCP"), ("denied", "8081/TCP")]
    # The samples agree with the engine: explained on the workloads' (representative) pods.
    assert [(s.explanation.src, s.explanation.dst, s.explanation.verdict) for s in admin.samples] == [
        ("web/admin", "web/frontend", "allowed"), ("web/admin", "web/frontend", "denied")]
    # On 8081 it is admin's egress rule (8080 only) that denies, frontend's ingress too (http=8080 only).
    assert admin.samples[1].explanation.egress.verdict == "denied"
    # Everything open: only an allowed sample, on 80 rather than port 1.
    outside = flows[(DEBUG, OUTSIDE)]
    assert [(s.verdict, s.port_text) for s in outside.samples] == [("allowed", "80/TCP")]
    assert outside.samples[0].explanation.dst.endswith("(cidr:0.0.0.0/0)")  # an address of the region


def test_bundle_unknown_flows_are_explained_as_unknown(tmp_path):
    flows = {(f.src, f.dst): f for f in bundle_of(tmp_path, HOSTILE).flows}
    samples = flows[(POSTGRES, DEBUG)].samples
    assert [(s.verdict, s.port_text, s.explanation.verdict) for s in samples] == [("unknown", "80/TCP", "unknown")]
    assert any(EVIL in r for r in flows[(POSTGRES, DEBUG)].reasons)


def test_bundle_caps_explanations(tmp_path):
    bundle = bundle_of(tmp_path, explain_limit=2)
    assert [f.explained for f in bundle.flows] == [True, True, False, False, False, False]
    page = html.render(bundle)
    assert "first 2 of 6 flows" in page


def test_bundle_namespace_level_explains_a_real_pod_pair(tmp_path):
    flows = {(f.src, f.dst): f for f in bundle_of(tmp_path, level="namespace").flows}
    sample = flows[("web", "web")].samples[0]
    assert (sample.explanation.src, sample.explanation.dst, sample.explanation.verdict) == (
        "web/admin", "web/frontend", "allowed")


REPLICAS = textwrap.dedent("""
    apiVersion: v1
    kind: Namespace
    metadata: {name: x}
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: web-7d77fb55cc-aaaaa
      namespace: x
      labels: {app: web, pod-template-hash: 7d77fb55cc}
      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d77fb55cc, uid: u1, controller: true}]
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
    status: {podIP: 10.0.1.1}
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: web-7d77fb55cc-bbbbb
      namespace: x
      labels: {app: web, pod-template-hash: 7d77fb55cc}
      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d77fb55cc, uid: u1, controller: true}]
    spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
    status: {podIP: 10.0.1.2}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: web, namespace: x}
    spec:
      podSelector: {matchLabels: {app: web}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: web}}}]
        ports: [{port: 80}]
    """)


@pytest.mark.parametrize("level", ["pod", "workload"])
def test_bundle_explains_replicas_talking_to_each_other(tmp_path, level):
    # Two replicas of Deployment web (one equivalence class): each admits the other on 80/TCP only, and egress is
    # open. Pod level: a -> b and b -> a; workload level: web -> web, through two different pods. Never a pod to
    # itself, which the policy layer does not see.
    path = tmp_path / "replicas.yaml"
    path.write_text(REPLICAS)
    bundle = build_bundle(analysis.analyze(analysis.load(manifests=[str(path)])), level)
    a, b = "x/web-7d77fb55cc-aaaaa", "x/web-7d77fb55cc-bbbbb"
    flows = {(f.src, f.dst): f for f in bundle.flows if not f.dst.startswith("cidr:")}
    expected = {(a, b), (b, a)} if level == "pod" else {("x/Deployment/web", "x/Deployment/web")}
    assert set(flows) == expected
    for flow in flows.values():
        assert [(s.verdict, s.port_text) for s in flow.samples] == [("allowed", "80/TCP"), ("denied", "81/TCP")]
        for sample in flow.samples:
            assert {sample.explanation.src, sample.explanation.dst} == {a, b}
            assert sample.explanation.verdict == sample.verdict


# --- html ------------------------------------------------------------------------------------------------------

class _Page(HTMLParser):
    """Collects what the tests look at: script elements, external references, text and the data block."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.references: list[str] = []
        self.ids: set[str] = set()
        self._in_data = False
        self.data = ""
        self.flows = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "script":
            self.scripts.append(attributes)
            self._in_data = attributes.get("type") == "application/json"
        for name in ("src", "href", "srcset", "poster", "data"):
            value = attributes.get(name)
            if value is not None and not value.startswith("#"):
                self.references.append(f"{tag}[{name}]={value}")
        if "flow" in (attributes.get("class") or "").split():
            self.flows += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data += data


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_html_is_self_contained_and_complete(tmp_path):
    result = run("report", "-f", cluster(tmp_path))  # html is the default
    assert result.exit_code == 0
    page = result.stdout
    parsed = parse(page)
    assert parsed.references == []  # no src/href to anything but in-page anchors
    assert not re.search(r"https?://|//[a-z]|@import|url\(", page, re.I)
    assert {"summary", "findings", "connectivity", "warnings", "filter-text", "filter-ns", "grid", "flows"} <= \
        parsed.ids
    assert [s.get("type") for s in parsed.scripts] == ["application/json", None]
    data = json.loads(parsed.data)
    names = [ep["name"] for ep in data["endpoints"]]
    assert names == ["db/postgres", "tools/debug", "web/admin", "web/frontend", "0.0.0.0/0"]
    assert sorted((names[a], names[b]) for a, b in data["flows"]) == sorted(
        (SHORT[s], SHORT[d]) for s, d in EXPECTED_FLOWS)
    assert parsed.flows == 6
    assert "Content-Security-Policy" in page and "default-src &#x27;none&#x27;" in page
    # Summary numbers and findings
    assert re.search(r"Findings</div><div class=\"card-number\">4<", page)
    assert "1 medium" in page and "no-ingress-isolation" in page and "dns-service-missing" in page
    # Explanations: the allowed and the denied sample of admin -> frontend, as explain writes them.
    assert "web/admin -&gt; web/frontend on 8080/TCP: ALLOWED" in page
    assert "web/admin -&gt; web/frontend on 8081/TCP: DENIED" in page


def test_html_csp_hashes_match_the_inline_code():
    page = html.render(_hostile_bundle())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert html._sha256(html.SCRIPT) in csp and html._sha256(html.STYLE) in csp
    assert f"<script>{html.SCRIPT}</script>" in page and f"<style>{html.STYLE}</style>" in page


def test_html_escapes_hostile_text_from_the_cluster(tmp_path):
    page = run("report", "-f", cluster(tmp_path, HOSTILE)).stdout
    assert EVIL not in page and "<script>alert" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    assert len(parse(page).scripts) == 2  # the data block and ours, nothing injected


def test_html_escapes_hostile_endpoint_names_everywhere():
    page = html.render(_hostile_bundle())
    parsed = parse(page)
    assert len(parsed.scripts) == 2 and parsed.references == []
    assert "<script>alert" not in page and "</script><" not in page.replace("</script>\n<script>", "")
    data = json.loads(parsed.data)
    assert data["endpoints"][0]["name"] == "ns/" + EVIL  # the JSON still carries the exact text
    assert data["endpoints"][0]["ns"] == "ns"
    assert "\\u003c/script\\u003e" in page  # `</` never appears raw inside the data block


def test_html_drift_and_exit_code(tmp_path):
    # Baseline without web/admin's egress policy: admin's egress is cut by web/default-deny, so admin -> frontend
    # is the one flow the current state newly allows (8080/TCP).
    base = tmp_path / "base.yaml"
    base.write_text(SMALL + POSTGRES_INGRESS)
    snap = str(tmp_path / "base.json")
    assert run("snapshot", "-f", str(base), "-o", snap).exit_code == 0
    current = cluster(tmp_path)
    result = run("report", "-f", current, "--baseline", snap)
    assert result.exit_code == 1
    assert "Newly allowed (1)" in result.stdout
    drift = result.stdout.split('id="drift"', 1)[1].split("</section>", 1)[0]
    assert "<td>web/admin</td><td>web/frontend</td><td class=\"ports\">8080/TCP</td>" in drift
    md = run("report", "-f", current, "--baseline", snap, "-o", "markdown")
    assert md.exit_code == 1
    assert _md_table(md.stdout, "### Newly allowed (1)") == [["web/admin", "web/frontend", "8080/TCP", "-"]]
    # The other way round only closes: exit 0, and the flow is newly denied.
    snap_full = str(tmp_path / "full.json")
    assert run("snapshot", "-f", current, "-o", snap_full).exit_code == 0
    back = run("report", "-f", str(base), "--baseline", snap_full, "-o", "markdown")
    assert back.exit_code == 0
    assert _md_table(back.stdout, "### Newly denied (1)") == [["web/admin", "web/frontend", "8080/TCP", "-"]]
    # No change: said so, exit 0; csv and dot carry no drift section but keep the exit code.
    same = run("report", "-f", current, "--baseline", snap_full, "-o", "markdown")
    assert same.exit_code == 0 and "No change in connectivity." in same.stdout
    assert run("report", "-f", current, "--baseline", snap, "-o", "csv").exit_code == 1


def test_report_usage_errors(tmp_path):
    assert run("report", "-f", cluster(tmp_path), "-o", "pdf").exit_code == 2
    missing = run("report", "-f", cluster(tmp_path), "--baseline", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "nope.json" in missing.output
    assert "Examples:" in run("report", "--help").stdout


def test_report_namespace_filter_keeps_flows_touching_it(tmp_path):
    # -n db: flows from or to db: frontend -> postgres, postgres -> debug, postgres -> outside.
    rows = list(csv.reader(io.StringIO(run("report", "-f", cluster(tmp_path), "-o", "csv", "-n", "db").stdout)))
    assert {(r[0], r[1]) for r in rows[1:]} == {(FRONTEND, POSTGRES), (POSTGRES, DEBUG), (POSTGRES, OUTSIDE)}


def _hostile_bundle() -> ReportBundle:
    """A bundle made by hand whose names are hostile: the renderers alone must keep them inert."""
    evil_id = 'ns/x"];evil[label="'
    endpoints = [ReportEndpoint("ns/Deployment/" + EVIL, "ns/" + EVIL, "Deployment", "ns"),
                 ReportEndpoint(evil_id, evil_id, "Deployment", "ns"),
                 ReportEndpoint("cidr:0.0.0.0/0", "0.0.0.0/0", "External", None)]
    flows = [Flow(endpoints[0].id, endpoints[1].id, PortSet.ports("TCP", 80), PortSet.empty()),
             Flow(endpoints[1].id, endpoints[2].id, PortSet.empty(), PortSet.ports("TCP", 443), (EVIL,))]
    return ReportBundle(level="workload", inventory=Inventory(EVIL, 1, 2, 2, 0, {"NetworkPolicy": 1}),
                        endpoints=endpoints, flows=flows, protocols=("TCP", "UDP", "SCTP"),
                        findings=[Finding("peer-matches-nothing", "medium", EVIL, (EVIL,), EVIL)],
                        warnings=[Alert("invalid-label", EVIL, EVIL)], explain_limit=300,
                        namespaces_shown=(EVIL,), generated=EVIL)


def test_renderers_accept_a_hand_made_bundle():
    bundle = _hostile_bundle()
    rows = list(csv.reader(io.StringIO(csv_report.render(bundle))))
    assert rows[1][:3] == ["ns/Deployment/" + EVIL, 'ns/x"];evil[label="', "80/TCP"]
    assert rows[2][2:5] == ["", "443/TCP", EVIL]
    text = markdown.render(bundle)
    assert "<script>" not in text


BROKEN_DOCUMENT = """
---
apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: web, labels: {app: [x}
"""


def test_skipped_input_is_at_the_top_of_markdown_and_html(tmp_path):
    path = cluster(tmp_path, BROKEN_DOCUMENT)
    text = run("report", "-f", path, "-o", "markdown").stdout
    lines = text.splitlines()
    assert lines[0] == "# netaudit report"
    assert lines[2].startswith("> **Incomplete: 1 piece(s) of the input could not be read**")
    assert "invalid YAML" in lines[4] and "cluster.yaml:" in lines[4]
    assert text.index("Incomplete") < text.index("- Source:")
    page = run("report", "-f", path, "-o", "html").stdout
    assert page.index('id="skipped"') < page.index('id="summary"')
    assert "invalid YAML" in page[page.index('id="skipped"'):page.index('id="summary"')]
    clean = run("report", "-f", cluster(tmp_path), "-o", "markdown").stdout
    assert "Incomplete" not in clean and 'id="skipped"' not in run("report", "-f", cluster(tmp_path), "-o",
                                                                     "html").stdout
