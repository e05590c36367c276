"""A real kube-apiserver + etcd on 127.0.0.1 for the integration tests.

The binaries are built from Go sources by `make apiserver` (mk/apiserver.mk, versions pinned in
tests/apiserver/go.mod) into .cache/bin, or wherever NETAUDIT_APISERVER_BIN_DIR points.

    server = LocalApiServer().start()      # or: with LocalApiServer() as server: ...
    server.kubeconfig                       # admin (group system:masters), context "netaudit-test"
    server.apply_crds(["tests/integration/crds"])
    server.service_account_kubeconfig("ns", "sa")      # a real ServiceAccount token (works with every client)
    server.impersonation_kubeconfig(user, groups)       # admin cert + `as`/`as-groups` (kubectl / client-go)
    server.impersonated_client(user, groups)            # kubernetes.client.ApiClient sending Impersonate-* headers
    server.stop()

What runs: etcd (single member, temp data dir, no fsync) and kube-apiserver with client-certificate
authentication (client CA + an admin certificate in system:masters), RBAC authorization, a
service-account signing key pair and issuer, service-cluster-ip-range 10.96.0.0/12, all on free
127.0.0.1 ports. No controller-manager, scheduler or kubelet runs: nothing reconciles. So pods stay
Pending until a test writes their status through the status subresource, namespaces deleted stay
Terminating, and no "default" ServiceAccount appears by itself (the ServiceAccount admission plugin is
disabled so pods can be created without one).

Only the standard library is needed to start and stop the server; apply_crds needs PyYAML and
impersonated_client the kubernetes package (both project dependencies). Certificates are made with
the `openssl` command.

The local Calico node (tools/calico_node) runs the same pair inside a network namespace:
`command_prefix` goes before every command line (`ip netns exec <ns>`), `connect` makes this object's own
sockets (a function (host, port, timeout) -> connected socket, here one created inside that namespace),
`workdir` keeps the files in a folder the caller owns, and `kubelet_client=True` lets the API server reach
a kubelet (pod logs) with a client certificate, verifying the kubelet's serving certificate made by
issue_serving_certificate().
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import errno
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN_DIR = REPO_ROOT / ".cache" / "bin"
BIN_DIR_ENV = "NETAUDIT_APISERVER_BIN_DIR"
TIMEOUT_ENV = "NETAUDIT_APISERVER_START_TIMEOUT"
CONTEXT_NAME = "netaudit-test"
ADMIN_USER = "netaudit-admin"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LOG_TAIL_LINES = 50
WORKDIR_PREFIX = "netaudit-apiserver-"


class ApiServerError(RuntimeError):
    """kube-apiserver or etcd could not be started or used."""


class BinariesMissing(ApiServerError, FileNotFoundError):
    """kube-apiserver/etcd have not been built (run `make apiserver`)."""


class _PortTaken(ApiServerError):
    """A port picked as free was taken before the process bound it: worth one more try."""


def default_bin_dir() -> Path:
    """Where the binaries are looked for: $NETAUDIT_APISERVER_BIN_DIR, else <repo>/.cache/bin."""
    return Path(os.environ.get(BIN_DIR_ENV) or DEFAULT_BIN_DIR)


def find_binaries(directory: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """(kube-apiserver, etcd) paths; BinariesMissing if either is not an executable file."""
    d = (Path(directory) if directory is not None else default_bin_dir()).absolute()  # children run elsewhere
    apiserver, etcd = d / "kube-apiserver", d / "etcd"
    missing = [str(p) for p in (apiserver, etcd) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        raise BinariesMissing(f"kube-apiserver/etcd not built: run `make apiserver` (missing: {', '.join(missing)})")
    return apiserver, etcd


def _free_ports(count: int) -> list[int]:
    """Distinct ports the kernel says are free on 127.0.0.1 now (all held open together, so distinct)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:]) if text else "(empty log)"


def _remove_stale_workdirs() -> None:
    """Temp dirs (~120 MB of etcd data each) left by test processes that were killed before stop() ran."""
    for d in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            pid = int((d / "owner.pid").read_text())
            if pid == os.getpid():
                continue
            os.kill(pid, 0)  # still alive: not stale
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):  # no owner file yet (being created) or not ours to judge
            continue


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


