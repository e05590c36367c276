"""Benchmark driver: netaudit end to end at several cluster sizes, against network-config-analyzer and
netpol-analyzer on identical inputs, plus analysis-only, live listing and an agreement check.

    .venv/bin/python bench/run.py                      # everything (make bench)
    .venv/bin/python bench/run.py --sizes 1k,5k --no-live --no-profile

Every measured command runs in its own child process; its wall time is taken around the child and its peak memory
is the child's own `ru_maxrss` (os.wait4), so each run's peak is its own. Clusters come from tools/gen_cluster.py
and are cached under .cache/bench/. The results table is printed and written to bench-results/latest.md.
No number here is asserted anywhere: timings are reported, never tested.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import peers as P  # noqa: E402
from tools.gen_cluster import generate  # noqa: E402

CACHE = REPO / ".cache" / "bench"
RESULTS = REPO / "bench-results"
PYTHON = REPO / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Size:
    name: str
    pods: int
    namespaces: int
    policies: int


SIZES = {s.name: s for s in (Size("1k", 1000, 50, 200), Size("5k", 5000, 250, 1000),
                             Size("10k", 10000, 500, 2000), Size("50k", 50000, 1000, 4000))}


@dataclass(frozen=True)
class Shape:
    """A harder cluster shape than the teams one: no policy at all, or every pod its own class (gen_cluster)."""

    name: str
    pods: int
    namespaces: int
    policies: int
    diverse: bool


SHAPES = {s.name: s for s in (Shape("open-2k", 2000, 100, 0, False), Shape("open-10k", 10000, 500, 0, False),
                              Shape("diverse-2k", 2000, 100, 400, True),
                              Shape("diverse-10k", 10000, 500, 2000, True))}


# ------------------------------------------------------------------------------------------------ clusters

class _QuotingDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Quotes strings that a YAML 1.2 reader (Go's sigs.k8s.io/yaml, used by netpol-analyzer) would take for a number
    or a boolean. PyYAML (YAML 1.1) writes `pod-template-hash: 0058989008` or `46e5920673` unquoted; Go reads those as
    numbers and rejects the whole file ("cannot unmarshal number into ... labels of type string")."""


_AMBIGUOUS = re.compile(r"[-+]?(\.?[0-9][0-9a-fA-FxXoO_.eE+-]*|\.inf|\.nan)|true|false|yes|no|on|off|y|n|null|~",
                        re.IGNORECASE)


def _represent_str(dumper, value):
    style = "'" if _AMBIGUOUS.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_QuotingDumper.add_representer(str, _represent_str)


def cluster_dir(size: Size | Shape, calico: bool = False) -> Path:
    """tools/gen_cluster.generate() written once per size to .cache/bench/<name>/cluster.yaml (seed 1)."""
    diverse = getattr(size, "diverse", False)
    out = CACHE / (f"{size.name}-{size.pods}-{size.namespaces}-{size.policies}{'-calico' if calico else ''}"
                   f"{'-diverse' if diverse else ''}")
    target = out / "cluster.yaml"
    if not target.exists():
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        objects = generate(size.pods, size.namespaces, size.policies, calico, diverse=diverse)
        tmp = out / "cluster.yaml.tmp"
        with open(tmp, "w") as handle:
            yaml.dump_all(objects, handle, Dumper=_QuotingDumper, sort_keys=False)
        tmp.rename(target)
        print(f"  generated {size.name}: {len(objects)} objects in {time.monotonic() - t0:.1f}s -> {target}",
              flush=True)
    return out


# ------------------------------------------------------------------------------------------------ measuring

@dataclass
class Run:
    status: str          # ok | timeout | failed (exit N) | skipped (reason) | missing
    seconds: float | None = None
    peak_mb: float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def cell(self) -> str:
        if self.ok:
            return f"{self.seconds:.1f} s / {self.peak_mb:.0f} MB"
        if self.status == "timeout":
            return f"timeout (> {self.seconds:.0f} s, {self.peak_mb:.0f} MB so far)" if self.peak_mb else "timeout"
        return self.status


