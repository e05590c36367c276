"""Run probe pods on the cluster: create, wait, read logs, delete. The only module of `probe/` that does I/O.

The one promise: whatever happens (success, an API error, a timeout, Ctrl-C, SIGTERM), the probe pods of the run
are deleted before we return, found by their run label rather than by the names we think we created (a create
interrupted mid-request may still have happened). Nothing but pods carrying `netaudit.dev/probe=true` is ever
written to or deleted. The verbs used are exactly those of deploy/rbac-probe.yaml: create, get, list and delete
on pods, get on pods/log.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .podspec import CONTAINER, PROBE_LABEL, RUN_LABEL

REQUEST_TIMEOUT = (10, 30)  # connect, read (seconds)
# ErrImagePull alone may be a registry hiccup the kubelet retries; ImagePullBackOff means it already did.
FATAL_WAITING = {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                 "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


class ProbeRunError(Exception):
    """The run could not be completed (API error, timeout, unusable image). Exit code 2.

    `deleted` and `left` say what cleanup did, so the message can say "deleted them" or what is left.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.deleted: list[str] = []
        self.left: list[str] = []


class ProbeTimeout(ProbeRunError):
    pass


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, like KeyboardInterrupt, so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.deleted: list[str] = []
        self.left: list[str] = []


@dataclass
class RunOutcome:
    logs: dict[str, str] = field(default_factory=dict)  # probe pod name -> its log
    pod_ips: dict[str, str] = field(default_factory=dict)  # probe pod name -> its IP
    phases: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # probe pods that cleanup could not delete


def new_run_id() -> str:
    """8 hex digits: short enough for pod names, valid as a label value."""
    return secrets.token_hex(4)


def connect(kubeconfig: str | None = None, context: str | None = None):
    """A CoreV1Api for the kubeconfig context (or in-cluster account), as the live source finds it."""
    from kubernetes import client

    from ..sources.live import LiveSourceError, api_client
    try:
        return client.CoreV1Api(api_client(kubeconfig, context))
    except LiveSourceError as err:
        raise ProbeRunError(str(err)) from None