# Children get SIGKILL if the test process dies without running stop() (SIGKILL, a crash): SIGKILL because
# kube-apiserver's graceful shutdown hangs when etcd goes away at the same time, and the data is throwaway.
# The death signal fires when the thread that forked exits, so it is only set when starting from the main thread.
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
    _PR_SET_PDEATHSIG = 1
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalApiServer:
    """A kube-apiserver + etcd pair on 127.0.0.1, with an admin kubeconfig. See the module docstring."""

    def __init__(
        self,
        bin_dir: str | os.PathLike[str] | None = None,
        *,
        startup_timeout: float | None = None,
        extra_apiserver_args: Sequence[str] = (),
        workdir: str | os.PathLike[str] | None = None,
        command_prefix: Sequence[str] = (),
        connect: Callable[[str, int, float], socket.socket] | None = None,
        kubelet_client: bool = False,
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir is not None else default_bin_dir()
        self.startup_timeout = float(startup_timeout or os.environ.get(TIMEOUT_ENV) or 120)
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.command_prefix = list(command_prefix)
        self.kubelet_client = kubelet_client
        self._connect = connect or (lambda host, port, timeout: socket.create_connection((host, port), timeout))
        self._own_workdir = workdir is None
        self._given_workdir = Path(workdir).absolute() if workdir is not None else None
        self.workdir: Path | None = None
        self.port: int | None = None
        self.etcd_url: str | None = None
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._etcd_log: Path | None = None
        self._apiserver_log: Path | None = None
        self._ssl: ssl.SSLContext | None = None
        self._kubeconfigs = 0

    # ---------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """https://127.0.0.1:<port>"""
        if self.port is None:
            raise ApiServerError("LocalApiServer is not started")
        return f"https://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return self.url

    @property
    def kubeconfig(self) -> str:
        """Path of the admin kubeconfig (user netaudit-admin in group system:masters, context netaudit-test)."""
        return str(self._path("kubeconfig"))

    @property
    def ca_file(self) -> str:
        """The CA that signed the API server's serving certificate."""
        return str(self._path("pki", "server-ca.crt"))

    @property
    def context(self) -> str:
        return CONTEXT_NAME

    def start(self) -> LocalApiServer:
        """Start etcd and kube-apiserver, wait for /readyz; returns self. On failure, everything is cleaned up."""
        if self._apiserver is not None:
            return self
        apiserver_bin, etcd_bin = find_binaries(self.bin_dir)
        if self._own_workdir:
            _remove_stale_workdirs()
            self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        else:
            self.workdir = self._given_workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        atexit.register(self.stop)
        try:
            self._make_pki()
            self._ssl = self._admin_ssl_context()
            deadline = time.monotonic() + self.startup_timeout
            for attempt in (1, 2):
                etcd_port, peer_port, self.port = _free_ports(3)
                try:
                    self._start_etcd(etcd_bin, etcd_port, peer_port, deadline)
                    self._start_apiserver(apiserver_bin, deadline)
                    break
                except _PortTaken as e:
                    self._stop_processes()
                    if attempt == 2:
                        raise ApiServerError(f"a port was taken on both tries: {e}") from e
                    shutil.rmtree(self._path("etcd-data"), ignore_errors=True)
            self._write_kubeconfig(self._path("kubeconfig"), self._admin_user_entry())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate kube-apiserver then etcd (SIGTERM, then SIGKILL after a grace period) and remove the temp dir.
        Safe to call more than once, and on a server that never started."""
        try:
            self._stop_processes()
        finally:
            if self.workdir is not None:
                if self._own_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                else:  # the caller's folder: remove only what start() made in it
                    for name in ("pki", "etcd-data"):
                        shutil.rmtree(self.workdir / name, ignore_errors=True)
                    for name in ("owner.pid", "kubeconfig", "etcd.log", "kube-apiserver.log"):
                        (self.workdir / name).unlink(missing_ok=True)
                self.workdir = None
            self.port = None
            atexit.unregister(self.stop)

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of both processes' logs (for failure messages)."""
        return (
            f"--- kube-apiserver log (last {lines} lines) ---\n{_tail(self._apiserver_log, lines)}\n"
            f"--- etcd log (last {lines} lines) ---\n{_tail(self._etcd_log, lines)}"
        )

    @property
    def pids(self) -> dict[str, int]:
        """The running processes: {"kube-apiserver": pid, "etcd": pid}."""
        return {name: proc.pid for name, proc in (("kube-apiserver", self._apiserver), ("etcd", self._etcd))
                if proc is not None and proc.poll() is None}

    def issue_serving_certificate(self, name: str, ips: Sequence[str] = (), dns: Sequence[str] = ()
                                  ) -> tuple[str, str]:
        """A serving certificate signed by the server CA (the one ca_file names, which the API server also
        trusts for kubelets when kubelet_client=True): returns (certificate path, key path) in the pki folder."""
        sans = ",".join([f"IP:{ip}" for ip in ips] + [f"DNS:{d}" for d in dns]) or "DNS:localhost"
        ext = f"serving-{name}"
        with open(self._path("pki", "openssl.cnf"), "a") as cnf:
            cnf.write(f"[{ext}]\nbasicConstraints = critical,CA:FALSE\n"
                      "keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n"
                      "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
                      f"subjectAltName = {sans}\n")
        self._issue(name, "server-ca", f"/CN={name}", ext)
        return str(self._path("pki", f"{name}.crt")), str(self._path("pki", f"{name}.key"))

    @property
    def client_ca_file(self) -> str:
        """The CA of client certificates (the admin's, and the API server's kubelet client certificate)."""
        return str(self._path("pki", "client-ca.crt"))

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                timeout: float = 30.0) -> tuple[int, Any]:
        """One HTTPS request as the admin. Returns (status, decoded JSON body or text)."""
        if self.port is None or self._ssl is None:
            raise ApiServerError("LocalApiServer is not started")
        conn = _Connection("127.0.0.1", self.port, context=self._ssl, timeout=timeout, connect=self._connect)
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def apply_crds(self, paths: Iterable[str | os.PathLike[str]], timeout: float = 60.0) -> list[str]:
        """Create (or replace) every CustomResourceDefinition in the given YAML files or directories
        (*.yaml / *.yml, multi-document allowed) and wait until each is Established and served.
        Returns the CRD names."""
        import yaml  # PyYAML: a project dependency

        files: list[Path] = []
        for p in paths:
            p = Path(p)
            files.extend(sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml")) if p.is_dir() else [p])
        crds = []
        for f in files:
            for doc in yaml.safe_load_all(f.read_text()):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        for crd in crds:
            name = crd["metadata"]["name"]
            status, body = self.request("POST", base, crd)
            if status == 409:
                status, current = self.request("GET", f"{base}/{name}")
                if status == 200:
                    crd = dict(crd, metadata=dict(crd["metadata"],
                                                  resourceVersion=current["metadata"]["resourceVersion"]))
                    status, body = self.request("PUT", f"{base}/{name}", crd)
            if status not in (200, 201):
                raise ApiServerError(f"creating CRD {name} failed: HTTP {status}: {body}")
        deadline = time.monotonic() + timeout
        for crd in crds:
            name = crd["metadata"]["name"]
            spec = crd["spec"]
            version = next((v["name"] for v in spec["versions"] if v.get("served", True)), spec["versions"][0]["name"])
            list_path = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"
            while True:
                _, body = self.request("GET", f"{base}/{name}")
                conds = {c["type"]: c["status"] for c in (body.get("status", {}).get("conditions") or [])} \
                    if isinstance(body, dict) else {}
                if conds.get("Established") == "True" and self.request("GET", list_path + "?limit=1")[0] == 200:
                    break
                if conds.get("NamesAccepted") == "False":
                    raise ApiServerError(f"CRD {name}: names not accepted: {body.get('status')}")
                if time.monotonic() > deadline:
                    raise ApiServerError(f"CRD {name} not established after {timeout:.0f}s: {body}")
                time.sleep(0.1)
        return [c["metadata"]["name"] for c in crds]

    def impersonation_kubeconfig(self, user: str, groups: Sequence[str] = (), path: str | os.PathLike[str] | None = None
                                 ) -> str:
        """A kubeconfig with the admin credentials plus `as: user` and `as-groups: groups` (context netaudit-test);
        returns its path. kubectl and client-go honour these fields; the Python kubernetes client (37.x) IGNORES them
        and would act as the admin: from Python use impersonated_client() or service_account_kubeconfig().
        A ServiceAccount is user "system:serviceaccount:<ns>:<name>" with groups "system:serviceaccounts",
        "system:serviceaccounts:<ns>" (the server adds "system:authenticated")."""
        entry = self._admin_user_entry()
        entry["as"] = user
        if groups:
            entry["as-groups"] = list(groups)
        return str(self._write_kubeconfig(path or self._new_kubeconfig_path("impersonate"), entry))

    def impersonated_client(self, user: str, groups: Sequence[str] = ()):  # -> kubernetes.client.ApiClient
        """A kubernetes.client.ApiClient on the admin kubeconfig that sends Impersonate-User / Impersonate-Group
        headers on every request, so the server authorizes it as `user` in `groups`. For a ServiceAccount user the
        server derives the ServiceAccount groups itself when `groups` is empty."""
        import urllib3
        from kubernetes import config

        api = config.new_client_from_config(config_file=self.kubeconfig, context=CONTEXT_NAME)
        pool = api.rest_client.pool_manager
        send = pool.request

        def request(method, url, *args, headers=None, **kwargs):
            h = urllib3.HTTPHeaderDict(headers or {})
            h["Impersonate-User"] = user
            for g in groups:
                h.add("Impersonate-Group", g)  # repeated header, one group each
            return send(method, url, *args, headers=h, **kwargs)

        pool.request = request
        return api

    def service_account_kubeconfig(self, namespace: str, name: str, *, expiration_seconds: int = 3600,
                                   path: str | os.PathLike[str] | None = None) -> str:
        """Create the namespace and ServiceAccount if missing, get a real bound token for it through the
        TokenRequest API, and write a kubeconfig using that token (context netaudit-test); returns its path.
        Every client, including the Python kubernetes client and netaudit's live source, authenticates as
        system:serviceaccount:<namespace>:<name>."""
        status, body = self.request("POST", "/api/v1/namespaces",
                                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        if status not in (201, 409):
            raise ApiServerError(f"creating namespace {namespace}: HTTP {status}: {body}")
        status, body = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
        if status not in (201, 409):
            raise ApiServerError(f"creating serviceaccount {namespace}/{name}: HTTP {status}: {body}")
        status, body = self.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": expiration_seconds}})
        if status != 201:
            raise ApiServerError(f"TokenRequest for {namespace}/{name}: HTTP {status}: {body}")
        entry = {"token": body["status"]["token"]}
        return str(self._write_kubeconfig(path or self._new_kubeconfig_path(f"sa-{namespace}-{name}"), entry))

    # ---------------------------------------------------------------- internals

    def _path(self, *parts: str) -> Path:
        if self.workdir is None:
            raise ApiServerError("LocalApiServer is not started")
        return self.workdir.joinpath(*parts)

    def _new_kubeconfig_path(self, stem: str) -> Path:
        self._kubeconfigs += 1
        return self._path(f"kubeconfig-{self._kubeconfigs}-{stem}")

    def _openssl(self, *args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=self._path("pki"), capture_output=True, text=True)
        if proc.returncode != 0:
            raise ApiServerError(f"openssl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")

    def _make_pki(self) -> None:
        """Server CA + serving cert, client CA + admin client cert (O=system:masters), service-account key pair.
        ECDSA P-256 keys: quick to generate, accepted by every component."""
        pki = self._path("pki")
        pki.mkdir(mode=0o700)
        (pki / "openssl.cnf").write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
            "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\n"
            "subjectKeyIdentifier = hash\n"
            "[server]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
            "subjectAltName = IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
            "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
            "[client]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
        )
        for key in ("server-ca", "client-ca", "server", "admin", "sa"):
            self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{key}.key")
        self._openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        for ca, cn in (("server-ca", "netaudit-test-server-ca"), ("client-ca", "netaudit-test-client-ca")):
            self._openssl("req", "-x509", "-new", "-config", "openssl.cnf", "-extensions", "ca", "-key", f"{ca}.key",
                          "-subj", f"/CN={cn}", "-days", "3650", "-sha256", "-out", f"{ca}.crt")
        certs = [("server", "server-ca", "/CN=kube-apiserver", "server"),
                 ("admin", "client-ca", f"/O=system:masters/CN={ADMIN_USER}", "client")]
        if self.kubelet_client:
            certs.append(("kubelet-client", "client-ca", "/O=system:masters/CN=kube-apiserver-kubelet-client",
                          "client"))
        for name, ca, subj, ext in certs:
            self._issue(name, ca, subj, ext)

    def _issue(self, name: str, ca: str, subj: str, ext: str) -> None:
        """<name>.crt for <name>.key (made here if missing), signed by <ca>, with extensions section `ext`."""
        if not self._path("pki", f"{name}.key").exists():
            self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
        self._openssl("req", "-new", "-config", "openssl.cnf", "-key", f"{name}.key", "-subj", subj,
                      "-out", f"{name}.csr")
        self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                      "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "3650", "-sha256",
                      "-extfile", "openssl.cnf", "-extensions", ext, "-out", f"{name}.crt")

    def _admin_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self._path("pki", "server-ca.crt")))
        ctx.load_cert_chain(str(self._path("pki", "admin.crt")), str(self._path("pki", "admin.key")))
        return ctx

    def _admin_user_entry(self) -> dict[str, Any]:
        return {"client-certificate-data": _b64(self._path("pki", "admin.crt")),
                "client-key-data": _b64(self._path("pki", "admin.key"))}

    def _write_kubeconfig(self, path: str | os.PathLike[str], user: dict[str, Any]) -> Path:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT_NAME, "cluster": {
                "server": self.url, "certificate-authority-data": _b64(self._path("pki", "server-ca.crt"))}}],
            "users": [{"name": CONTEXT_NAME, "user": user}],
            "contexts": [{"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME}}],
            "current-context": CONTEXT_NAME,
            "preferences": {},
        }
        path = Path(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)  # JSON is YAML: every kubeconfig reader takes it
        return path

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [*self.command_prefix, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest only; stop() ends the children
                preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
            )

    def _check_alive(self, proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
        if proc.poll() is None:
            return
        text = _tail(log, 400)
        msg = f"{name} exited with code {proc.returncode} during startup\n{self.logs()}"
        if "address already in use" in text or os.strerror(errno.EADDRINUSE).lower() in text.lower():
            raise _PortTaken(msg)
        raise ApiServerError(msg)

    def _start_etcd(self, etcd_bin: Path, port: int, peer_port: int, deadline: float) -> None:
        self.etcd_url = f"http://127.0.0.1:{port}"
        peer = f"http://127.0.0.1:{peer_port}"
        self._etcd_log = self._path("etcd.log")
        self._etcd = self._spawn([
            str(etcd_bin), "--name=netaudit-test", f"--data-dir={self._path('etcd-data')}",
            f"--listen-client-urls={self.etcd_url}", f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=netaudit-test={peer}", "--initial-cluster-state=new",
            "--unsafe-no-fsync",  # throwaway data: no fsync keeps the tests quick
            "--log-level=warn",
        ], self._etcd_log)
        while True:
            self._check_alive(self._etcd, "etcd", self._etcd_log)
            try:
                conn = _Connection("127.0.0.1", port, timeout=2, connect=self._connect, tls=False)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status == 200 and b'"true"' in body:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ApiServerError(f"etcd not healthy after {self.startup_timeout:.0f}s\n{self.logs()}")
            time.sleep(0.1)

    def _start_apiserver(self, apiserver_bin: Path, deadline: float) -> None:
        pki = self._path("pki")
        self._apiserver_log = self._path("kube-apiserver.log")
        argv = [
            str(apiserver_bin),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'server.crt'}",
            f"--tls-private-key-file={pki / 'server.key'}",
            f"--client-ca-file={pki / 'client-ca.crt'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            # No controller-manager creates the "default" ServiceAccount of a namespace, which that plugin needs.
            "--disable-admission-plugins=ServiceAccount",
            # 127.0.0.1 is not a valid Endpoints address: without this the apiserver logs an error every 10 s.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            *self._kubelet_args(),
            *self.extra_apiserver_args,
        ]
        self._apiserver = self._spawn(argv, self._apiserver_log)
        last = ""
        while True:
            self._check_alive(self._apiserver, "kube-apiserver", self._apiserver_log)
            try:
                status, body = self.request("GET", "/readyz", timeout=5)
                if status == 200:
                    return
                last = f"HTTP {status}: {body}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                try:
                    _, verbose = self.request("GET", "/readyz?verbose", timeout=5)
                    last = f"{last}\n{verbose}"
                except (OSError, http.client.HTTPException):
                    pass
                raise ApiServerError(
                    f"kube-apiserver not ready after {self.startup_timeout:.0f}s (last /readyz: {last})\n{self.logs()}")
            time.sleep(0.2)

    def _kubelet_args(self) -> list[str]:
        if not self.kubelet_client:
            return []
        pki = self._path("pki")
        return [f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'server-ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP"]

    def _stop_processes(self) -> None:
        for attr in ("_apiserver", "_etcd"):  # the API server first, so it does not spin on a vanished etcd
            proc = getattr(self, attr)
            if proc is None:
                continue
            if proc.poll() is None:
                try:
                    proc.terminate()
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
            setattr(self, attr, None)


class _Connection(http.client.HTTPSConnection):
    """HTTP(S) to host:port over a socket made by `connect` (host, port, timeout) -> socket."""

    def __init__(self, host: str, port: int, *, connect: Callable[[str, int, float], socket.socket],
                 timeout: float, context: ssl.SSLContext | None = None, tls: bool = True) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._make_socket = connect
        self._tls = tls

    def connect(self) -> None:
        sock = self._make_socket(self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host) if self._tls else sock