# The measured command is started by this small launcher, not by run.py itself. On Linux a child's ru_maxrss also
# counts the memory of the process it was forked from, up to its exec (the kernel keeps the old mm's high-water mark
# on exec), so a child forked from this driver, which holds generated clusters, would report the driver's peak. The
# launcher is a fresh `python -I -S` (a few MB: the floor every number carries, measured and printed as "floor"); it
# forks and execs the command, waits with os.wait4 and writes the child's own rusage. On timeout the driver sends
# SIGTERM to the group: the launcher ignores it, the command dies, and its peak so far is still reported.
LAUNCHER = textwrap.dedent("""
    import json, os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execvp(sys.argv[2], sys.argv[2:])
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - t0
    with open(sys.argv[1], "w") as handle:
        json.dump({"exit": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss, "seconds": seconds,
                   "user_s": usage.ru_utime, "sys_s": usage.ru_stime}, handle)
""")


def measure(argv: list[str], stdout: str | os.PathLike = os.devnull, timeout: float = 300,
            env: dict | None = None) -> Run:
    """Runs argv in a child of a fresh launcher; returns the child's wall time and its own peak RSS (os.wait4)."""
    with open(stdout, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json", delete=False) as result:
        result_path = result.name
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, result_path, *argv], stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=REPO)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)  # the command dies; the launcher stays to report its rusage
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        err.seek(0)
        tail = err.read()[-3000:].decode("utf-8", "replace")
    try:
        with open(result_path) as handle:
            data = json.load(handle) if os.path.getsize(result_path) else {}
    finally:
        os.unlink(result_path)
    peak_mb = data["maxrss_kb"] / 1024 if data else None
    if timed_out:
        return Run("timeout", timeout, peak_mb, tail)
    if not data:
        return Run(f"failed (launcher exit {proc.returncode})", None, None, tail)
    if data["exit"] != 0:
        return Run(f"failed (exit {data['exit']})", data["seconds"], peak_mb, tail)
    return Run("ok", data["seconds"], peak_mb, tail)


def launcher_floor() -> float:
    """Peak RSS that `measure` reports for a command that does nothing (`true`): the floor of every number."""
    run = measure(["true"], os.devnull, 30)
    return run.peak_mb or 0.0


def netaudit_argv(directory: Path, level: str = "workload") -> list[str]:
    return [str(P.NETAUDIT_BIN), "matrix", "-f", str(directory), "--level", level, "-o", "json"]


ANALYSIS_ONLY = textwrap.dedent("""
    import json, sys, time
    from auditor import analysis
    t0 = time.perf_counter()
    state = analysis.load(manifests=[sys.argv[1]])
    t1 = time.perf_counter()
    result = analysis.analyze(state)
    view = result.matrix_view('workload')
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "analyze_s": t2 - t1, "classes": result.universe.pod_count}))
""")


def analysis_only(directory: Path, timeout: float) -> tuple[Run, dict]:
    out = CACHE / "out" / "analysis-only.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    run = measure([str(PYTHON), "-c", ANALYSIS_ONLY, str(directory)], out, timeout)
    data = json.loads(out.read_text()) if run.ok else {}
    return run, data


# ------------------------------------------------------------------------------------------------ shapes

# The commands measured on each shape: (column, argv after `netaudit`, run on 10k too). Pair listings of a dense
# 10k cluster are 100 million lines (about 10 GB): they are measured at 2k only.
SHAPE_COMMANDS = (
    ("analysis", None, True),
    ("matrix pod table", ["matrix", "--level", "pod"], True),
    ("matrix pod json --grouped", ["matrix", "--level", "pod", "-o", "json", "--grouped"], True),
    ("matrix workload json --grouped", ["matrix", "--level", "workload", "-o", "json", "--grouped"], True),
    ("matrix workload json (pairs)", ["matrix", "--level", "workload", "-o", "json"], False),
    ("matrix pod json (pairs)", ["matrix", "--level", "pod", "-o", "json"], False),
    ("report html", ["report", "-o", "html"], True),
    ("diff --with one policy", ["diff", "--level", "workload"], True),
)

ANALYSIS_ONLY_SHAPE = textwrap.dedent("""
    import json, sys, time
    from auditor import analysis
    state = analysis.load(manifests=[sys.argv[1]])
    t0 = time.perf_counter()
    result = analysis.analyze(state)
    t1 = time.perf_counter()
    print(json.dumps({"analyze_s": t1 - t0, "classes": result.universe.pod_count,
                      "blocks": len(result.matrix.blocks)}))
""")