class ProbeRunner:
    def __init__(self, core, *, progress: Callable[[str], None] | None = None, poll_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.core = core
        self.progress = progress or (lambda text: None)
        self.poll_interval = poll_interval
        self.clock = clock
        self.sleep = sleep

    # --- one run ------------------------------------------------------------------------------------------------
    def run(self, pods: list[dict], run_id: str, *, start_timeout: float, finish_timeout: float) -> RunOutcome:
        """Create `pods`, wait for them to start (start_timeout) and finish (finish_timeout), read their logs.

        Always deletes the run's pods before returning or raising; a ProbeRunError or Interrupted carries what
        cleanup deleted and what it could not.
        """
        namespaces = sorted({p["metadata"]["namespace"] for p in pods})
        outcome = RunOutcome()
        with _signals_raise():
            try:
                names = self._create(pods)
                self._wait(names, start_timeout, _started, "start")
                self._wait(names, finish_timeout, _finished, "finish", fail=False, outcome=outcome)
                self._read_logs(names, outcome)
            except (ProbeRunError, Interrupted) as err:
                err.deleted, err.left = self._cleanup(run_id, namespaces)
                raise
            except BaseException:
                self._cleanup(run_id, namespaces)
                raise
            outcome.deleted, outcome.left = self._cleanup(run_id, namespaces)
        return outcome

    def _create(self, pods: list[dict]) -> list[tuple[str, str]]:
        names = []
        for pod in pods:
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            self.progress(f"creating probe pod {ns}/{name}")
            self._call(f"create pod {ns}/{name}", self.core.create_namespaced_pod, ns, pod)
            names.append((ns, name))
        return names

    def _wait(self, names: list[tuple[str, str]], timeout: float, done, what: str, *, fail: bool = True,
              outcome: RunOutcome | None = None) -> None:
        deadline = self.clock() + timeout
        self.progress(f"waiting for {len(names)} probe pod(s) to {what} (up to {timeout:.0f}s)")
        while True:
            pods = {(ns, name): self._call(f"get pod {ns}/{name}", self.core.read_namespaced_pod, name, ns)
                    for ns, name in names}
            for (ns, name), pod in pods.items():
                _raise_if_stuck(ns, name, pod)
            if all(done(pod) for pod in pods.values()):
                if outcome is not None:
                    _record(pods, outcome)
                return
            if self.clock() >= deadline:
                summary = _summary(p for p in pods.values() if not done(p))
                if fail:
                    raise ProbeTimeout(f"probe pods did not {what} within {timeout:.0f}s: {summary}")
                if outcome is not None:
                    outcome.warnings.append(f"probe pods did not {what} within {timeout:.0f}s ({summary}): "
                                            "their results so far are used")
                    _record(pods, outcome)
                return
            self.sleep(self.poll_interval)

    def _read_logs(self, names: list[tuple[str, str]], outcome: RunOutcome) -> None:
        from kubernetes.client.exceptions import ApiException
        for ns, name in names:
            try:
                outcome.logs[name] = self._call(f"read the log of {ns}/{name}", self.core.read_namespaced_pod_log,
                                                name, ns, container=CONTAINER) or ""
            except ProbeRunError as err:
                if isinstance(err.__cause__, ApiException) and err.__cause__.status in (400, 404):
                    outcome.warnings.append(str(err))  # no log (the container never ran): its probes are missing
                    outcome.logs[name] = ""
                else:
                    raise

    # --- cleanup ------------------------------------------------------------------------------------------------
    def _cleanup(self, run_id: str, namespaces: Iterable[str]) -> tuple[list[str], list[str]]:
        with _signals_ignored():  # a second Ctrl-C must not leave pods behind half-way through
            self.progress("deleting the probe pods")
            return self.delete_matching(f"{RUN_LABEL}={run_id}", namespaces)

    def delete_matching(self, selector: str, namespaces: Iterable[str] | None) -> tuple[list[str], list[str]]:
        """Delete every probe pod matching `selector` in `namespaces` (None: all). Returns (deleted, left)."""
        deleted: list[str] = []
        left: list[str] = []
        for pod in self._list(selector, namespaces, left):
            labels = pod.metadata.labels or {}
            if labels.get(PROBE_LABEL) != "true":
                continue  # never touch anything that is not a probe pod, whatever the selector said
            ns, name = pod.metadata.namespace, pod.metadata.name
            try:
                self._call(f"delete pod {ns}/{name}", self.core.delete_namespaced_pod, name, ns,
                           grace_period_seconds=0)
                deleted.append(f"{ns}/{name}")
            except ProbeRunError as err:
                if _status(err) == 404:
                    deleted.append(f"{ns}/{name}")  # gone already
                else:
                    left.append(f"{ns}/{name} ({err})")
        return deleted, left

    def _list(self, selector: str, namespaces: Iterable[str] | None, left: list[str]) -> list:
        if namespaces is None:
            try:
                return list(self._call("list pods", self.core.list_pod_for_all_namespaces,
                                       label_selector=selector).items)
            except ProbeRunError as err:
                if _status(err) != 403:
                    raise
                # Allowed per namespace only (RoleBindings): look in each namespace we may list.
                namespaces = [ns.metadata.name for ns in self._call("list namespaces", self.core.list_namespace).items]
        found = []
        for ns in namespaces:
            try:
                found.extend(self._call(f"list pods in {ns}", self.core.list_namespaced_pod, ns,
                                        label_selector=selector).items)
            except ProbeRunError as err:
                left.append(f"namespace {ns}: {err}")
        return found

    # --- API calls ----------------------------------------------------------------------------------------------
    def _call(self, what: str, method, *args, **kwargs):
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
        try:
            return method(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as err:
            message = _api_message(err)
            raise ProbeRunError(f"cannot {what}: {err.status} {err.reason}: {message}"
                                + _rbac_hint(err.status, message)) from err
        except (HTTPError, OSError) as err:
            raise ProbeRunError(f"cannot {what}: the API server cannot be reached ({_short(err)})") from err


def _record(pods: dict, outcome: RunOutcome) -> None:
    for (_ns, name), pod in pods.items():
        outcome.phases[name] = pod.status.phase or ""
        if pod.status.pod_ip:
            outcome.pod_ips[name] = pod.status.pod_ip


def _started(pod) -> bool:
    return (pod.status.phase or "Pending") != "Pending"


def _finished(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def _raise_if_stuck(ns: str, name: str, pod) -> None:
    """Fail fast when a probe pod can never run (its image cannot be pulled, its container not created)."""
    for status in pod.status.container_statuses or ():
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason in FATAL_WAITING:
            node = f" on node {pod.spec.node_name}" if pod.spec and pod.spec.node_name else ""
            raise ProbeRunError(f"probe pod {ns}/{name} cannot run{node}: {waiting.reason}: "
                                f"{waiting.message or 'no message'} (image {status.image}; see --probe-image)")


def _summary(pods) -> str:
    """'3 Pending (no node ran them)', '1 Pending (unschedulable: 0/3 nodes are available: ...)', '2 Running'."""
    counts: dict[str, int] = {}
    for pod in pods:
        phase = pod.status.phase or "Pending"
        if phase == "Pending":
            unschedulable = next((c for c in pod.status.conditions or () if c.type == "PodScheduled"
                                  and c.status == "False"), None)
            if unschedulable is not None:
                key = f"Pending (unschedulable: {unschedulable.message or unschedulable.reason})"
            elif pod.spec and pod.spec.node_name:
                key = "Pending (on a node, containers not started)"
            else:
                key = "Pending (no node ran them)"
        elif phase == "Running":
            key = "Running (probes not finished)"
        else:
            key = phase
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {key}" for key, n in sorted(counts.items()))


@contextlib.contextmanager
def _signals_raise():
    """SIGINT and SIGTERM raise Interrupted, so `finally` blocks run and delete the probe pods."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; there, the caller handles signals
        return

    def handler(signum, frame):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # one signal is enough: the cleanup it starts must not be cut
        raise Interrupted(signum)
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _signals_ignored():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _status(err: ProbeRunError) -> int | None:
    return getattr(err.__cause__, "status", None)


def _api_message(err) -> str:
    import json
    try:
        return json.loads(err.body).get("message") or str(err.reason)
    except (TypeError, ValueError, AttributeError):
        return str(err.reason)


def _rbac_hint(status: int | None, message: str) -> str:
    if status == 403 and "PodSecurity" not in message:
        return " (netaudit verify needs deploy/rbac-probe.yaml bound in that namespace)"
    return ""


def _short(err: Exception) -> str:
    reason = getattr(err, "reason", None)
    text = str(reason if reason is not None else err)
    return text.splitlines()[0][:300] if text else type(err).__name__
