"""Predicted vs observed: matches, the two kinds of mismatch, flakes, and what is never a mismatch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from auditor.model import Pod
from auditor.probe.collect import Observation
from auditor.probe.compare import (
    BLOCKED,
    FALSE_ALLOW,
    FALSE_DENY,
    INCONCLUSIVE,
    MATCH,
    MISSING,
    NO_RESULT,
    NOT_TESTED,
    OPEN,
    UNKNOWN_PREDICTED,
    compare,
    displaced_sources,
    judge,
)
from auditor.probe.plan import NOT_PROBED, TCP_CONNECT, Plan, PlannedProbe, ProbeSource
from auditor.report.verify import render_json, render_table


def planned(predicted, n=0, method=TCP_CONNECT, src_class=0):
    return PlannedProbe(f"p{n}", "a/web", src_class, "b/db", 1, "10.0.0.9", "TCP", 5432, predicted, ("why",), method)


def seen(*attempts, n=0):
    return Observation(f"p{n}", "b/db", "10.0.0.9", "TCP", 5432, attempts[-1], len(attempts), tuple(attempts), "",
                       "netaudit-probe-r-0")


@pytest.mark.parametrize("predicted,attempts,observed,verdict,flaky", [
    # Allowed and through: connected, or refused (the host answered: nothing listens, but the network let it in).
    ("allowed", ["connected"], OPEN, MATCH, False),
    ("allowed", ["refused"], OPEN, MATCH, False),
    # Allowed but dropped on every try: the prediction is wrong.
    ("allowed", ["timeout", "timeout", "timeout"], BLOCKED, FALSE_DENY, False),
    # Allowed, dropped once, then through: it matches, and it is a flake.
    ("allowed", ["timeout", "connected"], OPEN, MATCH, True),
    # Denied and dropped on every try.
    ("denied", ["timeout", "timeout", "timeout"], BLOCKED, MATCH, False),
    # Denied but open: the dangerous mismatch, whether connected or refused.
    ("denied", ["connected"], OPEN, FALSE_ALLOW, False),
    ("denied", ["refused"], OPEN, FALSE_ALLOW, False),
    # Denied, dropped twice, then through once: still a hole (the policy let a packet in), and flaky.
    ("denied", ["timeout", "timeout", "connected"], OPEN, FALSE_ALLOW, True),
    # The probe itself failed: it says nothing either way.
    ("allowed", ["error", "error", "error"], NO_RESULT, INCONCLUSIVE, False),
    ("denied", ["error", "error", "error"], NO_RESULT, INCONCLUSIVE, False),
    # Predicted unknown: observed and shown, never a mismatch.
    ("unknown", ["connected"], OPEN, UNKNOWN_PREDICTED, False),
    ("unknown", ["timeout", "timeout", "timeout"], BLOCKED, UNKNOWN_PREDICTED, False),
])
def test_judge(predicted, attempts, observed, verdict, flaky):
    outcome = judge(planned(predicted), seen(*attempts))
    assert (outcome.observed, outcome.verdict, outcome.flaky) == (observed, verdict, flaky)
    assert outcome.mismatch == (verdict in (FALSE_ALLOW, FALSE_DENY))


def test_refused_is_explained():
    assert "host answered" in judge(planned("denied"), seen("refused")).note


def test_missing_and_untestable_probes_are_inconclusive():
    missing = judge(planned("denied"), None)
    assert (missing.observed, missing.verdict) == (MISSING, INCONCLUSIVE)
    untested = judge(planned("allowed", method=NOT_PROBED), None)
    assert (untested.observed, untested.verdict) == (NOT_TESTED, INCONCLUSIVE)


def test_a_displaced_probe_is_never_a_mismatch():
    outcome = judge(planned("denied"), seen("connected"), "the probe pod's IP is in another region")
    assert outcome.verdict == UNKNOWN_PREDICTED and "another region" in outcome.note


def test_report_counts_mismatches_and_flakes():
    plan = Plan([], [planned("allowed", 0), planned("denied", 1), planned("allowed", 2), planned("denied", 3),
                     planned("unknown", 4)], skipped=["no probe from x/h: hostNetwork"], left_out=7)
    observations = {"p0": seen("connected", n=0), "p1": seen("timeout", "connected", n=1),
                    "p2": seen("timeout", "timeout", "timeout", n=2), "p3": seen("timeout", "timeout", n=3)}
    report = compare(plan, observations, "r1", ["a warning"])
    assert [o.verdict for o in report.outcomes] == [MATCH, FALSE_ALLOW, FALSE_DENY, MATCH, INCONCLUSIVE]
    assert [o.probe.id for o in report.mismatches] == ["p1", "p2"]
    assert [o.probe.id for o in report.flaky] == ["p1"]
    assert report.counts() == {MATCH: 2, FALSE_ALLOW: 1, FALSE_DENY: 1, UNKNOWN_PREDICTED: 0, INCONCLUSIVE: 1,
                               "flaky": 1}

    doc = json.loads(render_json(report))
    assert doc["apiVersion"] == "netaudit/v1" and doc["kind"] == "VerificationReport" and doc["runId"] == "r1"
    assert doc["summary"] == {"probes": 5, MATCH: 2, FALSE_ALLOW: 1, FALSE_DENY: 1, UNKNOWN_PREDICTED: 0,
                              INCONCLUSIVE: 1, "flaky": 1, "leftOut": 7}
    p1 = doc["probes"][1]
    assert (p1["predicted"], p1["result"], p1["attempts"], p1["verdict"], p1["flaky"]) == (
        "denied", "connected", ["timeout", "connected"], FALSE_ALLOW, True)
    assert doc["probes"][4]["result"] is None and doc["probes"][4]["observed"] == MISSING
    assert doc["skipped"] == ["no probe from x/h: hostNetwork"] and doc["warnings"] == ["a warning"]

    table = render_table(report)
    assert "FALSE-ALLOW (1)" in table and "FALSE-DENY (1)" in table and "FLAKY (1)" in table
    assert "netaudit explain a/web b/db --port 5432/TCP" in table
    assert ("5 probes: 2 match, 1 false-allow, 1 false-deny, 0 unknown predicted, 1 inconclusive; 1 flaky; "
            "7 left out by --max-probes") in table


def test_displaced_sources():
    web = ProbeSource(0, Pod("a", "web"), {}, frozenset({3}))
    api = ProbeSource(1, Pod("a", "api"), {}, frozenset({3}))
    plan = Plan([web, api], [])
    regions = {"10.0.0.7": 3, "192.168.1.7": 5}
    found = displaced_sources(plan, {0: "10.0.0.7", 1: "192.168.1.7"}, regions.get)
    assert list(found) == [1] and "192.168.1.7" in found[1] and "a/api" in found[1]
    assert displaced_sources(plan, {0: "", 1: "fd00::1"}, regions.get) == {}  # no IP, or one we cannot place


# --- the whole run, through the CLI, on a stand-in API that "runs" the probe pods ------------------------------------
class FakeCore:
    """Just the CoreV1Api calls verify makes. Each probe pod 'runs' at once: its log answers every planned probe
    as `behaviour(probe)` says, and its IP is 10.0.1.200 + n."""

    def __init__(self, behaviour, stuck=False):
        self.behaviour = behaviour
        self.stuck = stuck
        self.pods: dict[tuple[str, str], dict] = {}
        self.deleted: list[str] = []

    def create_namespaced_pod(self, namespace, body, **_):
        self.pods[(namespace, body["metadata"]["name"])] = body

    def read_namespaced_pod(self, name, namespace, **_):
        n = len([k for k in self.pods if k <= (namespace, name)])
        waiting = SimpleNamespace(reason="ImagePullBackOff", message="not found")
        statuses = [SimpleNamespace(state=SimpleNamespace(waiting=waiting), image="busybox:1.36")] if self.stuck else []
        return SimpleNamespace(spec=SimpleNamespace(node_name="node-1"), status=SimpleNamespace(
            phase="Pending" if self.stuck else "Succeeded", pod_ip=f"10.0.1.{200 + n}", container_statuses=statuses,
            conditions=[]))

    def read_namespaced_pod_log(self, name, namespace, container, **_):
        plan = json.loads(self.pods[(namespace, name)]["metadata"]["annotations"]["netaudit.dev/plan"])
        lines = ['{"netaudit":"probe-start"}']
        for probe_id, dst, ip, port_proto, _predicted in plan:
            port, proto = port_proto.split("/")
            attempts = self.behaviour(self.pods[(namespace, name)]["metadata"]["labels"], dst, int(port))
            lines.append(json.dumps({"id": probe_id, "dst": dst, "ip": ip, "protocol": proto, "port": int(port),
                                     "result": attempts[-1], "tries": len(attempts), "attempts": attempts}))
        return "\n".join(lines + ['{"netaudit":"probe-done"}']) + "\n"

    def list_namespaced_pod(self, namespace, label_selector, **_):
        key, value = label_selector.split("=")
        items = [SimpleNamespace(metadata=SimpleNamespace(namespace=ns, name=name, labels=body["metadata"]["labels"]))
                 for (ns, name), body in self.pods.items()
                 if ns == namespace and body["metadata"]["labels"].get(key) == value]
        return SimpleNamespace(items=items)

    def delete_namespaced_pod(self, name, namespace, **_):
        del self.pods[(namespace, name)]
        self.deleted.append(f"{namespace}/{name}")


def _cluster_state():
    from auditor.sources.manifests import build_state

    def pod(name, labels, ip, port):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "x", "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": port}]}]},
                "status": {"phase": "Running", "podIP": ip}}
    # db admits only app=web on 5432; web is not isolated.
    return build_state([(o, "test") for o in [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        pod("web", {"app": "web"}, "10.0.1.1", 8080), pod("db", {"app": "db"}, "10.0.1.2", 5432),
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "x"},
         "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                               "ports": [{"port": 5432}]}]}},
    ]], representatives=False)


def _invoke(monkeypatch, core, *more):
    from click.testing import CliRunner

    from auditor.cli import main
    from auditor.cli import verify as cli_verify  # the module
    from auditor.probe import run as probe_run
    monkeypatch.setattr(cli_verify, "load_state", lambda *a, **k: _cluster_state())
    monkeypatch.setattr(probe_run, "connect", lambda *a, **k: core)
    monkeypatch.setattr(probe_run.time, "sleep", lambda s: None)
    return CliRunner().invoke(main, ["verify", "-q", *more])


def test_a_run_where_the_dataplane_agrees(monkeypatch):
    # The dataplane behaves as the policy says: only web reaches db, and only on 5432; everything else is open.
    def dataplane(labels, dst, port):
        if dst == "x/db" and not (labels.get("app") == "web" and port == 5432):
            return ["timeout", "timeout", "timeout"]
        return ["connected"] if (dst, port) in (("x/web", 8080), ("x/db", 5432)) else ["refused"]
    core = FakeCore(dataplane)
    result = _invoke(monkeypatch, core, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # Pairs (db,db) (db,web) (web,db) (web,web): db -> db: 5432 denied; db -> web: all allowed (lowest TCP port
    # stands in: 8080 is declared); web -> db: 5432 allowed, 1 denied; web -> web: 8080 allowed.
    got = {(p["from"], p["to"], p["port"], p["predicted"], p["verdict"]) for p in doc["probes"]}
    assert got == {("x/db", "x/db", 5432, "denied", MATCH), ("x/db", "x/web", 8080, "allowed", MATCH),
                   ("x/web", "x/db", 5432, "allowed", MATCH), ("x/web", "x/db", 1, "denied", MATCH),
                   ("x/web", "x/web", 8080, "allowed", MATCH)}
    assert core.pods == {} and len(core.deleted) == 2


def test_a_run_with_a_hole_exits_1(monkeypatch):
    # A dataplane that ignores the policy: db is open to everyone.
    core = FakeCore(lambda labels, dst, port: ["timeout", "connected"] if dst == "x/db" else ["connected"])
    result = _invoke(monkeypatch, core)
    assert result.exit_code == 1, result.output
    assert "FALSE-ALLOW (2)" in result.stdout  # db -> db 5432 and web -> db 1, both predicted denied
    assert "FLAKY (3)" in result.stdout  # the three probes to db (db:5432, web:5432, web:1) needed a second try
    assert core.pods == {}


def test_a_probe_image_that_cannot_be_pulled_stops_the_run(monkeypatch):
    core = FakeCore(lambda *a: ["connected"], stuck=True)
    result = _invoke(monkeypatch, core)
    assert result.exit_code == 2
    assert "ImagePullBackOff" in result.stderr and "--probe-image" in result.stderr and "deleted them" in result.stderr
    assert core.pods == {}


def test_cleanup_deletes_only_probe_pods_and_falls_back_to_each_namespace():
    from kubernetes.client.exceptions import ApiException

    from auditor.probe.run import ProbeRunner

    class NamespacedOnly(FakeCore):
        """RoleBindings only: no cluster-wide list, and no access at all to namespace y."""

        def list_pod_for_all_namespaces(self, **_):
            raise ApiException(status=403, reason="Forbidden")

        def list_namespace(self, **_):
            return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name=n)) for n in ("x", "y")])

        def list_namespaced_pod(self, namespace, label_selector, **kw):
            if namespace == "y":
                raise ApiException(status=403, reason="Forbidden")
            return super().list_namespaced_pod(namespace, label_selector, **kw)

    core = NamespacedOnly(None)
    core.pods = {("x", "probe"): {"metadata": {"labels": {"netaudit.dev/probe": "true", "netaudit.dev/run": "r"}}},
                 # Carries a run label but is no probe pod (someone copied the label): never deleted.
                 ("x", "lookalike"): {"metadata": {"labels": {"netaudit.dev/run": "r"}}}}
    runner = ProbeRunner(core)
    assert runner.delete_matching("netaudit.dev/run=r", ["x"]) == (["x/probe"], [])
    assert list(core.pods) == [("x", "lookalike")]
    deleted, left = runner.delete_matching("netaudit.dev/probe=true", None)
    assert deleted == [] and len(left) == 1 and left[0].startswith("namespace y: cannot list pods in y: 403")