ONE_POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "bench-default-deny", "namespace": "team0000"},
              "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def shapes(names: list[str], include_10k: bool, timeout: float, peers: bool, peer_timeout: float) -> list[dict]:
    """Every command of SHAPE_COMMANDS on each shape, and the peers on the 2k shapes."""
    rows = []
    change = CACHE / "one-policy.yaml"
    change.parent.mkdir(parents=True, exist_ok=True)
    change.write_text(yaml.safe_dump(ONE_POLICY))
    for name in names:
        shape = SHAPES[name]
        if shape.pods > 2000 and not include_10k:
            continue
        directory = cluster_dir(shape)
        row: dict = {"label": f"{shape.name} ({shape.pods} pods / {shape.namespaces} ns / {shape.policies} "
                              f"policies)", "runs": {}}
        for column, argv, at_10k in SHAPE_COMMANDS:
            if shape.pods > 2000 and not at_10k:
                row["runs"][column] = Run("not run (100 million pairs)")
                continue
            out = CACHE / "out" / f"shape-{shape.name}-{column.replace(' ', '_')}.out"
            if argv is None:
                run = measure([str(PYTHON), "-c", ANALYSIS_ONLY_SHAPE, str(directory)], out, timeout)
                if run.ok:
                    data = json.loads(out.read_text())
                    run.detail = (f"analyze {data['analyze_s']:.1f} s, {data['classes']} classes, "
                                  f"{data['blocks']} blocks")
            else:
                extra = ["--with", str(change)] if argv[0] == "diff" else []
                run = measure([str(P.NETAUDIT_BIN), *argv, "-f", str(directory), "-q", *extra], out, timeout)
                if run.ok:
                    size = out.stat().st_size
                    lines = sum(1 for _ in open(out, "rb")) if size < 2_000_000_000 else None
                    run.detail = f"{size / 1e6:.1f} MB" + (f", {lines:,} lines" if lines is not None else "")
            print(f"[{shape.name}] {column}: {run.cell()} {run.detail if run.ok else run.detail[-300:]}",
                  flush=True)
            row["runs"][column] = run
        if peers and shape.pods <= 2000:
            for peer in P.PEERS:
                if not peer.available():
                    row["runs"][peer.name] = Run("not installed")
                    continue
                out = CACHE / "out" / f"shape-{shape.name}-{peer.name}.out"
                row["runs"][peer.name] = measure(peer.argv(str(directory)), out, peer_timeout)
                print(f"[{shape.name}] {peer.name}: {row['runs'][peer.name].cell()}", flush=True)
        rows.append(row)
    return rows


def render_shapes(rows: list[dict]) -> list[str]:
    lines = ["", "## Dense and diverse clusters (time / peak RSS of the process; output size)", "",
             "`open`: no NetworkPolicy at all (every pod reaches every pod). `diverse`: bare pods with labels unique "
             "to each pod (every pod its own class and workload), dense policy without default-deny "
             "(`tools/gen_cluster.py --diverse`). Each command is `netaudit ... -f DIR -q` with its output to a file; "
             "`analysis` is `analysis.analyze(state)` alone, in-process; `diff` adds a default-deny ingress policy to "
             "one namespace (`--with`). Peers: their usual pair listing, on the 2k shapes.", ""]
    columns = [c for c, _, _ in SHAPE_COMMANDS] + [p.name for p in P.PEERS]
    for row in rows:
        lines += [f"### {row['label']}", "", "| command | time / peak | output |", "|---|---|---|"]
        for column in columns:
            run = row["runs"].get(column)
            if run is not None:
                lines.append(f"| {column} | {run.cell()} | {run.detail if run.ok else ''} |")
        lines.append("")
    return lines


# ------------------------------------------------------------------------------------------------ agreement

