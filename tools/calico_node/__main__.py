"""`python -m tools.calico_node up|down|serve --dir DIR` (what `make calico-node` / `make calico-node-down` run).

up     start a node in the background (a `serve` process), wait until Felix is ready, print how to use it
down   stop it: SIGTERM to the serve process, which removes everything; then remove whatever a crash left
       (processes it recorded, namespaces with its prefix, the folder)
serve  run a node in the foreground until SIGTERM or SIGINT
apply  create the objects of manifests on the running node, each workload (Deployment, ...) as one Pod named
       after it, since no controller-manager runs (tools/calico_node/manifests.py)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import netns
from .node import CalicoNode, NodeError, unavailable

USAGE = """\
calico-node: a local Calico node is running ({felix}; started in {secs}s)
  kubeconfig: {kubeconfig}  (API server {server}, relayed from the node's network namespace)

  export KUBECONFIG={export}
  .venv/bin/python -m tools.calico_node apply examples/shop/  # one Pod per workload (no controller-manager)
  kubectl get pods -A -o wide                   # pods get scheduled, wired and run by the node agent
  .venv/bin/netaudit matrix                     # netaudit reads the live cluster
  .venv/bin/netaudit verify                     # probe pods check the prediction on Felix's real dataplane

  make calico-node-down                         # stop it and remove every namespace, link and file
"""


def _state(d: Path) -> dict | None:
    try:
        return json.loads((d / "state.json").read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def serve(d: Path) -> int:
    node = CalicoNode(d)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        node.start()
    except NodeError as e:
        print(f"calico-node: {e}", file=sys.stderr)
        return 1
    print(f"calico-node: ready (prefix {node.prefix})", file=sys.stderr, flush=True)
    try:
        while not stop.wait(1.0):
            if node.felix is None or node.felix.poll() is not None:
                print("calico-node: Felix exited; stopping\n" + node.felix_log(), file=sys.stderr, flush=True)
                break
    finally:
        node.stop()
    return 0


def _shown(state: dict) -> dict:
    """The state with the kubeconfig path relative to the current folder when it is inside it."""
    path = Path(state.get("kubeconfig", ""))
    try:
        relative = str(path.relative_to(Path.cwd()))
    except ValueError:
        return dict(state, export=str(path))
    return dict(state, kubeconfig=relative, export=f"$PWD/{relative}")


def up(d: Path, timeout: float) -> int:
    state = _state(d)
    if state and state.get("ready") and _alive(state.get("daemon_pid")):
        print(USAGE.format(felix=state.get("felix_version"), secs=state.get("started_in"), **_shown(state)))
        return 0
    if state:
        down(d, quiet=True)
    reason = unavailable()
    if reason:
        print(f"calico-node: cannot run here: {reason}", file=sys.stderr)
        return 2
    d.parent.mkdir(parents=True, exist_ok=True)
    log_path = d.parent / f"{d.name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tools.calico_node", "serve", "--dir", str(d)],
                                cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _state(d)
        if state and state.get("ready"):
            print(USAGE.format(felix=state.get("felix_version"), secs=state.get("started_in"), **_shown(state)))
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"calico-node: the node did not start; its log ({log_path}):\n{log_path.read_text(errors='replace')[-4000:]}",
          file=sys.stderr)
    down(d, quiet=True)
    return 1


def down(d: Path, quiet: bool = False) -> int:
    state = _state(d) or {}
    pid = state.get("daemon_pid")
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    for _name, child in (state.get("pids") or {}).items():  # left by a daemon that was killed
        if _alive(child):
            try:
                os.killpg(child, signal.SIGKILL)
            except OSError:
                os.kill(child, signal.SIGKILL)
    prefix = state.get("prefix")
    left = netns.names(prefix) if prefix else []
    for name in left:
        netns.delete(name)
    existed = d.exists()
    shutil.rmtree(d, ignore_errors=True)
    if state.get("busybox_dir") and Path(state["busybox_dir"]).name.startswith("netaudit-"):
        shutil.rmtree(state["busybox_dir"], ignore_errors=True)
    log_path = d.parent / f"{d.name}.log"
    log_path.unlink(missing_ok=True)
    if not quiet:
        print("calico-node: stopped; every namespace, link and file it made is removed" if state or existed
              else "calico-node: not running")
    return 0


def _client(kubeconfig: str):
    """(host, port, ssl context) from the node's admin kubeconfig (certificates inline, as the node writes them)."""
    import base64
    import ssl
    import tempfile
    import urllib.parse
    cfg = json.loads(Path(kubeconfig).read_text())
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "c.crt"), Path(tmp, "c.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(str(cert), str(key))
    url = urllib.parse.urlsplit(cluster["server"])
    return url.hostname, url.port, ctx


def apply(d: Path, paths: list[str]) -> int:
    import http.client

    from .manifests import RESOURCES, SYSTEM_NAMESPACES, Unsupported, read_manifests, to_node
    state = _state(d)
    if not state or not state.get("ready") or not _alive(state.get("daemon_pid")):
        print("calico-node: not running (make calico-node)", file=sys.stderr)
        return 2
    try:
        case = to_node(read_manifests(paths), "manifests")
    except (Unsupported, OSError, ValueError) as e:
        print(f"calico-node: cannot apply: {e}", file=sys.stderr)
        return 2
    host, port, ctx = _client(state["kubeconfig"])
    failed = 0
    for obj in case.objects:
        prefix, plural, namespaced = RESOURCES[(obj["apiVersion"], obj["kind"])]
        meta = obj["metadata"]
        if obj["kind"] == "Namespace" and meta["name"] in SYSTEM_NAMESPACES:
            continue
        path = f"{prefix}/namespaces/{meta['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"
        conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
        conn.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
        what = f"{obj['kind'].lower()}/{meta['name']}" + (f" -n {meta['namespace']}" if namespaced else "")
        if resp.status in (200, 201):
            print(f"{what} created")
        elif resp.status == 409:
            print(f"{what} exists")
        else:
            failed += 1
            print(f"{what}: HTTP {resp.status}: {body[:300]}", file=sys.stderr)
    workloads = sum("from the" in n and "template" in n for n in case.notes)
    restricted = sum("restricted Pod Security" in n for n in case.notes)
    if workloads or restricted:
        print(f"({workloads} workload(s) became one Pod each; {restricted} pod(s) got the restricted Pod Security "
              "settings their namespace enforces, which do not touch the network)")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.calico_node", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "serve", "apply"))
    parser.add_argument("paths", nargs="*", help="apply: manifest files or folders")
    parser.add_argument("--dir", default=".cache/calico-node", help="state folder (kubeconfig, logs, data)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds `up` waits for the node")
    args = parser.parse_args(argv)
    d = Path(args.dir).absolute()
    if args.command == "serve":
        return serve(d)
    if args.command == "up":
        return up(d, args.timeout)
    if args.command == "apply":
        return apply(d, args.paths)
    return down(d)


if __name__ == "__main__":
    sys.exit(main())
