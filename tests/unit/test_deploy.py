"""deploy/: the CronJob's read-only ClusterRole is rbac.yaml's, and its pod meets the restricted Pod Security
Standard (checked rule by rule, kubernetes.io/docs/concepts/security/pod-security-standards/)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def docs(name):
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_cronjob_clusterrole_equals_rbac_yaml():
    rbac = next(d for d in docs("rbac.yaml") if d["kind"] == "ClusterRole")
    cron = next(d for d in docs("cronjob.yaml") if d["kind"] == "ClusterRole")
    assert cron["rules"] == rbac["rules"] and cron["metadata"]["name"] == rbac["metadata"]["name"]


def test_read_only_role_has_no_write_verbs():
    role = next(d for d in docs("rbac.yaml") if d["kind"] == "ClusterRole")
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs <= {"get", "list"}


def test_cronjob_pod_is_restricted():
    cron = next(d for d in docs("cronjob.yaml") if d["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
        assert sc.get("privileged") is not True and sc["readOnlyRootFilesystem"] is True
        assert "limits" in container["resources"]
    ns = next(d for d in docs("cronjob.yaml") if d["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_store_role_is_limited_to_its_configmap():
    role = next(d for d in docs("cronjob.yaml") if d["kind"] == "Role")
    for rule in role["rules"]:
        assert rule["resources"] == ["configmaps"]
        if set(rule["verbs"]) & {"get", "update"}:
            assert rule["resourceNames"] == ["netaudit-baseline"]