def agreement(directory: Path, outputs: dict[str, Path], timeout: float) -> dict:
    """Compares each peer's output with netaudit's workload-level JSON on the sampled probes."""
    na_out = CACHE / "out" / f"netaudit-{directory.name}.json"
    run = measure(netaudit_argv(directory), na_out, timeout)
    if not run.ok:
        return {"error": f"netaudit {run.status}: {run.detail[-500:]}"}
    index = P.index_cluster(P.load_objects(directory))
    unknown: dict = {}
    na = P.parse_netaudit_json(na_out.read_text(), index, unknown_out=unknown)
    endpoints = index.workloads + [f"ip:{ip}" for ip in P.SAMPLE_IPS]
    report = {"workloads": len(index.workloads), "probes": len(P.SAMPLE_PORTS),
              "unknown_pairs": sum(1 for v in unknown.values() if v)}
    for peer in P.PEERS:
        path = outputs.get(peer.name)
        if path is None or not path.exists():
            report[peer.name] = {"error": "no output (not installed, failed or timed out)"}
            continue
        unparsed: list[str] = []
        facts = peer.parse(path.read_text(), index, unparsed)
        # netpol-analyzer lists one representative per workload, so it has no workload-to-itself pairs; NCA lists
        # pods, and pods of one workload talking to each other make the pair W -> W, as in netaudit's union.
        include_self = peer is P.NCA
        cmp = P.compare(na, facts, endpoints, include_self=include_self)
        classes = collections.Counter(_classify(d, index) for d in cmp.disagreements)
        report[peer.name] = {
            "pairs": cmp.pairs, "agreeing_pairs": cmp.agreeing_pairs, "disagreeing_pairs": cmp.disagreeing_pairs,
            "facts": cmp.facts, "agreeing_facts": cmp.agreeing_facts,
            "disagreeing_facts": len(cmp.disagreements), "classes": dict(classes),
            "examples": [list(d) for d in cmp.disagreements[:10]], "unparsed": unparsed[:5],
            "unparsed_count": len(unparsed), "self_pairs_compared": include_self,
        }
    return report


def _classify(d, index: P.ClusterIndex) -> str:
    src, dst, proto, port, ours, theirs = d
    external = src.startswith("ip:") or dst.startswith("ip:")
    direction = "netaudit allows, peer denies" if ours else "peer allows, netaudit denies"
    return f"{'pod<->external' if external else 'pod<->pod'}: {direction}"


# ------------------------------------------------------------------------------------------------ live listing

LIVE_LIST = textwrap.dedent("""
    import json, sys, time
    from auditor.sources.live import load_live
    t0 = time.perf_counter()
    state = load_live(kubeconfig=sys.argv[1], context=sys.argv[2])
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "pods": len(state.pods)}))
""")


def live_listing(pods: int, workers: int, timeout: float) -> dict:
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from apiserver import BinariesMissing, LocalApiServer, find_binaries
    try:
        find_binaries()
    except BinariesMissing as e:
        return {"error": str(e)}
    namespaces = max(1, pods // 200)
    objects = generate(pods, namespaces, namespaces * 2, False)
    ns_objs = [o for o in objects if o["kind"] == "Namespace"]
    pod_objs = [o for o in objects if o["kind"] == "Pod"][:pods]
    policy_objs = [o for o in objects if o["kind"] == "NetworkPolicy"]
    server = LocalApiServer().start()
    try:
        server.apply_crds([REPO / "tests" / "integration" / "crds"])
        for ns in ns_objs:
            status, body = server.request("POST", "/api/v1/namespaces", ns)
            assert status in (201, 409), (status, body)

        def create_pod(pod):
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            base = f"/api/v1/namespaces/{ns}/pods"
            for attempt in range(5):
                status, body = server.request("POST", base, {k: v for k, v in pod.items() if k != "status"})
                if status in (201, 409):
                    break
                time.sleep(0.2 * (attempt + 1))
            else:
                raise RuntimeError(f"creating pod {ns}/{name}: {status} {body}")
            status, body = server.request("PATCH", f"{base}/{name}/status", {"status": pod["status"]},
                                          content_type="application/merge-patch+json")
            if status != 200:
                raise RuntimeError(f"status of pod {ns}/{name}: {status} {body}")

        def create_policy(np):
            ns = np["metadata"]["namespace"]
            status, body = server.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", np)
            if status not in (201, 409):
                raise RuntimeError(f"creating policy: {status} {body}")

        t0 = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(create_policy, policy_objs))
            list(pool.map(create_pod, pod_objs))
        create_s = time.monotonic() - t0
        out = CACHE / "out" / "live-list.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        run = measure([str(PYTHON), "-c", LIVE_LIST, server.kubeconfig, server.context], out, timeout)
        data = json.loads(out.read_text()) if run.ok else {}
        return {"pods_created": len(pod_objs), "namespaces": len(ns_objs), "policies": len(policy_objs),
                "create_s": create_s, "workers": workers, "run": run, **data}
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------ profile

