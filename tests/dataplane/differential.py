"""One case on the node: which flows to probe, what netaudit predicts for them (live, from the node's API server,
through the library API), what Felix's dataplane did, and every difference.

Flows: every ordered pair of the case's pods, every pod to and from each external address (the case's `ip:`
endpoints and one or two addresses inside every IPv4 CIDR its policies name, placed on the outside namespace),
on every port the case mentions (policy ports and range ends with their neighbours, container ports,
expectations) plus a control port, over TCP and UDP (SCTP when the kernel has it), and one ICMP echo per pair.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field

from auditor import analysis as netaudit

from . import probe
from .cluster import NodeCase
from .probe import OPEN, Endpoint, Flow

CONTROL_PORT = 9
MAX_PORTS = 24
MAX_EXTERNALS = 10
PROBE_TIMEOUT = 0.6  # seconds; a pod answers in well under a millisecond, and every mismatch is probed again
CONFIRM_TIMEOUT = 2.0
ICMP_ECHO = 8 * 256 + 0  # netaudit's ICMP "port": type * 256 + code
RESERVED = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3", "198.18.0.0/30",
                                               "169.254.1.1/32")]


@dataclass
class Outcome:
    flow: Flow
    predicted: str  # allowed | denied | unknown
    observed: str  # connected | refused | timeout | error: ...
    confirmed: list[str] = field(default_factory=list)  # the re-probes of a mismatch

    @property
    def open(self) -> bool:
        return self.observed in OPEN

    @property
    def mismatch(self) -> bool:
        if self.predicted == "unknown" or self.observed.startswith("error"):
            return False
        return (self.predicted == "allowed") != self.open

    def describe(self) -> str:
        again = f" (again: {', '.join(self.confirmed)})" if self.confirmed else ""
        return f"{self.flow}: netaudit {self.predicted}, Felix {self.observed}{again}"


@dataclass
class CaseResult:
    name: str
    outcomes: list[Outcome]
    externals: list[str]
    ports: list[int]
    protocols: list[str]
    unstable: list[str] = field(default_factory=list)  # mismatches that did not repeat
    offline: list[str] = field(default_factory=list)  # netaudit on the case as written vs Felix, where they differ

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.mismatch]

    def counts(self) -> dict[str, int]:
        """{"allowed/refused": n, "denied/timeout": n, ...}: prediction against observation."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            key = f"{o.predicted}/{o.observed.split(':')[0]}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------------------- flow choice
def _ports_in(obj, named: dict[str, set[int]], out: set[int]) -> None:
    """Port numbers anywhere in a policy's rules (ints, "a:b" ranges, endPort, named ports resolved)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("port", "endPort") and isinstance(value, int) and not isinstance(value, bool):
                _range(value, value, out)
            elif key == "port" and isinstance(value, str):
                out.update(named.get(value, ()))
            elif key in ("ports", "notPorts") and isinstance(value, list):
                for p in value:
                    if isinstance(p, int) and not isinstance(p, bool):
                        _range(p, p, out)
                    elif isinstance(p, str) and re.fullmatch(r"\d+:\d+", p):
                        low, high = map(int, p.split(":"))
                        _range(low, high, out)
                    elif isinstance(p, str):
                        out.update(named.get(p, ()))
                    else:
                        _ports_in(p, named, out)
            else:
                _ports_in(value, named, out)
    elif isinstance(obj, list):
        for item in obj:
            _ports_in(item, named, out)


def _range(low: int, high: int, out: set[int]) -> None:
    for p in (low - 1, low, high, high + 1):
        if 1 <= p <= 65535:
            out.add(p)


def _cidrs_in(obj, out: list[str]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("cidr",) and isinstance(value, str):
                out.append(value)
            elif key in ("except", "nets", "notNets") and isinstance(value, list):
                out.extend(v for v in value if isinstance(v, str))
            else:
                _cidrs_in(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _cidrs_in(item, out)


def choose(case: NodeCase, raw_case: dict, pod_ips: dict[str, str], sctp: bool) -> tuple[list[int], list[str],
                                                                                              list[str]]:
    """(ports, external IPv4 addresses, protocols) to probe for the case."""
    named: dict[str, set[int]] = {}
    ports: set[int] = {CONTROL_PORT}
    for obj in case.objects:
        if obj["kind"] == "Pod":
            for c in (obj.get("spec") or {}).get("containers") or []:
                for cp in c.get("ports") or []:
                    if isinstance(cp.get("containerPort"), int):
                        ports.add(cp["containerPort"])
                        if cp.get("name"):
                            named.setdefault(cp["name"], set()).add(cp["containerPort"])
    cidrs: list[str] = []
    for obj in case.objects:
        if obj["kind"] != "Pod":
            _ports_in(obj.get("spec") or {}, named, ports)
            _cidrs_in(obj.get("spec") or {}, cidrs)
    externals: list[str] = []
    for exp in raw_case.get("expect") or []:
        for end in (exp.get("from"), exp.get("to")):
            if isinstance(end, str) and end.startswith("ip:"):
                externals.append(end[3:])
        if isinstance(exp.get("port"), (str, int)):
            text = str(exp["port"]).split("/")[0]
            if text.isdigit():
                ports.add(int(text))
        for ranges in (exp.get("allowed") or {}).values():
            for low, high in ranges:
                _range(low, high, ports)
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr if "/" in cidr else f"{cidr}/32", strict=False)
        except ValueError:
            continue
        if net.version != 4:
            continue
        externals.append(str(net.network_address + (1 if net.prefixlen < 31 else 0)))
        if net.prefixlen < 30:
            externals.append(str(net.broadcast_address - 1))
    taken = set(pod_ips.values())
    chosen: list[str] = []
    for ip in externals:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if addr.version != 4 or ip in taken or ip in chosen or any(addr in r for r in RESERVED):
            continue
        if addr == ipaddress.ip_address("255.255.255.255"):
            continue
        chosen.append(ip)
    protocols = ["TCP", "UDP"] + (["SCTP"] if sctp else [])
    return sorted(ports)[:MAX_PORTS], chosen[:MAX_EXTERNALS], protocols


# ---------------------------------------------------------------------------------------------------- prediction
class Prediction:
    """netaudit's matrix, flow by flow: for the live cluster (kubeconfig), or for the case as written (a state)."""

    def __init__(self, kubeconfig: str | None = None, state=None):
        state = state if state is not None else netaudit.load(kubeconfig=kubeconfig)
        self.analysis = netaudit.analyze(state)
        view = self.analysis.matrix_view("pod")
        self.by_pair = {(c.src, c.dst): c for c in view.connections}
        self.alerts = [a.message for a in self.analysis.alerts]

    def endpoint(self, text: str) -> str:
        if text.startswith("ip:"):
            return self.analysis.universe.region_class(text[3:]).region.id
        return text

    def verdict(self, flow: Flow) -> str:
        conn = self.by_pair.get((self.endpoint(flow.src), self.endpoint(flow.dst)))
        if conn is None:
            return "denied"
        proto, port = (flow.protocol, flow.port) if flow.protocol != "ICMP" else ("ICMP", ICMP_ECHO)
        if conn.allowed.contains(proto, port):
            return "allowed"
        if conn.unknown.contains(proto, port):
            return "unknown"
        return "denied"


