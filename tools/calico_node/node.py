"""One local Calico node: etcd, kube-apiserver, Felix and the node agent, all in network namespaces made here.

Layout (every name starts with the node's prefix, so `down` finds what a crashed run left):

    <prefix>node   the node: etcd + kube-apiserver on 127.0.0.1, Felix (iptables-nft, Kubernetes datastore),
                   the kubelet log endpoint on the node IP, `eth0` 198.18.0.1/30 with the default route, and
                   one `cali…` veth per pod
    <prefix>ext    "outside the cluster": the other end of the node's eth0 (198.18.0.2); tests add external
                   addresses to its loopback, so ipBlock rules meet real traffic from and to them
    <prefix><hex>  one per pod (see agent.py)

Nothing is added to the machine's own network namespace except a loopback listener (forward.py) that relays
to the API server, so kubectl and netaudit on this machine can use the kubeconfig. Felix runs in a private mount
namespace with a tmpfs on /var/lib, where it writes /var/lib/calico/mtu; its endpoint status files go to the
state folder. The node's default route needs a real non-`cali` interface (proxy ARP answers only for routed
addresses), hence the `ext` namespace; it has no route off the machine.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import netns
from .agent import NodeAgent
from .forward import Relay
from .kubelet import KubeletLogServer

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.integration.apiserver import (  # noqa: E402 - the one launcher of kube-apiserver + etcd
    ApiServerError,
    BinariesMissing,
    LocalApiServer,
    default_bin_dir,
    find_binaries,
)

CALICO_BIN_DIR_ENV = "NETAUDIT_CALICO_BIN_DIR"
NODE_NAME = "node1"
NODE_IP = "198.18.0.1"
EXT_IP = "198.18.0.2"
POOL = "10.244.0.0/16"
KUBELET_PORT = 10250
FELIX_HEALTH_PORT = 9099
CALICO_VERSION = "v3.28.5"  # what ClusterInformation says (the module is a release-v3.28 commit after v3.28.5)
REQUIRED_COMMANDS = ("ip", "nsenter", "setpriv", "openssl", "iptables-nft-restore", "iptables-nft-save", "ipset",
                     "busybox")
HIDDEN_FROM_FELIX = "/var/lib"  # a tmpfs in Felix's mount namespace


class NodeError(RuntimeError):
    """The node could not be started."""


def calico_bin_dir() -> Path:
    """Where calico-felix and calico-crds/ are: $NETAUDIT_CALICO_BIN_DIR, else the kube-apiserver's folder."""
    return Path(os.environ.get(CALICO_BIN_DIR_ENV) or default_bin_dir()).absolute()