PROFILE = textwrap.dedent("""
    import collections, io, json, sys
    from pyinstrument import Profiler
    from auditor import analysis
    from auditor.report.json_matrix import render
    profiler = Profiler(interval=0.001)
    profiler.start()
    state = analysis.load(manifests=[sys.argv[1]])
    result = analysis.analyze(state)
    view = result.matrix_view('workload')
    text = render(view)
    profiler.stop()
    session = profiler.last_session
    own = collections.Counter()
    total = collections.Counter()
    def is_self(frame):  # pyinstrument's synthetic "[self]" child holds its parent's own time
        return frame.function == "[self]" or frame.identifier.startswith("[self]")
    def walk(frame, seen):
        key = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        own[key] += frame.time - sum(c.time for c in frame.children if not is_self(c))
        if key not in seen:
            total[key] += frame.time
        for child in frame.children:
            if not is_self(child):
                walk(child, seen | {key})
    root = session.root_frame()
    walk(root, frozenset())
    with open(sys.argv[2], 'w') as handle:
        handle.write(profiler.output_text(unicode=False, color=False, show_all=False))
    print(json.dumps({"duration": session.duration,
                      "self": own.most_common(15),
                      "cumulative": [(k, v) for k, v in total.most_common(40) if 'auditor' in k][:15]}))
""")


def profile(directory: Path, timeout: float) -> dict:
    check = subprocess.run([str(PYTHON), "-c", "import pyinstrument"], capture_output=True)
    if check.returncode != 0:
        return {"error": "pyinstrument is not installed in .venv (make bench-profile installs it)"}
    out = CACHE / "out" / "profile.json"
    tree = RESULTS / "profile-10k.txt"
    RESULTS.mkdir(exist_ok=True)
    run = measure([str(PYTHON), "-c", PROFILE, str(directory), str(tree)], out, timeout)
    if not run.ok:
        return {"error": f"{run.status}: {run.detail[-1500:]}"}
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------------------------ report

def machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def netaudit_revision() -> str:
    """The commit netaudit ran from, and whether auditor/ had uncommitted changes then."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "auditor"], cwd=REPO, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in auditor/' if dirty else ''}" if head else "unknown"


def peer_versions() -> dict[str, str]:
    out = {}
    for peer in P.PEERS:
        out[peer.name] = f"{peer.version}" + ("" if peer.available() else " (not installed)")
    return out


def _ratio(peer: Run, ours: Run) -> str:
    if peer.ok and ours.ok and ours.seconds:
        return f"{peer.seconds / ours.seconds:.1f}x time, {peer.peak_mb / ours.peak_mb:.1f}x mem"
    if peer.status == "timeout" and ours.ok:
        return f"> {peer.seconds / ours.seconds:.0f}x time"
    return "-"


def render(results: dict) -> str:
    lines = [f"# netaudit benchmark, {results['date']}", "", f"Machine: {results['machine']}", "",
             f"netaudit: {results['revision']}. Peers: " +
             ", ".join(f"{k} {v}" for k, v in results["versions"].items()), "",
             "## End to end (time / peak RSS of the process)", "",
             "Inputs: `tools/gen_cluster.py` (seed 1), Kubernetes NetworkPolicies only. netaudit: "
             "`netaudit matrix -f DIR --level workload -o json > /dev/null`; NCA: "
             "`nca --connectivity -r DIR -o txt_no_fw_rules --output_endpoints pods`; netpol-analyzer: "
             "`netpolicy list --dirpath DIR -o json -q`.", "",
             f"Peak RSS is the measured process's own `ru_maxrss` (os.wait4 in a small launcher); it includes a "
             f"floor of {results['floor_mb']:.0f} MB that the launcher's fork passes on (measured with `true`). "
             f"Peer timeout {results['peer_timeout']:.0f} s, netaudit timeout {results['timeout']:.0f} s; a peer "
             "that timed out is not run on larger sizes.", "",
             "| size (pods / ns / policies) | netaudit | NCA | NCA / netaudit | netpol-analyzer | "
             "netpol-analyzer / netaudit |", "|---|---|---|---|---|---|"]
    for row in results["sizes"]:
        ours, nca, npa = row["netaudit"], row["network-config-analyzer"], row["netpol-analyzer"]
        lines.append(f"| {row['label']} | {ours.cell()} | {nca.cell()} | {_ratio(nca, ours)} | {npa.cell()} | "
                     f"{_ratio(npa, ours)} |")
    if "analysis_only" in results:
        a = results["analysis_only"]
        run, data = a["run"], a["data"]
        if run.ok:
            lines += ["", f"Analysis only, 1k pods / 200 policies, in-process (`analysis.analyze(state)` + "
                          f"`matrix_view('workload')`): **{data['analyze_s']:.2f} s** (load from YAML before it: "
                          f"{data['load_s']:.2f} s; whole child process {run.seconds:.1f} s, "
                          f"peak {run.peak_mb:.0f} MB)."]
        else:
            lines += ["", f"Analysis only: {run.status} {run.detail[-300:]}"]
    if "agreement" in results:
        ag = results["agreement"]
        lines += ["", "## Agreement on the 1k input", ""]
        if "error" in ag:
            lines.append(f"error: {ag['error']}")
        else:
            lines.append(f"Facts are (source workload, destination workload or sampled external IP, protocol, port) on "
                         f"{ag['probes']} probes ({', '.join(f'{p}/{q}' for q, p in P.SAMPLE_PORTS)}) and the IPs "
                         f"{', '.join(P.SAMPLE_IPS)}; {ag['workloads']} workloads. netaudit pairs with unknown "
                         f"verdicts: {ag['unknown_pairs']}.")
            lines += ["", "| peer | pairs | agreeing pairs | disagreeing pairs | facts | disagreeing facts |",
                      "|---|---|---|---|---|---|"]
            for peer in P.PEERS:
                r = ag.get(peer.name, {})
                if "error" in r:
                    lines.append(f"| {peer.name} | {r['error']} | | | | |")
                    continue
                lines.append(f"| {peer.name} | {r['pairs']} | {r['agreeing_pairs']} | {r['disagreeing_pairs']} | "
                             f"{r['facts']} | {r['disagreeing_facts']} |")
            for peer in P.PEERS:
                r = ag.get(peer.name, {})
                if r.get("classes"):
                    lines += ["", f"{peer.name} disagreements by class: " +
                              "; ".join(f"{k}: {v}" for k, v in r["classes"].items()), ""]
                    lines += [f"- `{s} -> {d} {port}/{proto}`: netaudit {'allows' if a else 'denies'}, "
                              f"{peer.name} {'allows' if b else 'denies'}" for s, d, proto, port, a, b in r["examples"]]
                if r.get("unparsed_count"):
                    lines += ["", f"{peer.name}: {r['unparsed_count']} output lines not mapped, e.g. "
                                  f"`{r['unparsed'][0]}`"]
    if "live" in results:
        lv = results["live"]
        lines += ["", "## Live listing (real kube-apiserver + etcd from `make apiserver`, paged)", ""]
        if "error" in lv:
            lines.append(f"error: {lv['error']}")
        else:
            run = lv["run"]
            if run.ok:
                lines.append(f"`load_live()` of {lv['pods']} pods in {lv['namespaces']} namespaces (+ "
                             f"{lv['policies']} NetworkPolicies, every listed resource): **{lv['seconds']:.1f} s, "
                             f"{lv['pods'] / lv['seconds']:.0f} pods/s**, peak {run.peak_mb:.0f} MB (child process "
                             f"{run.seconds:.1f} s with imports). Creating them took {lv['create_s']:.0f} s with "
                             f"{lv['workers']} workers.")
            else:
                lines.append(f"load_live: {run.status} {run.detail[-500:]}")
    if "profile" in results:
        pr = results["profile"]
        lines += ["", "## Profile, 10k pods (pyinstrument, load + analyze + workload view + JSON)", ""]
        if "error" in pr:
            lines.append(f"error: {pr['error']}")
        else:
            lines += [f"Total {pr['duration']:.1f} s. Top 10 by own time:", "",
                      "| own s | function |", "|---|---|"]
            lines += [f"| {sec:.2f} | `{name}` |" for name, sec in pr["self"][:10]]
            lines += ["", "Largest netaudit functions by cumulative time:", "", "| total s | function |", "|---|---|"]
            lines += [f"| {sec:.2f} | `{name}` |" for name, sec in pr["cumulative"][:10]]
            lines += ["", "The full call tree is in bench-results/profile-10k.txt."]
    if results.get("shapes"):
        lines += render_shapes(results["shapes"])
    for note in results.get("notes", []):
        lines += ["", note]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,5k,10k,50k", help="comma-separated, from " + ",".join(SIZES))
    parser.add_argument("--timeout", type=float, default=600, help="netaudit timeout per run, seconds")
    parser.add_argument("--peer-timeout", type=float, default=300, help="peer timeout per run, seconds")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-live", action="store_true")
    parser.add_argument("--live-pods", type=int, default=10000)
    parser.add_argument("--live-workers", type=int, default=4)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--shapes", default="open-2k,open-10k,diverse-2k,diverse-10k",
                        help="comma-separated, from " + ",".join(SHAPES) + " (empty: none)")
    parser.add_argument("--out", default=str(RESULTS / "latest.md"))
    args = parser.parse_args(argv)

    sizes = [SIZES[s] for s in args.sizes.split(",") if s]
    if not os.access(P.NETAUDIT_BIN, os.X_OK):
        parser.error(f"{P.NETAUDIT_BIN} is missing: run `make install` first")
    results: dict = {"date": datetime.date.today().isoformat(), "machine": machine(), "versions": peer_versions(),
                     "sizes": [], "notes": [], "floor_mb": launcher_floor(), "revision": netaudit_revision()}
    results["timeout"], results["peer_timeout"] = args.timeout, args.peer_timeout
    print(f"machine: {results['machine']}\npeers: {results['versions']}", flush=True)
    timed_out: set[str] = set()
    outputs_1k: dict[str, Path] = {}
    (CACHE / "out").mkdir(parents=True, exist_ok=True)
    for size in sizes:
        directory = cluster_dir(size)
        row = {"label": f"{size.pods} / {size.namespaces} / {size.policies}"}
        print(f"[{size.name}] netaudit ...", flush=True)
        row["netaudit"] = measure(netaudit_argv(directory), os.devnull, args.timeout)
        ours = row["netaudit"]
        print(f"[{size.name}] netaudit: {ours.cell()} {'' if ours.ok else ours.detail[-300:]}", flush=True)
        for peer in P.PEERS:
            if args.no_peers:
                row[peer.name] = Run("skipped")
            elif not peer.available():
                row[peer.name] = Run("not installed")
            elif peer.name in timed_out:
                row[peer.name] = Run("skipped (timed out on a smaller size)")
            else:
                out = CACHE / "out" / f"{peer.name}-{size.name}.out"
                print(f"[{size.name}] {peer.name} ...", flush=True)
                row[peer.name] = measure(peer.argv(str(directory)), out, args.peer_timeout)
                if row[peer.name].status == "timeout":
                    timed_out.add(peer.name)
                if row[peer.name].ok and size.name == "1k":
                    outputs_1k[peer.name] = out
                print(f"[{size.name}] {peer.name}: {row[peer.name].cell()}", flush=True)
        results["sizes"].append(row)

    if "1k" in [s.name for s in sizes]:
        directory = cluster_dir(SIZES["1k"])
        print("[1k] analysis only ...", flush=True)
        run, data = analysis_only(directory, args.timeout)
        results["analysis_only"] = {"run": run, "data": data}
        if not args.no_peers:
            print("[1k] agreement ...", flush=True)
            results["agreement"] = agreement(directory, outputs_1k, args.timeout)
    if not args.no_live:
        print(f"[live] creating {args.live_pods} pods on a local kube-apiserver ...", flush=True)
        try:
            results["live"] = live_listing(args.live_pods, args.live_workers, args.timeout)
        except Exception as e:  # the benchmark reports; it does not stop at one broken part
            results["live"] = {"error": f"{type(e).__name__}: {e}"}
    shape_names = [s for s in args.shapes.split(",") if s]
    unknown_shapes = set(shape_names) - set(SHAPES)
    if unknown_shapes:
        parser.error(f"unknown shape(s) {', '.join(sorted(unknown_shapes))}")
    if shape_names:
        results["shapes"] = shapes(shape_names, True, args.timeout, not args.no_peers, args.peer_timeout)
    if not args.no_profile and "10k" in [s.name for s in sizes]:
        print("[10k] profile ...", flush=True)
        results["profile"] = profile(cluster_dir(SIZES["10k"]), args.timeout)

    text = render(results)
    print("\n" + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    raw = {k: v for k, v in results.items()}
    Path(args.out).with_suffix(".json").write_text(json.dumps(raw, default=lambda o: o.__dict__, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
