"""Probe pods' logs -> observations. Tolerant: a log may hold anything.

Container logs are not ours alone: the image may print banners, the runtime may cut the last line when the pod is
killed at its deadline, and a kubelet may prefix or rotate. So every line that is not a well-formed probe record is
counted and skipped, never fatal, and the `probe-done` marker tells a complete log from a cut one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

RESULTS = ("connected", "refused", "timeout", "error")


@dataclass(frozen=True)
class Observation:
    """What one probe saw: its last result and every try's result, in order."""

    probe_id: str
    dst: str
    ip: str
    protocol: str
    port: int
    result: str  # connected | refused | timeout | error
    tries: int
    attempts: tuple[str, ...] = ()
    detail: str = ""
    pod: str = ""  # the probe pod that ran it


@dataclass
class PodLog:
    """One probe pod's log, parsed."""

    pod: str
    observations: list[Observation] = field(default_factory=list)
    garbage: int = 0  # lines that are not probe records
    started: bool = False
    done: bool = False  # the script reached its end (else the log was cut: deadline, kill, eviction)
    expected: int | None = None  # probes the script announced


def parse_log(text: str, pod: str = "") -> PodLog:
    log = PodLog(pod)
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        record = _json_object(line)
        if record is None:
            log.garbage += 1
            continue
        marker = record.get("netaudit")
        if marker in ("probe-start", "probe-done"):
            if marker == "probe-start":
                log.started = True
            else:
                log.done = True
            if isinstance(record.get("probes"), int):
                log.expected = record["probes"]
            continue
        observation = _observation(record, pod)
        if observation is None:
            log.garbage += 1
        else:
            log.observations.append(observation)
    return log


def observations_by_id(logs: list[PodLog]) -> tuple[dict[str, Observation], list[str]]:
    """Every observation by probe id; the first wins. Returns warnings for duplicates, garbage and cut logs."""
    found: dict[str, Observation] = {}
    warnings: list[str] = []
    for log in logs:
        for obs in log.observations:
            if obs.probe_id in found:
                warnings.append(f"{log.pod}: probe {obs.probe_id} reported twice; the first report counts")
                continue
            found[obs.probe_id] = obs
        if log.garbage:
            warnings.append(f"{log.pod}: {log.garbage} log line(s) were not probe results and were skipped")
        if log.started and not log.done:
            warnings.append(f"{log.pod}: its log ends before the probes finished (deadline reached or pod killed)")
        elif not log.started:
            warnings.append(f"{log.pod}: its log shows no probe run (the container did not start the script)")
    return found, warnings


def _json_object(line: str) -> dict | None:
    start = line.find("{")  # tolerate a prefix (a timestamp, a runtime tag) before the record
    if start < 0:
        return None
    try:
        value = json.loads(line[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _observation(record: dict, pod: str) -> Observation | None:
    result = record.get("result")
    probe_id = record.get("id")
    port = record.get("port")
    tries = record.get("tries", 1)
    if result not in RESULTS or not isinstance(probe_id, str) or not probe_id:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        return None
    if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
        return None
    attempts = record.get("attempts")
    if not isinstance(attempts, list) or not all(a in RESULTS for a in attempts):
        attempts = [result]
    return Observation(probe_id=probe_id, dst=str(record.get("dst", "")), ip=str(record.get("ip", "")),
                       protocol=str(record.get("protocol", "")), port=port, result=result, tries=tries,
                       attempts=tuple(attempts), detail=str(record.get("detail") or ""), pod=pod)
