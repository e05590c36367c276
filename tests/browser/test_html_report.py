"""The HTML report in a real headless Chromium, driven over the DevTools protocol (CDP) on a websocket.

Checks what only a browser can: the page loads with no console error and no exception, it requests nothing but
its own file, hostile text from the cluster stays text (no dialog opens), the filter box and the namespace
dropdown hide and show the expected rows, and an explanation opens. Each test saves a screenshot and prints where.

Needs Debian's Chromium (`apt-get install -y chromium`) and `websocket-client` (a dependency of the `kubernetes`
client, so already installed); skips with the reason when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from auditor import analysis
from auditor.report.bundle import build_bundle
from auditor.report.html import render

CHROMIUM = os.environ.get("NETAUDIT_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0

websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install "
                                                    "websocket-client)")
pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"{CHROMIUM} is missing: install Debian's Chromium with "
                                       "`apt-get update && apt-get install -y chromium`")

# The cluster of tests/unit/test_report_formats.py (its docstring works the flows out), with the hostile policy:
# 5 endpoints (db/postgres, tools/debug, web/admin, web/frontend, 0.0.0.0/0) and 6 flows:
#   web/admin -> web/frontend, web/frontend -> db/postgres, db/postgres -> tools/debug (unknown),
#   db/postgres -> 0.0.0.0/0, tools/debug -> 0.0.0.0/0, 0.0.0.0/0 -> tools/debug (unknown).
EVIL = '"><script>alert(1)</script>'
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
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: quarantine, namespace: tools}
    spec:
      podSelector: {matchLabels: {app: debug}}
      ingress:
      - from: [{ipBlock: {cidr: '%s'}}]
    """) % EVIL


class Cdp:
    """A minimal DevTools protocol client: commands by id, events kept in order."""

    def __init__(self, ws_url: str):
        # No Origin header: Chromium refuses DevTools websockets from foreign origins.
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(method)

    def wait_for(self, method: str) -> dict:
        seen = len(self.events)
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message
        raise TimeoutError(f"{method} (events so far: {[e['method'] for e in self.events[seen:]]})")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def of(self, method: str) -> list[dict]:
        return [e["params"] for e in self.events if e["method"] == method]

    def close(self):
        self.ws.close()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium on a free DevTools port, with its own profile; stopped (its process group) after."""
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        cdp = Cdp(page["webSocketDebuggerUrl"])
        try:
            yield cdp
        finally:
            cdp.close()
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def open_page(cdp: Cdp, path: Path) -> str:
    """Load the file with every event domain enabled first, so no request or message is missed."""
    for domain in ("Runtime", "Log", "Network", "Page"):
        cdp.send(f"{domain}.enable")
    cdp.send("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    url = path.resolve().as_uri()
    cdp.send("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired")
    return url


def assert_clean(cdp: Cdp, url: str) -> None:
    errors = [e for e in cdp.of("Runtime.consoleAPICalled") if e["type"] in ("error", "assert")]
    errors += [e["entry"] for e in cdp.of("Log.entryAdded") if e["entry"]["level"] == "error"]
    assert errors == [], errors
    assert cdp.of("Runtime.exceptionThrown") == []
    assert cdp.of("Page.javascriptDialogOpening") == []  # nothing injected ran alert()
    requested = [e["request"]["url"] for e in cdp.of("Network.requestWillBeSent")]
    assert requested == [url], requested  # the file itself, and nothing else


def type_filter(cdp: Cdp, text: str) -> None:
    """Clear the box, then type into it as a person would (key events through the browser's input pipeline)."""
    cdp.evaluate("(() => { const box = document.getElementById('filter-text'); box.value = ''; "
                 "box.dispatchEvent(new Event('input')); box.focus(); })()")
    if text:
        cdp.send("Input.insertText", text=text)


def choose_namespace(cdp: Cdp, value: str) -> None:
    cdp.evaluate(f"(() => {{ const s = document.getElementById('filter-ns'); s.value = {json.dumps(value)}; "
                 "s.dispatchEvent(new Event('change')); })()")


def visible(cdp: Cdp) -> dict:
    """Counts of rendered (not just unhidden) flows and grid rows, and the page's own counter."""
    return cdp.evaluate("""(() => {
        const shown = (els) => [...els].filter(el => el.getClientRects().length > 0);
        return {flows: shown(document.querySelectorAll('#flows .flow')).length,
                rows: shown(document.querySelectorAll('#grid tbody tr')).length,
                columns: shown(document.querySelectorAll('#grid thead th.col')).length,
                counter: document.getElementById('flow-count').textContent};
    })()""")


def screenshot(cdp: Cdp, path: Path, capsys) -> None:
    metrics = cdp.send("Page.getLayoutMetrics")["cssContentSize"]
    shot = cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1})
    path.write_bytes(base64.b64decode(shot["data"]))
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def write_report(tmp_path: Path, manifests: list[str], name: str) -> Path:
    state = analysis.load(manifests=manifests)
    page = tmp_path / name
    page.write_text(render(build_bundle(analysis.analyze(state), "workload")), encoding="utf-8")
    return page


