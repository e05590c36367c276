"""Probe Pod manifests and their script.

Every pod is checked against the Pod Security Standards, rule by rule, as the "restricted" profile lists them
(kubernetes.io/docs/concepts/security/pod-security-standards: the baseline controls, then the restricted ones).
The script is run for real with /bin/sh and a stand-in `nc`/`nslookup`, and with busybox when it is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import textwrap

import pytest

from auditor.model import Pod
from auditor.probe.plan import DNS_QUERY, NOT_PROBED, TCP_CONNECT, Plan, PlannedProbe, ProbeSource
from auditor.probe.podspec import PROBE_LABEL, RUN_LABEL, ProbeSettings, active_deadline_for, probe_pods, probe_script

SOURCE = Pod("shop", "web-7d77fb55cc-x2x9q", labels={"app": "web"}, service_account="web-sa", ips=("10.0.0.4",))


def probe(n, port=80, protocol="TCP", method=TCP_CONNECT, ip="10.0.0.9", predicted="allowed"):
    return PlannedProbe(f"p{n}", SOURCE.id, 0, "db/db-0", 1, ip, protocol, port, predicted, ("why",), method)


def make_pods(settings=None):
    plan = Plan([ProbeSource(0, SOURCE, {"app": "web"}, frozenset())], [probe(0), probe(1, 53, "UDP", DNS_QUERY)])
    return probe_pods(plan, "abcd1234", settings or ProbeSettings())


def containers(pod):
    spec = pod["spec"]
    return spec.get("initContainers", []) + spec["containers"] + spec.get("ephemeralContainers", [])


# --- Pod Security Standards: baseline -----------------------------------------------------------------------------
ALL_PODS = [make_pods()[0], make_pods(ProbeSettings(image="registry.example/tools:1", node_selector={"pool": "x"},
                                                    tolerations=[{"key": "k", "operator": "Exists"}]))[0]]


@pytest.fixture(params=range(len(ALL_PODS)))
def pod(request):
    return ALL_PODS[request.param]


def test_pss_host_process(pod):
    for ctx in [pod["spec"].get("securityContext", {})] + [c.get("securityContext", {}) for c in containers(pod)]:
        assert ctx.get("windowsOptions", {}).get("hostProcess") in (None, False)


def test_pss_host_namespaces(pod):
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert pod["spec"].get(field) in (None, False)


def test_pss_privileged_containers(pod):
    assert all(c.get("securityContext", {}).get("privileged") in (None, False) for c in containers(pod))


def test_pss_baseline_capabilities(pod):
    baseline = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
    for c in containers(pod):
        assert set(c.get("securityContext", {}).get("capabilities", {}).get("add", [])) <= baseline


def test_pss_host_path_volumes(pod):
    assert not any("hostPath" in v for v in pod["spec"].get("volumes", []))


def test_pss_host_ports(pod):
    assert all(p.get("hostPort") in (None, 0) for c in containers(pod) for p in c.get("ports", []))


def test_pss_apparmor(pod):
    annotations = pod["metadata"].get("annotations", {})
    assert not any(k.startswith("container.apparmor.security.beta.kubernetes.io/") and v == "unconfined"
                   for k, v in annotations.items())
    for ctx in [pod["spec"].get("securityContext", {})] + [c.get("securityContext", {}) for c in containers(pod)]:
        assert ctx.get("appArmorProfile", {}).get("type") in (None, "RuntimeDefault", "Localhost")


def test_pss_selinux(pod):
    for ctx in [pod["spec"].get("securityContext", {})] + [c.get("securityContext", {}) for c in containers(pod)]:
        options = ctx.get("seLinuxOptions", {})
        assert options.get("type") in (None, "", "container_t", "container_init_t", "container_kvm_t",
                                       "container_engine_t")
        assert not options.get("user") and not options.get("role")


def test_pss_proc_mount(pod):
    assert all(c.get("securityContext", {}).get("procMount") in (None, "Default") for c in containers(pod))


def test_pss_seccomp_not_unconfined(pod):
    for ctx in [pod["spec"].get("securityContext", {})] + [c.get("securityContext", {}) for c in containers(pod)]:
        assert ctx.get("seccompProfile", {}).get("type") != "Unconfined"


def test_pss_sysctls(pod):
    safe = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
            "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
            "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes"}
    assert {s["name"] for s in pod["spec"].get("securityContext", {}).get("sysctls", [])} <= safe


# --- Pod Security Standards: restricted ---------------------------------------------------------------------------
def test_pss_volume_types(pod):
    allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
               "secret"}
    for volume in pod["spec"].get("volumes", []):
        assert set(volume) - {"name"} <= allowed


def test_pss_privilege_escalation(pod):
    assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in containers(pod))


def test_pss_running_as_non_root(pod):
    pod_level = pod["spec"]["securityContext"].get("runAsNonRoot")
    assert pod_level is True or all(c["securityContext"].get("runAsNonRoot") is True for c in containers(pod))
    assert all(c.get("securityContext", {}).get("runAsNonRoot") is not False for c in containers(pod))


def test_pss_running_as_non_root_user(pod):
    assert pod["spec"]["securityContext"].get("runAsUser") != 0
    assert all(c.get("securityContext", {}).get("runAsUser") != 0 for c in containers(pod))


def test_pss_seccomp_restricted(pod):
    pod_type = pod["spec"]["securityContext"].get("seccompProfile", {}).get("type")
    for c in containers(pod):
        own = c.get("securityContext", {}).get("seccompProfile", {}).get("type")
        assert (own or pod_type) in ("RuntimeDefault", "Localhost")


def test_pss_restricted_capabilities(pod):
    for c in containers(pod):
        caps = c["securityContext"]["capabilities"]
        assert "ALL" in caps["drop"]
        assert set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}


# --- what makes a probe pod a probe pod ---------------------------------------------------------------------------
def test_probe_pod_identity_labels_and_annotations():
    pod = make_pods()[0]
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["name"] == "netaudit-probe-abcd1234-0" and meta["namespace"] == "shop"
    assert meta["labels"] == {"app": "web", PROBE_LABEL: "true", RUN_LABEL: "abcd1234"}
    assert meta["annotations"]["netaudit.dev/source-pod"] == "shop/web-7d77fb55cc-x2x9q"
    assert json.loads(meta["annotations"]["netaudit.dev/plan"]) == [
        ["p0", "db/db-0", "10.0.0.9", "80/TCP", "allowed"], ["p1", "db/db-0", "10.0.0.9", "53/UDP", "allowed"]]
    assert spec["serviceAccountName"] == "web-sa"
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 300


def test_probe_pod_is_never_ready_and_bounded():
    container = make_pods()[0]["spec"]["containers"][0]
    assert container["readinessProbe"]["exec"]["command"] == ["false"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == 65534
    assert container["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"},
                                      "limits": {"cpu": "100m", "memory": "64Mi"}}
    assert container["image"] == "busybox:1.36"
    assert container["command"][:2] == ["/bin/sh", "-c"]


def test_image_and_placement_settings():
    pod = ALL_PODS[1]
    assert pod["spec"]["containers"][0]["image"] == "registry.example/tools:1"
    assert pod["spec"]["nodeSelector"] == {"pool": "x"}
    assert pod["spec"]["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert "nodeSelector" not in ALL_PODS[0]["spec"] and "tolerations" not in ALL_PODS[0]["spec"]


def test_active_deadline_grows_with_the_worst_case():
    settings = ProbeSettings(timeout=3, tries=3, parallel=8, active_deadline=300)
    assert active_deadline_for(8, settings) == 300  # 1 batch x 3 tries x 6 s + 60 = 78 s: the setting wins
    # 100 probes: 13 batches of 8, each up to 3 tries of (3 s + 3 s of slack): 234 s, plus 60 s to start.
    assert active_deadline_for(100, settings) == 300
    assert active_deadline_for(200, settings) == 25 * 3 * 6 + 60


def test_script_skips_what_cannot_be_probed():
    script = probe_script([probe(0), probe(1, 9000, "UDP", NOT_PROBED), probe(2, ip="")])
    assert "probe 'p0'" in script and "'p1'" not in script and "'p2'" not in script
    assert '"probes":1' in script


# --- the script, run -----------------------------------------------------------------------------------------------
FAKE_NC = textwrap.dedent("""\
    #!/bin/sh
    # A stand-in nc: its behaviour is chosen by the port (the last argument).
    case "$1" in --help) echo "usage: nc [-z] [-v] [-w secs] host port" >&2; exit 1 ;; esac
    for last; do :; done
    case "$last" in
      1001) exit 0 ;;
      1002) echo "nc: 10.0.0.9 (10.0.0.9:1002): Connection refused" >&2; exit 1 ;;
      1003) echo "nc: timed out" >&2; exit 1 ;;
      1004) if [ -e "$STATE/1004" ]; then exit 0; fi; : > "$STATE/1004"; echo "nc: timed out" >&2; exit 1 ;;
      *) echo "nc: bad address" >&2; exit 1 ;;
    esac
    """)
FAKE_NSLOOKUP = textwrap.dedent("""\
    #!/bin/sh
    case "$3" in
      10.0.0.53) printf 'Server: %s\\n\\n** server cannot find x: NXDOMAIN\\n' "$3"; exit 1 ;;
      *) echo ';; connection timed out; no servers could be reached'; exit 1 ;;
    esac
    """)


def run_script(script, path, env=None):
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": path, **(env or {})})
    lines = done.stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_script_classifies_results_and_retries(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("nc", FAKE_NC), ("nslookup", FAKE_NSLOOKUP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    probes = [probe(0, 1001), probe(1, 1002), probe(2, 1003), probe(3, 1004), probe(4, 1005),
              probe(5, 53, "UDP", DNS_QUERY, ip="10.0.0.53"), probe(6, 53, "UDP", DNS_QUERY, ip="10.0.0.54")]
    script = probe_script(probes, ProbeSettings(timeout=1, tries=3, parallel=3))
    records = run_script(script, f"{bin_dir}:/usr/bin:/bin", {"STATE": str(state)})
    assert records[0] == {"netaudit": "probe-start", "probes": 7}
    assert records[-1] == {"netaudit": "probe-done", "probes": 7}
    got = {r["id"]: (r["result"], r["tries"], r["attempts"]) for r in records[1:-1]}
    assert got == {
        "p0": ("connected", 1, ["connected"]),
        "p1": ("refused", 1, ["refused"]),  # an answer: no retry
        "p2": ("timeout", 3, ["timeout", "timeout", "timeout"]),  # dropped on every try
        "p3": ("connected", 2, ["timeout", "connected"]),  # a flake: dropped once, then through
        "p4": ("error", 3, ["error", "error", "error"]),
        "p5": ("connected", 1, ["connected"]),  # any DNS answer, NXDOMAIN too, is a reply
        "p6": ("timeout", 3, ["timeout", "timeout", "timeout"]),
    }
    p1 = next(r for r in records if r.get("id") == "p1")
    assert p1["dst"] == "db/db-0" and p1["ip"] == "10.0.0.9" and p1["protocol"] == "TCP" and p1["port"] == 1002
    assert "Connection refused" in p1["detail"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not shutil.which("busybox"), reason="busybox is not installed")
def test_script_with_busybox_on_loopback(tmp_path):
    """Busybox's own sh, nc and timeout, against a listener and a closed port on 127.0.0.1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    busybox = shutil.which("busybox")
    for applet in ("sh", "nc", "timeout", "date", "grep", "head", "sed", "cut", "true", "false", "nslookup"):
        os.symlink(busybox, bin_dir / applet)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        open_port = listener.getsockname()[1]
        closed_port = _free_port()
        probes = [probe(0, open_port, ip="127.0.0.1"), probe(1, closed_port, ip="127.0.0.1", predicted="denied")]
        script = probe_script(probes, ProbeSettings(timeout=2, tries=2))
        done = subprocess.run([str(bin_dir / "sh"), "-c", script], capture_output=True, text=True, timeout=60,
                              env={"PATH": str(bin_dir)})
    records = {r["id"]: r for r in map(json.loads, done.stdout.splitlines()) if "id" in r}
    assert records["p0"]["result"] == "connected"
    assert records["p1"]["result"] == "refused"
