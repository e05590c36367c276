"""Network namespaces from Python: `ip` commands, sockets and sysctls inside a namespace, without entering it.

setns(2) with CLONE_NEWNET changes the network namespace of the calling *thread* only, and a socket keeps the
namespace it was made in. So `socket_in(ns, ...)` switches this thread into `ns`, makes the socket and switches
back: the process itself (and the machine's own namespace) is never changed, and a server thread can listen in
the node's namespace while the rest of the program talks on the machine's loopback.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    """An `ip` command or a namespace switch failed."""


def path(name: str) -> str:
    return str(NETNS_DIR / name)


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def names(prefix: str) -> list[str]:
    """Namespaces whose name starts with `prefix`."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """`ip [-n netns] args...`; NetnsError with ip's message when it fails (and check is set)."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {proc.stderr.strip() or f'exit code {proc.returncode}'}")
    return proc.stdout


def ip_batch(commands: Sequence[str], netns: str | None = None) -> None:
    """Several `ip` commands in one process (`ip -batch -`), stopping at the first failure."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True)
    if proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} <<{commands}: {proc.stderr.strip() or f'exit code {proc.returncode}'}")


def add(name: str) -> None:
    ip("netns", "add", name)


def delete(name: str) -> None:
    """Delete the namespace (its veths go with it); nothing if it is already gone."""
    if exists(name):
        ip("netns", "delete", name, check=False)


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with this thread in namespace `name` (other threads are unaffected)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path(name), os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            try:
                _setns(own)
            except NetnsError:  # pragma: no cover - cannot happen for a namespace we came from
                os._exit(70)  # a thread stuck in the wrong namespace must never go on
    finally:
        os.close(own)


def socket_in(name: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
              ) -> socket.socket:
    """A new socket that lives in namespace `name`."""
    with entered(name):
        return socket.socket(family, kind, proto)


def connect_in(name: str, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection made from inside namespace `name`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket_in(name, family)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def sysctl(name: str, key: str, value: str) -> None:
    """Write a net.* sysctl of namespace `name` (/proc/sys/net shows the namespace of the thread that opens it)."""
    with entered(name):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)


def exec_prefix(name: str) -> list[str]:
    """A command prefix that runs a program inside namespace `name` (and in a private mount namespace)."""
    return ["ip", "netns", "exec", name]