def test_filters_and_explanations_in_chromium(browser, tmp_path, capsys):
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(SMALL)
    page = write_report(tmp_path, [str(manifest)], "small.html")
    url = open_page(browser, page)

    assert visible(browser) == {"flows": 6, "rows": 5, "columns": 5, "counter": "6 of 6 flows"}
    # The hostile label value is on the page as text (in the warnings, findings and traces), never as markup.
    assert browser.evaluate("document.scripts.length") == 2
    assert EVIL in browser.evaluate("document.getElementById('warnings').textContent")

    # Only db/postgres matches: its three flows (from frontend, to debug, to outside); the grid keeps postgres and
    # those three peers.
    type_filter(browser, "postgres")
    assert visible(browser) == {"flows": 3, "rows": 4, "columns": 4, "counter": "3 of 6 flows"}
    assert browser.evaluate("[...document.querySelectorAll('#grid tbody tr:not([hidden]):not(.peer) th')]"
                            ".map(th => th.textContent)") == ["db/postgres"]
    type_filter(browser, "POSTGRES")  # case does not matter
    assert visible(browser)["flows"] == 3
    # web/admin and web/frontend: admin -> frontend and frontend -> postgres; in the grid with their peer postgres.
    type_filter(browser, "web/")
    assert visible(browser) == {"flows": 2, "rows": 3, "columns": 3, "counter": "2 of 6 flows"}
    type_filter(browser, "no such endpoint")
    assert visible(browser) == {"flows": 0, "rows": 0, "columns": 0, "counter": "0 of 6 flows"}
    type_filter(browser, "")
    assert visible(browser)["flows"] == 6

    # The namespace dropdown: tools holds debug (postgres -> debug, debug -> outside, outside -> debug) ...
    choose_namespace(browser, "tools")
    assert visible(browser) == {"flows": 3, "rows": 3, "columns": 3, "counter": "3 of 6 flows"}
    # ... "outside the cluster" is the one region (postgres -> it, debug -> it, it -> debug) ...
    choose_namespace(browser, "-")
    assert visible(browser)["flows"] == 3
    # ... and the text narrows it further: debug is not in web, so nothing is left.
    choose_namespace(browser, "web")
    type_filter(browser, "debug")
    assert visible(browser)["flows"] == 0
    type_filter(browser, "")
    assert visible(browser)["flows"] == 2
    choose_namespace(browser, "")

    # Open the explanation of the first flow (db/postgres -> tools/debug, unknown) and of web/admin -> web/frontend.
    opened = browser.evaluate("""(() => {
        const flows = [...document.querySelectorAll('#flows details.flow')];
        const wanted = flows.filter(d => /web\\/admin/.test(d.querySelector('.src').textContent));
        wanted[0].querySelector('summary').click();
        flows[0].querySelector('summary').click();
        return [wanted[0].open, wanted[0].querySelector('.traces').innerText, flows[0].querySelector('.traces')
                .innerText];
    })()""")
    assert opened[0] is True
    assert "web/admin -> web/frontend on 8080/TCP: ALLOWED" in opened[1]
    assert "web/admin -> web/frontend on 8081/TCP: DENIED" in opened[1]
    assert "db/postgres -> tools/debug on 80/TCP: UNKNOWN" in opened[2] and EVIL in opened[2]

    screenshot(browser, tmp_path / "report-small.png", capsys)
    assert_clean(browser, url)


