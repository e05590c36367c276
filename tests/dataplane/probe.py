"""Real packets between the node's pods (and the outside namespace), many at once, from the senders' own namespaces.

A probe's result says what the network did with the first packet:
- TCP: connected, or refused (a reset from the destination's kernel: nothing listens, but the SYN got through),
  or timeout (dropped);
- UDP: refused (an ICMP port unreachable came back: the datagram reached the destination's kernel, and pods'
  namespaces never rate-limit those replies) or timeout (dropped);
- ICMP: an echo request answered (connected) or not (timeout).
Destination pods listen on nothing, so "open" is refused (or connected) and "blocked" is timeout.
SCTP is probed only when the kernel has it (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) works).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tools.calico_node import netns

OPEN = ("connected", "refused")


@dataclass(frozen=True)
class Flow:
    src: str  # "ns/pod" or "ip:203.0.113.7"
    dst: str
    protocol: str  # TCP | UDP | SCTP | ICMP
    port: int | None  # None for ICMP (echo request, type 8 code 0)

    def __str__(self) -> str:
        what = f"{self.port}/{self.protocol}" if self.port is not None else f"{self.protocol} echo"
        return f"{self.src} -> {self.dst} {what}"


@dataclass(frozen=True)
class Endpoint:
    netns: str
    ip: str
    bind: bool  # bind the source address (an external address on the outside namespace's loopback)


def sctp_available() -> str | None:
    """None when the kernel has SCTP, else why not."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
        return None
    except OSError as e:
        return f"this kernel has no SCTP ({os.strerror(e.errno) if e.errno else e})"


def probe(flow: Flow, src: Endpoint, dst_ip: str, timeout: float) -> str:
    try:
        if flow.protocol == "ICMP":
            return _icmp(src, dst_ip, timeout)
        kind = socket.SOCK_DGRAM if flow.protocol == "UDP" else socket.SOCK_STREAM
        proto = socket.IPPROTO_SCTP if flow.protocol == "SCTP" else 0
        sock = netns.socket_in(src.netns, socket.AF_INET, kind, proto)
    except OSError as e:
        return f"error: {e}"
    try:
        sock.settimeout(timeout)
        if src.bind:
            sock.bind((src.ip, 0))
        if flow.protocol == "UDP":
            sock.connect((dst_ip, flow.port))
            sock.send(b"netaudit dataplane probe")
            try:
                sock.recv(64)
                return "connected"
            except ConnectionRefusedError:
                return "refused"
            except TimeoutError:
                return "timeout"
        rc = sock.connect_ex((dst_ip, flow.port))
        if rc == 0:
            return "connected"
        if rc == errno.ECONNREFUSED:
            return "refused"
        if rc in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS):
            return "timeout"
        return f"error: {os.strerror(rc)}"
    except TimeoutError:
        return "timeout"
    except OSError as e:
        return f"error: {e}"
    finally:
        sock.close()


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp(src: Endpoint, dst_ip: str, timeout: float) -> str:
    sock = netns.socket_in(src.netns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        if src.bind:
            sock.bind((src.ip, 0))
        ident = int.from_bytes(os.urandom(2), "big")
        payload = b"netaudit"
        header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
        sock.sendto(packet, (dst_ip, 0))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            sock.settimeout(left)
            try:
                data, (addr, _) = sock.recvfrom(2048)
            except TimeoutError:
                return "timeout"
            ihl = (data[0] & 0x0F) * 4
            kind, _code, _sum, rid = struct.unpack("!BBHH", data[ihl:ihl + 6])
            if addr == dst_ip and kind == 0 and rid == ident:
                return "connected"
    finally:
        sock.close()


def run(flows: list[tuple[Flow, Endpoint, str]], timeout: float, workers: int = 1024) -> dict[Flow, str]:
    """Every (flow, source endpoint, destination IP) probed once, in parallel."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda item: probe(item[0], item[1], item[2], timeout), flows))
    return {flow: result for (flow, _, _), result in zip(flows, results)}
