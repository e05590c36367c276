"""Probe Pod manifests and the POSIX shell script they run (pure: plan in, plain dicts and text out).

A probe Pod must be judged by the policies exactly as its source pod is, and must change nothing else:
- same namespace, service account and policy-relevant labels (plan.probe_labels), so the same policies select it;
- a readiness probe that always fails (`false`): it never becomes Ready, so even when its labels match a Service
  selector, kube-proxy never sends it traffic (EndpointSlices list it, if at all, with ready=false);
- the restricted Pod Security Standard (non-root 65534, no privilege escalation, every capability dropped,
  RuntimeDefault seccomp, read-only root filesystem), no service account token, small requests and limits,
  restartPolicy Never and an activeDeadlineSeconds, so a probe left behind by a killed run stops by itself;
- the labels `netaudit.dev/probe=true` and `netaudit.dev/run=<run id>`, which cleanup deletes by.

The script probes by IP (no DNS lookup of the destination) and writes one JSON line per probe:
{"id": "p0", "dst": "ns/pod", "ip": "10.0.0.5", "protocol": "TCP", "port": 80, "result": "connected",
 "tries": 1, "attempts": ["connected"], "detail": ""}
result: connected | refused (the host answered: the network let it through) | timeout (dropped) | error.
It needs only a shell, `nc` (busybox's, either variant, or any with -w) and, for DNS, `nslookup`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .plan import DNS_QUERY, TCP_CONNECT, Plan, PlannedProbe, ProbeSource

DEFAULT_IMAGE = "busybox:1.36"
PROBE_LABEL = "netaudit.dev/probe"
RUN_LABEL = "netaudit.dev/run"
CONTAINER = "probe"
NOBODY = 65534


@dataclass(frozen=True)
class ProbeSettings:
    image: str = DEFAULT_IMAGE
    timeout: int = 3  # seconds per try
    tries: int = 3
    parallel: int = 8  # probes at once in one pod
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping] = ()
    active_deadline: int = 300  # seconds; raised when the probes need longer (see active_deadline_for)


def pod_name(run_id: str, n: int) -> str:
    return f"netaudit-probe-{run_id}-{n}"


def active_deadline_for(probe_count: int, settings: ProbeSettings) -> int:
    """Long enough for the worst case (every probe times out on every try), never shorter than the setting."""
    batches = -(-probe_count // max(1, settings.parallel))
    worst = batches * settings.tries * (settings.timeout + 3)
    return max(settings.active_deadline, worst + 60)


def probe_pods(plan: Plan, run_id: str, settings: ProbeSettings = ProbeSettings()) -> list[dict]:
    """One Pod manifest per source class that has probes, named netaudit-probe-<run id>-<n>."""
    return [probe_pod(source, plan.probes_from(source), run_id, n, settings, plan.dns_name)
            for n, source in enumerate(plan.sources) if plan.probes_from(source)]


def probe_pod(source: ProbeSource, probes: Sequence[PlannedProbe], run_id: str, n: int,
              settings: ProbeSettings = ProbeSettings(), dns_name: str = "kubernetes.default.svc.cluster.local"
              ) -> dict:
    labels = dict(source.labels)
    labels[PROBE_LABEL] = "true"
    labels[RUN_LABEL] = run_id
    plan_note = [[p.id, p.destination, p.ip, f"{p.port}/{p.protocol}", p.predicted] for p in probes]
    annotations = {
        "netaudit.dev/purpose": "netaudit verify: tests network policy from the identity of "
                                f"{source.pod.id}; deleted when the run ends (`netaudit verify --cleanup`)",
        "netaudit.dev/source-pod": source.pod.id,
        "netaudit.dev/plan": json.dumps(plan_note, separators=(",", ":")),
    }
    spec: dict = {
        "serviceAccountName": source.pod.service_account,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": active_deadline_for(len(probes), settings),
        "terminationGracePeriodSeconds": 1,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NOBODY,
            "runAsGroup": NOBODY,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [{
            "name": CONTAINER,
            "image": settings.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", probe_script(probes, settings, dns_name)],
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": NOBODY,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi"}},
            # Never Ready, so never a Service endpoint, even when the copied labels match a Service selector.
            "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 10, "failureThreshold": 1},
        }],
    }
    if settings.node_selector:
        spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        spec["tolerations"] = [dict(t) for t in settings.tolerations]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name(run_id, n), "namespace": source.namespace, "labels": labels,
                     "annotations": annotations},
        "spec": spec,
    }


# The script is plain POSIX sh (busybox ash, dash): no arrays, no bash-isms. `nc -z` exists in busybox's full nc;
# its small nc has no -z, but `-e true` makes it exit right after connecting. Results are told apart by nc's
# message first (refused / timed out), then by the time taken (a silent failure after the whole timeout is one).
_SCRIPT_HEAD = r"""T=__TIMEOUT__
TRIES=__TRIES__
DNSNAME='__DNSNAME__'
if nc --help 2>&1 | grep -q -- '-z'; then NCZ=1; else NCZ=0; fi
limit() { if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi; }
clean() { printf '%s' "$1" | head -n 1 | sed 's/[^A-Za-z0-9 .,:;()_=+@%/-]/ /g' | cut -c 1-160; }
classify() {
  case "$2" in
    *[Rr]efused*) echo refused; return ;;
    *[Tt]imed\ out*|*[Tt]imeout*|*"no servers could be reached"*) echo timeout; return ;;
  esac
  if [ "$1" = 0 ]; then echo connected; return; fi
  # Whole seconds: a quick failure may span one tick, so only a timeout of 2 s or more is told apart by time.
  if [ "$1" = 124 ] || [ "$1" = 143 ] || { [ "$T" -ge 2 ] && [ "$3" -ge "$T" ]; }; then echo timeout; return; fi
  echo error
}
once_tcp() {
  s=$(date +%s)
  if [ "$NCZ" = 1 ]; then
    out=$(limit $((T + 2)) nc -v -z -w "$T" "$1" "$2" </dev/null 2>&1); rc=$?
  else
    out=$(limit $((T + 2)) nc -w "$T" "$1" "$2" -e true </dev/null 2>&1); rc=$?
  fi
  e=$(( $(date +%s) - s ))
  r=$(classify "$rc" "$out" "$e")
  [ "$r" = connected ] && out=""
}
once_dns() {
  s=$(date +%s)
  case "$1:$2" in
    *:*:*:53) srv="$1" ;;
    *:*:*) srv="[$1]:$2" ;;
    *:53) srv="$1" ;;
    *) srv="$1:$2" ;;
  esac
  out=$(limit $((T + 2)) nslookup -type=a "$DNSNAME" "$srv" 2>&1); rc=$?
  e=$(( $(date +%s) - s ))
  case "$out" in
    *[Tt]imed\ out*|*"no servers could be reached"*) r=timeout ;;
    *[Rr]efused*) r=refused ;;
    *NXDOMAIN*|*"can't find"*|*Name:*|*SERVFAIL*|*NOTIMP*) r=connected; out="" ;;
    *) r=$(classify "$rc" "$out" "$e") ;;
  esac
}
probe() {
  id=$1; dst=$2; ip=$3; proto=$4; port=$5; how=$6
  n=0; attempts=""
  while [ "$n" -lt "$TRIES" ]; do
    n=$((n + 1))
    if [ "$how" = dns ]; then once_dns "$ip" "$port"; else once_tcp "$ip" "$port"; fi
    attempts="$attempts${attempts:+,}\"$r\""
    case "$r" in connected|refused) break ;; esac
  done
  # One printf per record: probes run in parallel, and one short write is never interleaved with another.
  head=$(printf '{"id":"%s","dst":"%s","ip":"%s","protocol":"%s","port":%s' "$id" "$dst" "$ip" "$proto" "$port")
  printf '%s,"result":"%s","tries":%s,"attempts":[%s],"detail":"%s"}\n' "$head" "$r" "$n" "$attempts" "$(clean "$out")"
}
echo '{"netaudit":"probe-start","probes":__COUNT__}'
"""

_SCRIPT_TAIL = """wait
echo '{"netaudit":"probe-done","probes":__COUNT__}'
"""


def probe_script(probes: Sequence[PlannedProbe], settings: ProbeSettings = ProbeSettings(),
                 dns_name: str = "kubernetes.default.svc.cluster.local") -> str:
    """The container's `sh -c` script: runs the probes `parallel` at a time, one JSON line each."""
    runnable = [p for p in probes if p.method in (TCP_CONNECT, DNS_QUERY) and p.ip]
    head = (_SCRIPT_HEAD.replace("__TIMEOUT__", str(int(settings.timeout)))
            .replace("__TRIES__", str(int(settings.tries)))
            .replace("__DNSNAME__", _shell_safe(dns_name))
            .replace("__COUNT__", str(len(runnable))))
    lines = [head]
    for n, probe in enumerate(runnable):
        how = "dns" if probe.method == DNS_QUERY else "tcp"
        args = " ".join(_shell_quote(str(a)) for a in (probe.id, probe.destination, probe.ip, probe.protocol,
                                                        probe.port, how))
        lines.append(f"probe {args} &\n")
        if (n + 1) % max(1, settings.parallel) == 0:
            lines.append("wait\n")
    lines.append(_SCRIPT_TAIL.replace("__COUNT__", str(len(runnable))))
    return "".join(lines)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _shell_safe(text: str) -> str:
    """A DNS name for inside single quotes: letters, digits, dots and dashes only."""
    return "".join(c for c in text if c.isalnum() or c in ".-") or "kubernetes.default.svc.cluster.local"
