"""The node agent: a stand-in for the scheduler, the kubelet and the Calico CNI plugin of one node.

No real scheduler, kubelet, container runtime or CNI plugin runs on the local Calico node, so this agent does
the part of their work that a network policy dataplane can observe, and nothing more:

- scheduler: a pod with no spec.nodeName is bound to the node (the pods/binding subresource);
- CNI plugin (as Calico's does it): every pod on the node gets a network namespace, a veth whose node-side name is
  `cali` + the first 11 hex digits of sha1("<namespace>.<pod>") (the name Felix derives for the endpoint) and whose
  pod side is `eth0` with the pod's /32, `169.254.1.1 dev eth0 scope link` and a default route via it; the node
  side gets proxy ARP and a /32 route. The IP is the one asked for in the annotation
  `cni.projectcalico.org/ipAddrs` (as Calico's CNI honours it), else the next free one of the IPPool. Like
  Calico's CNI with Felix's endpoint status files, containers start only once Felix reports the endpoint up
  (its policy is programmed). The namespace is removed when the pod is deleted;
- kubelet: writes the pod status (Running, Ready unless a readiness probe says otherwise, podIP/podIPs,
  hostIP, container states), runs the containers whose command it can run (a command whose program is a
  busybox applet, such as the `/bin/sh -c <script>` of `netaudit verify`'s probe pods) with busybox from
  Debian, as user 65534 (or the pod's non-root runAsUser) inside the pod's network namespace, keeps their output
  and serves it like the kubelet (HTTPS /containerLogs/<ns>/<pod>/<container>, see kubelet.py), so the API
  server's pod log endpoint works; marks them Succeeded/Failed when they exit (restartPolicy is treated as
  Never), enforces activeDeadlineSeconds, and finishes a graceful pod deletion once the pod is torn down.
  Containers it cannot run (an nginx image, say) are reported running but nothing runs: a destination pod
  need not listen, since a TCP reset (connection refused) or an ICMP port unreachable proves the packet got
  through the policy.

Exec readiness probes whose program is a busybox applet are run once when the container starts; other probe
kinds are taken as passing. No images are pulled, no volumes, no resource limits, no restarts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import netns

IP_ANNOTATION = "cni.projectcalico.org/ipAddrs"
NOBODY = 65534
GATEWAY = "169.254.1.1"
NODE_SIDE_MAC = "ee:ee:ee:ee:ee:ee"  # what Calico's CNI gives every node-side veth


def veth_name(namespace: str, pod: str) -> str:
    """The node-side interface name Calico derives for a pod (libcalico-go VethNameForWorkload)."""
    return "cali" + hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Container:
    name: str
    argv: list[str] | None  # None: not run
    uid: int
    env: dict[str, str]
    readiness: list[str] | None  # an exec readiness probe we can run
    proc: subprocess.Popen | None = None
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    ready: bool = False


@dataclass
class PodRuntime:
    namespace: str
    name: str
    uid: str
    netns: str
    iface: str
    ip: str
    log_dir: Path
    containers: list[Container]
    deadline: float | None = None
    started: float = field(default_factory=time.monotonic)
    start_time: str = field(default_factory=now)
    status_sent: str = ""  # a digest of the last status written
    killed_reason: str = ""
    starting: bool = True  # containers not started yet (waiting for Felix)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


class NodeAgent:
    """Reconciles the pods of one node every `interval` seconds (see the module docstring)."""

    def __init__(self, api, *, node_name: str, node_ip: str, node_netns: str, pod_netns_prefix: str,
                 pool: str, state_dir: Path, busybox_dir: Path, felix_status_dir: Path,
                 log: Callable[[str], None] = print, interval: float = 0.1, felix_wait: float = 20.0):
        self.api = api
        self.node_name = node_name
        self.node_ip = node_ip
        self.node_netns = node_netns
        self.prefix = pod_netns_prefix
        self.pool = ipaddress.ip_network(pool)
        self.state_dir = state_dir
        self.busybox_dir = busybox_dir
        self.felix_status_dir = felix_status_dir
        self.log = log
        self.interval = interval
        self.felix_wait = felix_wait
        self.pods: dict[str, PodRuntime] = {}  # by uid
        self.logs: dict[tuple[str, str, str], Path] = {}  # (ns, pod, container) -> log file
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.generation = 0  # completed reconcile passes
        self._nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
        self._setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="node-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self.lock:
            for rt in list(self.pods.values()):
                self._teardown(rt)
            self.pods.clear()

    def wait_passes(self, passes: int = 2, timeout: float = 10.0) -> None:
        """Wait until `passes` more reconcile passes have completed (everything seen before is handled)."""
        target = self.generation + passes
        deadline = time.monotonic() + timeout
        while self.generation < target and time.monotonic() < deadline:
            time.sleep(self.interval / 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception as e:  # noqa: BLE001 - the agent must keep going; the error is logged
                self._error(f"reconcile: {type(e).__name__}: {e}")
            self.generation += 1
            self._stop.wait(self.interval)

    def _error(self, text: str) -> None:
        if self.errors and self.errors[-1] == text:
            return  # the same failure again on the next pass: said once
        self.errors.append(text)
        del self.errors[:-50]
        self.log(f"node-agent: {text}")

    # ------------------------------------------------------------------ API
    def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json"):
        status, data = self.api.request(method, path, body, content_type=content_type, timeout=15)
        return status, data

    # ------------------------------------------------------------------ reconcile
    def reconcile(self) -> None:
        status, body = self._call("GET", "/api/v1/pods")
        if status != 200:
            raise RuntimeError(f"list pods: HTTP {status}: {body}")
        items = body.get("items") or []
        with self.lock:
            live = {p["metadata"]["uid"]: p for p in items}
            for uid in [u for u in self.pods if u not in live]:  # deleted: tear down first (IPs get reused)
                self._teardown(self.pods.pop(uid))
            for pod in items:
                meta, spec = pod["metadata"], pod.get("spec") or {}
                uid = meta["uid"]
                if not spec.get("nodeName"):
                    if not meta.get("deletionTimestamp") and not spec.get("hostNetwork"):
                        self._bind(pod)
                    continue
                if spec["nodeName"] != self.node_name:
                    continue
                if meta.get("deletionTimestamp"):
                    rt = self.pods.pop(uid, None)
                    if rt is not None:
                        self._teardown(rt)
                    self._finish_deletion(pod)
                    continue
                if spec.get("hostNetwork"):
                    continue  # the node agent runs no host-network pods
                rt = self.pods.get(uid)
                phase = (pod.get("status") or {}).get("phase")
                if rt is None:
                    if phase in ("Succeeded", "Failed"):
                        continue
                    rt = self._setup(pod)
                    if rt is None:
                        continue
                    self.pods[uid] = rt
                self._check(rt, pod)

    def _bind(self, pod: dict) -> None:
        meta = pod["metadata"]
        status, body = self._call("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}})
        if status not in (200, 201, 404, 409):
            self._error(f"bind {meta['namespace']}/{meta['name']}: HTTP {status}: {body}")

    def _finish_deletion(self, pod: dict) -> None:
        meta = pod["metadata"]
        status, body = self._call(
            "DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
            {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
             "preconditions": {"uid": meta["uid"]}})
        if status not in (200, 202, 404, 409):
            self._error(f"delete {meta['namespace']}/{meta['name']}: HTTP {status}: {body}")

    # ------------------------------------------------------------------ pod network (the CNI part)
    def _wanted_ip(self, pod: dict) -> str | None:
        raw = ((pod["metadata"].get("annotations") or {}).get(IP_ANNOTATION) or "").strip()
        if not raw:
            return None
        try:
            values = json.loads(raw)
        except ValueError:
            values = [v.strip() for v in raw.strip("[]").split(",")]
        v4 = [str(v) for v in values if isinstance(v, str) and ":" not in v]
        return v4[0] if v4 else None

    def _allocate(self, pod: dict) -> str:
        wanted = self._wanted_ip(pod)
        used = {rt.ip for rt in self.pods.values()}
        if wanted:
            if wanted in used:
                raise RuntimeError(f"{IP_ANNOTATION} asks for {wanted}, which another pod on the node has")
            return wanted
        for n, host in enumerate(self.pool.hosts()):
            text = str(host)
            if n and text not in used and not text.endswith(".0"):  # n: the pool's first address stays free
                return text
        raise RuntimeError(f"the IPPool {self.pool} is exhausted")

    def _setup(self, pod: dict) -> PodRuntime | None:
        meta, spec = pod["metadata"], pod["spec"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        iface = veth_name(ns, name)
        pod_netns = f"{self.prefix}{iface[4:]}"
        try:
            ip = self._allocate(pod)
        except RuntimeError as e:
            self._error(f"pod {ns}/{name}: {e}")
            return None
        log_dir = self.state_dir / "pods" / uid
        try:
            netns.delete(pod_netns)  # a leftover of a pod of the same name
            netns.ip("link", "delete", iface, netns=self.node_netns, check=False)
            netns.add(pod_netns)
            netns.ip("link", "add", iface, "type", "veth", "peer", "name", "eth0", "netns", pod_netns,
                     netns=self.node_netns)
            netns.ip_batch([f"link set {iface} address {NODE_SIDE_MAC}", f"link set {iface} up",
                            f"route replace {ip}/32 dev {iface} scope link"], netns=self.node_netns)
            for key, value in (("proxy_arp", "1"), ("forwarding", "1")):
                netns.sysctl(self.node_netns, f"net.ipv4.conf.{iface}.{key}", value)
            netns.sysctl(self.node_netns, f"net.ipv4.neigh.{iface}.proxy_delay", "0")
            netns.ip_batch(["link set lo up", f"addr add {ip}/32 dev eth0", "link set eth0 up",
                            f"route add {GATEWAY} dev eth0 scope link",
                            f"route add default via {GATEWAY} dev eth0"], netns=pod_netns)
            # Port-unreachable replies prove a UDP packet got through: no ICMP type is rate-limited (per peer or
            # globally) in a pod's namespace.
            netns.sysctl(pod_netns, "net.ipv4.icmp_ratemask", "0")
        except (netns.NetnsError, OSError) as e:
            self._error(f"pod {ns}/{name}: network setup failed: {e}")
            netns.delete(pod_netns)
            return None
        log_dir.mkdir(parents=True, exist_ok=True)
        pod_ctx = spec.get("securityContext") or {}
        containers = []
        for c in spec.get("containers") or []:
            ctx = c.get("securityContext") or {}
            uid_ = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
            run_uid = uid_ if isinstance(uid_, int) and uid_ > 0 else NOBODY
            env = {"PATH": str(self.busybox_dir), "HOME": "/", "HOSTNAME": name}
            for e in c.get("env") or []:
                if isinstance(e, dict) and isinstance(e.get("value"), str):
                    env[e["name"]] = e["value"]
            probe = ((c.get("readinessProbe") or {}).get("exec") or {}).get("command")
            containers.append(Container(c["name"], self._argv(c.get("command"), c.get("args")), run_uid, env,
                                        self._argv(probe, None)))
            self.logs[(ns, name, c["name"])] = log_dir / f"{c['name']}.log"
            (log_dir / f"{c['name']}.log").touch()
        deadline = spec.get("activeDeadlineSeconds")
        rt = PodRuntime(ns, name, uid, pod_netns, iface, ip, log_dir, containers,
                        deadline=time.monotonic() + deadline if isinstance(deadline, int) else None)
        threading.Thread(target=self._start_containers, args=(rt,), name=f"pod-{ns}-{name}", daemon=True).start()
        return rt

    def _argv(self, command, args) -> list[str] | None:
        """The argv to run, with the program resolved to a busybox applet; None when we cannot run it."""
        if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
            return None
        program = self.busybox_dir / os.path.basename(command[0])
        if not program.exists():
            return None
        extra = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
        return [str(program), *command[1:], *extra]

    def endpoint_up(self, namespace: str, name: str) -> bool:
        """Felix's endpoint status file for the pod (written once its dataplane, policy included, is programmed)."""
        wid = urllib.parse.quote(f"{namespace}/{name}", safe="")
        return (self.felix_status_dir / "endpoint-status" / f"k8s {wid} eth0").exists()

    def _start_containers(self, rt: PodRuntime) -> None:
        deadline = time.monotonic() + self.felix_wait
        while not self.endpoint_up(rt.namespace, rt.name) and time.monotonic() < deadline:
            if self._stop.is_set() or rt.killed_reason:
                return
            time.sleep(0.02)
        if not self.endpoint_up(rt.namespace, rt.name):
            self._error(f"pod {rt.namespace}/{rt.name}: Felix did not report the endpoint up within "
                        f"{self.felix_wait:.0f}s; starting its containers anyway")
        with self.lock:
            if rt.killed_reason:
                return
            for c in rt.containers:
                c.started_at = now()
                if c.argv is not None:
                    log = open(rt.log_dir / f"{c.name}.log", "ab")
                    try:
                        c.proc = subprocess.Popen(
                            self._in_pod(rt, c.uid, c.argv), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=c.env, cwd="/", start_new_session=True)
                    except OSError as e:
                        self._error(f"pod {rt.namespace}/{rt.name}: cannot start {c.name}: {e}")
                        c.exit_code = 128
                        c.finished_at = now()
                    finally:
                        log.close()
            rt.starting = False
        for c in rt.containers:
            c.ready = self._readiness(rt, c)
        # This thread forked the containers, and their parent-death signal fires when it ends: it waits for them.
        for c in rt.containers:
            if c.proc is not None:
                c.proc.wait()

    def _in_pod(self, rt: PodRuntime, uid: int, argv: list[str]) -> list[str]:
        # Absolute paths: the containers' PATH is the busybox folder, whose setpriv lacks --reuid.
        return [self._nsenter, f"--net={netns.path(rt.netns)}", "--", self._setpriv, f"--reuid={uid}", f"--regid={uid}",
                "--clear-groups", "--no-new-privs", "--pdeathsig=KILL", "--", *argv]

    def _readiness(self, rt: PodRuntime, c: Container) -> bool:
        if c.readiness is None:
            return c.exit_code is None
        try:
            proc = subprocess.run(self._in_pod(rt, c.uid, c.readiness), env=c.env, cwd="/",
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
            return proc.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _teardown(self, rt: PodRuntime) -> None:
        rt.killed_reason = rt.killed_reason or "deleted"
        self._kill(rt)
        netns.delete(rt.netns)
        netns.ip("route", "delete", f"{rt.ip}/32", netns=self.node_netns, check=False)
        for c in rt.containers:
            self.logs.pop((rt.namespace, rt.name, c.name), None)
        shutil.rmtree(rt.log_dir, ignore_errors=True)

    def _kill(self, rt: PodRuntime) -> None:
        for c in rt.containers:
            if c.proc is not None and c.proc.poll() is None:
                try:
                    os.killpg(c.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    c.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass

    # ------------------------------------------------------------------ status (the kubelet part)
    def _check(self, rt: PodRuntime, pod: dict) -> None:
        if rt.deadline is not None and time.monotonic() > rt.deadline and not rt.killed_reason and not rt.starting:
            if any(c.proc is not None and c.proc.poll() is None for c in rt.containers):
                rt.killed_reason = "DeadlineExceeded"
                self._kill(rt)
        for c in rt.containers:
            if c.proc is not None and c.exit_code is None and c.proc.poll() is not None:
                c.exit_code = c.proc.returncode if c.proc.returncode >= 0 else 128 - c.proc.returncode
                c.finished_at = now()
                c.ready = False
        status = self._status(rt, pod)
        digest = json.dumps(status, sort_keys=True)
        if digest == rt.status_sent:
            return
        code, body = self._call("PATCH", f"/api/v1/namespaces/{rt.namespace}/pods/{rt.name}/status",
                                {"status": status}, content_type="application/merge-patch+json")
        if code == 200:
            rt.status_sent = digest
        elif code != 404:
            self._error(f"status of {rt.namespace}/{rt.name}: HTTP {code}: {body}")

    def _status(self, rt: PodRuntime, pod: dict) -> dict:
        run = [c for c in rt.containers if c.argv is not None]
        finished = bool(run) and all(c.exit_code is not None for c in run)
        if rt.killed_reason == "DeadlineExceeded":
            phase = "Failed"
        elif finished:
            phase = "Succeeded" if all(c.exit_code == 0 for c in run) else "Failed"
        else:
            phase = "Running"
        statuses = []
        for c in rt.containers:
            if rt.starting:
                state = {"waiting": {"reason": "ContainerCreating"}}
            elif c.exit_code is not None:
                state = {"terminated": {"exitCode": c.exit_code, "reason": "Completed" if c.exit_code == 0
                                        else "Error", "startedAt": c.started_at, "finishedAt": c.finished_at}}
            else:
                state = {"running": {"startedAt": c.started_at}}
            image = next((x.get("image", "") for x in pod["spec"]["containers"] if x["name"] == c.name), "")
            statuses.append({"name": c.name, "image": image, "imageID": "", "restartCount": 0,
                             "ready": bool(c.ready and "running" in state), "started": "running" in state,
                             "state": state})
        ready = phase == "Running" and not rt.starting and all(s["ready"] for s in statuses)
        t = rt.start_time

        def cond(kind: str, ok: bool, reason: str = "") -> dict:
            out = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": t}
            if reason and not ok:
                out["reason"] = reason
            return out
        status = {
            "phase": phase, "hostIP": self.node_ip, "hostIPs": [{"ip": self.node_ip}],
            "podIP": rt.ip, "podIPs": [{"ip": rt.ip}], "startTime": t,
            "conditions": [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                           cond("Ready", ready, "ContainersNotReady"),
                           cond("ContainersReady", ready, "ContainersNotReady"), cond("PodScheduled", True)],
            "containerStatuses": statuses,
        }
        if rt.killed_reason == "DeadlineExceeded":
            status["reason"] = "DeadlineExceeded"
            status["message"] = "Pod was active on the node longer than the specified deadline"
        return status

    # ------------------------------------------------------------------ logs (for kubelet.py)
    def log_file(self, namespace: str, pod: str, container: str) -> Path | None:
        with self.lock:
            return self.logs.get((namespace, pod, container))

    def running(self, namespace: str, pod: str, container: str) -> bool:
        with self.lock:
            for rt in self.pods.values():
                if rt.key == (namespace, pod):
                    return any(c.name == container and (rt.starting or (c.proc is not None and c.exit_code is None))
                               for c in rt.containers)
        return False