# ---------------------------------------------------------------------------------------------------- one case
def run_case(node, case: NodeCase, raw_case: dict, pod_ips: dict[str, str], sctp: bool, offline_state=None
             ) -> CaseResult:
    ports, externals, protocols = choose(case, raw_case, pod_ips, sctp)
    for ip in externals:
        node.add_external(ip)
    agent = node.agent
    endpoints: dict[str, tuple[Endpoint, str]] = {}  # name -> (as a source, address as a destination)
    with agent.lock:
        by_key = {f"{rt.namespace}/{rt.name}": rt for rt in agent.pods.values()}
    for pod, ip in pod_ips.items():
        endpoints[pod] = (Endpoint(by_key[pod].netns, ip, False), ip)
    for ip in externals:
        endpoints[f"ip:{ip}"] = (Endpoint(node.ext_netns, ip, True), ip)
    pairs = [(a, b) for a in endpoints for b in endpoints
             if a != b and not (a.startswith("ip:") and b.startswith("ip:"))]
    items = []
    for src, dst in pairs:
        for proto in protocols:
            for port in ports:
                items.append((Flow(src, dst, proto, port), endpoints[src][0], endpoints[dst][1]))
        items.append((Flow(src, dst, "ICMP", None), endpoints[src][0], endpoints[dst][1]))
    observed = probe.run(items, PROBE_TIMEOUT)
    predicted = Prediction(node.kubeconfig)
    outcomes = [Outcome(flow, predicted.verdict(flow), observed[flow]) for flow, _, _ in items]
    result = CaseResult(case.name, outcomes, externals, ports, protocols + ["ICMP"])
    suspects = [o for o in outcomes if o.mismatch]
    if suspects:  # probe them again, slower: a mismatch must repeat to count
        lookup = {flow: (src, dst) for flow, src, dst in items}
        for _ in range(2):
            time.sleep(0.5)
            again = probe.run([(o.flow, *lookup[o.flow]) for o in suspects], CONFIRM_TIMEOUT)
            for o in suspects:
                o.confirmed.append(again[o.flow])
        for o in suspects:
            if any((r in OPEN) != o.open for r in o.confirmed):
                result.unstable.append(o.describe())
                o.observed = o.confirmed[-1]  # the settled answer
    if offline_state is not None:
        written = Prediction(state=offline_state)
        for o in outcomes:
            verdict = written.verdict(o.flow)
            if verdict != "unknown" and not o.observed.startswith("error") and (verdict == "allowed") != o.open:
                result.offline.append(f"{o.flow}: netaudit on the manifests {verdict}, Felix {o.observed}")
    return result