def unavailable(bin_dir: Path | None = None) -> str | None:
    """Why a node cannot run here (not root, a missing command or binary), or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veths and nftables rules inside them)"
    missing = [c for c in REQUIRED_COMMANDS if shutil.which(c) is None]
    if missing:
        return f"missing commands: {', '.join(missing)} (make test-deps installs iptables, ipset and busybox)"
    try:
        find_binaries()
    except BinariesMissing as e:
        return str(e)
    d = bin_dir or calico_bin_dir()
    if not (d / "calico-felix").is_file() or not (d / "calico-crds").is_dir():
        return f"Felix not built: run `make calico-felix` (looked in {d})"
    probe = f"na{os.getpid() % 100000}chk"
    try:
        netns.add(probe)
    except netns.NetnsError as e:
        return f"cannot create network namespaces: {e}"
    netns.delete(probe)
    return None


@dataclass
class NodeInfo:
    """What `down` needs to clean up, and what users need to connect (written to <dir>/state.json)."""

    prefix: str
    kubeconfig: str
    server: str
    pids: dict[str, int]
    daemon_pid: int
    felix_version: str


class CalicoNode:
    def __init__(self, state_dir: str | os.PathLike[str], *, prefix: str | None = None, log=None):
        self.dir = Path(state_dir).absolute()
        self.prefix = prefix or f"nacn{os.urandom(2).hex()}-"
        self.node_netns = f"{self.prefix}node"
        self.ext_netns = f"{self.prefix}ext"
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.bin_dir = calico_bin_dir()
        self.api: LocalApiServer | None = None
        self.felix: subprocess.Popen | None = None
        self.agent: NodeAgent | None = None
        self.kubelet: KubeletLogServer | None = None
        self.relay: Relay | None = None
        self._external: set[str] = set()
        self.busybox_dir: Path | None = None

    # ------------------------------------------------------------------ public
    @property
    def kubeconfig(self) -> str:
        return str(self.dir / "kubeconfig")

    @property
    def felix_version(self) -> str:
        try:
            return (self.bin_dir / "calico-felix.version").read_text().strip()
        except OSError:
            return "unknown"

    def start(self, timeout: float = 120.0) -> CalicoNode:
        reason = unavailable(self.bin_dir)
        if reason:
            raise NodeError(reason)
        for p in (self.dir, self.bin_dir):
            if str(p).startswith(HIDDEN_FROM_FELIX + "/"):
                raise NodeError(f"{p} is under {HIDDEN_FROM_FELIX}, which Felix's private mount hides")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_state({"prefix": self.prefix, "daemon_pid": os.getpid(), "pids": {}})
        try:
            started = time.monotonic()
            self._network()
            self._apiserver()
            self._bootstrap()
            self.relay = Relay(self.api.port, self.node_netns, "127.0.0.1", self.api.port).start()
            shutil.copyfile(self.api.kubeconfig, self.kubeconfig)
            os.chmod(self.kubeconfig, 0o600)
            self._busybox()
            self._felix(timeout)
            self._agent()
            self._write_state({"prefix": self.prefix, "daemon_pid": os.getpid(), "pids": self.pids,
                               "kubeconfig": self.kubeconfig, "server": self.api.url,
                               "felix_version": self.felix_version, "ready": True,
                               "busybox_dir": str(self.busybox_dir),
                               "started_in": round(time.monotonic() - started, 1)})
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pids(self) -> dict[str, int]:
        out = dict(self.api.pids) if self.api else {}
        if self.felix is not None and self.felix.poll() is None:
            out["calico-felix"] = self.felix.pid
        return out

    def stop(self) -> None:
        """Stop everything, remove every namespace (and so every veth) and every file this node made."""
        for step in (self._stop_agent, self._stop_felix, self._stop_apiserver):
            try:
                step()
            except Exception as e:  # noqa: BLE001 - cleanup goes on whatever one step says
                self.log(f"calico-node: cleanup: {type(e).__name__}: {e}")
        for name in netns.names(self.prefix):
            netns.delete(name)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.busybox_dir is not None:
            shutil.rmtree(self.busybox_dir, ignore_errors=True)
            self.busybox_dir = None

    def __enter__(self) -> CalicoNode:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def request(self, method: str, path: str, body=None, **kw):
        return self.api.request(method, path, body, **kw)

    def add_external(self, ip: str) -> None:
        """Make `ip` an address of the outside namespace (a /32 on its loopback): traffic to it gets answered."""
        if ip not in self._external:
            netns.ip("addr", "add", f"{ip}/32", "dev", "lo", netns=self.ext_netns)
            self._external.add(ip)

    def felix_log(self, lines: int = 60) -> str:
        try:
            text = (self.dir / "felix.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no Felix log)"
        return "\n".join(text[-lines:])

    # ------------------------------------------------------------------ steps
    def _network(self) -> None:
        for name in (self.node_netns, self.ext_netns):
            netns.delete(name)
            netns.add(name)
        netns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", self.ext_netns,
                 netns=self.node_netns)
        netns.ip_batch(["link set lo up", f"addr add {NODE_IP}/30 dev eth0", "link set eth0 up",
                        f"route add default via {EXT_IP} dev eth0"], netns=self.node_netns)
        netns.ip_batch(["link set lo up", f"addr add {EXT_IP}/30 dev eth0", "link set eth0 up",
                        f"route add default via {NODE_IP} dev eth0"], netns=self.ext_netns)
        netns.sysctl(self.node_netns, "net.ipv4.ip_forward", "1")
        netns.sysctl(self.ext_netns, "net.ipv4.icmp_ratemask", "0")  # every port unreachable is sent

    def _apiserver(self) -> None:
        self.api = LocalApiServer(workdir=self.dir / "apiserver", command_prefix=netns.exec_prefix(self.node_netns),
                                  connect=lambda host, port, timeout: netns.connect_in(self.node_netns, host, port,
                                                                                       timeout),
                                  kubelet_client=True)
        try:
            self.api.start()
            self.api.apply_crds([self.bin_dir / "calico-crds"])
        except ApiServerError as e:
            raise NodeError(f"kube-apiserver: {e}") from None

    def _create(self, path: str, obj: dict) -> dict:
        status, body = self.api.request("POST", path, obj)
        if status not in (200, 201):
            raise NodeError(f"POST {path}: HTTP {status}: {body}")
        return body

    def _bootstrap(self) -> None:
        """The objects Felix needs: the Node (with the kubelet's endpoint), ClusterInformation, an IPPool."""
        self._create("/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os":
                                                       "linux", "kubernetes.io/arch": "amd64"}},
            "spec": {"podCIDR": POOL, "podCIDRs": [POOL]}})
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status, body = self.api.request("PATCH", f"/api/v1/nodes/{NODE_NAME}/status", {"status": {
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE_NAME}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "the netaudit node agent stands in for the kubelet",
                            "lastHeartbeatTime": t, "lastTransitionTime": t}],
            "nodeInfo": {"kubeletVersion": "netaudit-node-agent", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "none",
                         "kernelVersion": os.uname().release,
                         "osImage": "network namespaces", "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                         "bootID": ""}}}, content_type="application/merge-patch+json")
        if status != 200:
            raise NodeError(f"node status: HTTP {status}: {body}")
        self._create("/apis/crd.projectcalico.org/v1/clusterinformations", {
            "apiVersion": "crd.projectcalico.org/v1", "kind": "ClusterInformation", "metadata": {"name": "default"},
            "spec": {"calicoVersion": CALICO_VERSION, "clusterType": "k8s,kdd", "datastoreReady": True,
                     "clusterGUID": os.urandom(16).hex()}})
        self._create("/apis/crd.projectcalico.org/v1/ippools", {
            "apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"},
            "spec": {"cidr": POOL, "ipipMode": "Never", "vxlanMode": "Never", "natOutgoing": False,
                     "nodeSelector": "all()", "blockSize": 26}})

    def _busybox(self) -> None:
        """A folder of busybox applet links: the `PATH` of the containers the agent runs. Not in the state folder:
        its parents may be closed to the containers' user (pytest's temporary folders are 0700)."""
        d = self.busybox_dir = Path(tempfile.mkdtemp(prefix=f"netaudit-{self.prefix}busybox-"))
        d.chmod(0o755)
        busybox = shutil.which("busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            link = d / applet
            if not link.exists():
                link.symlink_to(busybox)

    def _felix(self, timeout: float) -> None:
        status_dir = self.dir / "felix-status"
        status_dir.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "DATASTORE_TYPE": "kubernetes", "FELIX_DATASTORETYPE": "kubernetes", "KUBECONFIG": self.kubeconfig,
            "NODENAME": NODE_NAME, "FELIX_FELIXHOSTNAME": NODE_NAME,
            "FELIX_IPTABLESBACKEND": "NFT", "FELIX_IPV6SUPPORT": "false", "FELIX_BPFENABLED": "false",
            "FELIX_XDPENABLED": "false", "FELIX_USAGEREPORTINGENABLED": "false",
            "FELIX_DEFAULTENDPOINTTOHOSTACTION": "ACCEPT", "FELIX_HEALTHENABLED": "true",
            "FELIX_HEALTHHOST": "127.0.0.1", "FELIX_HEALTHPORT": str(FELIX_HEALTH_PORT),
            "FELIX_LOGFILEPATH": "none", "FELIX_LOGSEVERITYSCREEN": "Info", "FELIX_REPORTINGINTERVALSECS": "0",
            "FELIX_ENDPOINTSTATUSPATHPREFIX": str(status_dir),
        }
        script = (f"mount -t tmpfs -o size=16m,mode=0755 felix-var-lib {HIDDEN_FROM_FELIX} && "
                  f'exec "$0" "$@"')
        # setpriv: Felix is killed if this process dies without stop() (the death signal survives the execs).
        argv = ["setpriv", "--pdeathsig=KILL", *netns.exec_prefix(self.node_netns), "sh", "-c", script,
                str(self.bin_dir / "calico-felix")]
        log = open(self.dir / "felix.log", "ab")
        try:
            self.felix = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env=env, cwd=self.dir, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if self.felix.poll() is not None:
                raise NodeError(f"Felix exited with code {self.felix.returncode}\n{self.felix_log()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", FELIX_HEALTH_PORT, timeout=2)
                conn.sock = netns.connect_in(self.node_netns, "127.0.0.1", FELIX_HEALTH_PORT, 2)
                conn.request("GET", "/readiness")
                resp = conn.getresponse()
                last = f"HTTP {resp.status}: {resp.read()[:200]!r}"
                conn.close()
                if resp.status == 200:
                    return
            except OSError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise NodeError(f"Felix not ready after {timeout:.0f}s (last /readiness: {last})\n{self.felix_log()}")
            time.sleep(0.2)

    def _agent(self) -> None:
        self.agent = NodeAgent(self.api, node_name=NODE_NAME, node_ip=NODE_IP, node_netns=self.node_netns,
                               pod_netns_prefix=self.prefix, pool=POOL, state_dir=self.dir,
                               busybox_dir=self.busybox_dir, felix_status_dir=self.dir / "felix-status",
                               log=self.log)
        cert, key = self.api.issue_serving_certificate("kubelet", ips=[NODE_IP], dns=[NODE_NAME])
        self.kubelet = KubeletLogServer(self.agent, self.node_netns, NODE_IP, KUBELET_PORT, cert, key,
                                        self.api.client_ca_file)
        self.kubelet.start()
        self.agent.start()

    # ------------------------------------------------------------------ stop steps
    def _stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        if self.kubelet is not None:
            self.kubelet.stop()
            self.kubelet = None

    def _stop_felix(self) -> None:
        if self.felix is None:
            return
        if self.felix.poll() is None:
            os.killpg(self.felix.pid, signal.SIGTERM)
            try:
                self.felix.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.felix.pid, signal.SIGKILL)
                self.felix.wait(timeout=10)
        self.felix = None

    def _stop_apiserver(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        if self.api is not None:
            self.api.stop()
            self.api = None

    def _write_state(self, state: dict) -> None:
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.dir / "state.json")