def test_demo_shop_report_in_chromium(browser, tmp_path, capsys):
    page = write_report(tmp_path, [str(REPO / "examples" / "shop")], "shop.html")
    url = open_page(browser, page)
    # 10 workloads and 5 address regions (0.0.0.0/0*, 10.0.0.0/8, 169.254.169.254/32, 203.0.113.0/24*,
    # 203.0.113.128/25): 15 rows in the grid.
    assert visible(browser)["rows"] == 15
    # postgres (examples/shop/52-policies-shop-data.yaml) admits catalog and checkout (shop-api), report, and
    # prometheus on metrics, whose egress is open; its own egress is denied by shop-data/default-deny: 4 flows,
    # and in the grid postgres with those 4 peers.
    type_filter(browser, "shop-data/postgres")
    state = visible(browser)
    assert (state["flows"], state["rows"]) == (4, 5)
    browser.evaluate("document.querySelector('#flows details.flow:not([hidden]) summary').click()")
    screenshot(browser, tmp_path / "report-shop-filtered.png", capsys)
    type_filter(browser, "")
    screenshot(browser, tmp_path / "report-shop.png", capsys)
    assert_clean(browser, url)


# The six flows of SMALL without the hostile policy, worked out by hand in tests/unit/test_report_formats.py.
SMALL_FLOWS = {("web/admin", "web/frontend"), ("web/frontend", "db/postgres"), ("db/postgres", "tools/debug"),
               ("db/postgres", "0.0.0.0/0"), ("tools/debug", "0.0.0.0/0"), ("0.0.0.0/0", "tools/debug")}


def test_grouped_report_filters_by_group_members_and_opens_groups(browser, tmp_path, capsys):
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(SMALL.split("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: "
                                    "{name: quarantine")[0])
    state = analysis.load(manifests=[str(manifest)])
    page = tmp_path / "grouped.html"
    page.write_text(render(build_bundle(analysis.analyze(state), "workload", grouped=True)), encoding="utf-8")
    url = open_page(browser, page)
    data = json.loads(browser.evaluate("document.getElementById('report-data').textContent"))
    names = [ep["name"] for ep in data["endpoints"]]
    groups = [[names[m] for m in members] for members in data["groups"]]
    # The page's groups stand for exactly the six flows (pairs of different endpoints).
    pairs = {(a, b) for src, dst in data["flows"] for a in groups[src] for b in groups[dst] if a != b}
    assert pairs == SMALL_FLOWS
    total = len(data["flows"])
    assert visible(browser)["counter"] == f"{total} of {total} flows"

    # The filter keeps a grouped flow when a member of either group matches.
    for needle in ("postgres", "web/", "0.0.0.0", "no such endpoint"):
        type_filter(browser, needle)
        expected = sum(1 for src, dst in data["flows"]
                       if any(needle in n for n in groups[src] + groups[dst]))
        assert visible(browser)["flows"] == expected, needle
    type_filter(browser, "")

    # A group opens to its members, written in as text when it is opened.
    boxes = browser.evaluate("[...document.querySelectorAll('details.group')].map(d => Number(d.dataset.g))")
    for number in boxes:
        text = browser.evaluate(f"""(() => {{
            const box = document.querySelector('details.group[data-g="{number}"]');
            box.querySelector('summary').click();
            return new Promise(done => setTimeout(() => done(box.querySelector('p.members').textContent), 50));
        }})()""")
        assert text == ", ".join(groups[number])
    screenshot(browser, tmp_path / "report-grouped.png", capsys)
    assert_clean(browser, url)
