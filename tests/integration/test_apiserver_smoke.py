"""The integration fixture is a real API server: objects round-trip, the server defaults and validates,
status goes through the status subresource, CRDs are served, and RBAC is enforced."""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config import new_client_from_config


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _namespace(kube, prefix: str = "smoke") -> str:
    """A fresh namespace (namespaces are never deleted: no controller would finish the deletion)."""
    name = _name(prefix)
    client.CoreV1Api(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def test_server_is_the_pinned_release(kube):
    info = client.VersionApi(kube).get_code()
    assert info.git_version.startswith("v1.")
    assert info.major == "1" and info.minor.isdigit()


def test_admin_is_system_masters(kube):
    review = client.AuthenticationV1Api(kube).create_self_subject_review(
        client.V1SelfSubjectReview(metadata=client.V1ObjectMeta()))
    assert review.status.user_info.username == "netaudit-admin"
    assert "system:masters" in review.status.user_info.groups


def test_pod_status_is_written_through_the_status_subresource(kube):
    core = client.CoreV1Api(kube)
    ns = _namespace(kube)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1PodSpec(
            node_name="node-a",  # no scheduler runs: bind it at creation
            containers=[client.V1Container(name="web", image="nginx:1.27",
                                           ports=[client.V1ContainerPort(name="http", container_port=8080)])]),
    )
    created = core.create_namespaced_pod(ns, pod)
    assert created.status.phase == "Pending"  # nothing runs it

    status = {"status": {
        "phase": "Running",
        "hostIP": "192.0.2.10",
        "podIP": "10.244.1.5",
        "podIPs": [{"ip": "10.244.1.5"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }}
    core.patch_namespaced_pod_status("web", ns, status)

    got = core.read_namespaced_pod("web", ns)
    assert got.status.phase == "Running"
    assert got.status.pod_ip == "10.244.1.5"
    # podIPs by its wire name: the client's attribute for it changed across kubernetes client releases
    assert kube.sanitize_for_serialization(got)["status"]["podIPs"] == [{"ip": "10.244.1.5"}]
    assert any(c.type == "Ready" and c.status == "True" for c in got.status.conditions)
    assert got.spec.containers[0].ports[0].name == "http"
    # The main resource ignores status: a plain patch of it does not change the phase.
    core.patch_namespaced_pod("web", ns, {"metadata": {"labels": {"tier": "front"}}, "status": {"phase": "Failed"}})
    assert core.read_namespaced_pod("web", ns).status.phase == "Running"


def test_calico_and_admin_network_policy_custom_resources(kube):
    custom = client.CustomObjectsApi(kube)
    gnp_name = _name("gnp")
    gnp = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": gnp_name},
        "spec": {"order": 100, "selector": "app == 'web'", "types": ["Ingress"],
                 "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}]},
    }
    custom.create_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies", gnp)
    gnps = custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]
    got = next(i for i in gnps if i["metadata"]["name"] == gnp_name)
    assert got["spec"] == gnp["spec"]  # unknown fields preserved as written

    anp_name = _name("anp")
    anp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": anp_name},
        "spec": {"priority": 10, "subject": {"namespaces": {}},
                 "ingress": [{"name": "deny-all", "action": "Deny", "from": [{"namespaces": {}}]}]},
    }
    custom.create_cluster_custom_object("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", anp)
    anps = custom.list_cluster_custom_object("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies")["items"]
    assert anp_name in [i["metadata"]["name"] for i in anps]

    ns = _namespace(kube)
    custom.create_namespaced_custom_object(
        "crd.projectcalico.org", "v1", ns, "networkpolicies",
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
         "spec": {"selector": "all()", "types": ["Egress"], "egress": [{"action": "Deny"}]}})
    assert custom.get_namespaced_custom_object("crd.projectcalico.org", "v1", ns, "networkpolicies", "np")["spec"][
        "types"] == ["Egress"]


def test_every_crd_is_served(apiserver):
    groups = {
        "crd.projectcalico.org/v1": {
            "networkpolicies", "globalnetworkpolicies", "networksets", "globalnetworksets", "tiers",
            "clusterinformations", "stagednetworkpolicies", "stagedglobalnetworkpolicies",
            "stagedkubernetesnetworkpolicies", "hostendpoints"},
        "policy.networking.k8s.io/v1alpha1": {"adminnetworkpolicies", "baselineadminnetworkpolicies"},
        "policy.networking.k8s.io/v1alpha2": {"clusternetworkpolicies"},
    }
    for group_version, plurals in groups.items():
        status, body = apiserver.request("GET", f"/apis/{group_version}")
        assert status == 200, body
        assert plurals <= {r["name"] for r in body["resources"]}


def test_baseline_admin_network_policy_must_be_named_default(kube):
    custom = client.CustomObjectsApi(kube)
    banp = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
            "metadata": {"name": "not-default"}, "spec": {"subject": {"namespaces": {}}}}
    with pytest.raises(ApiException) as e:
        custom.create_cluster_custom_object("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies",
                                            banp)
    assert e.value.status == 422


def test_server_defaults_network_policy_types(kube):
    net = client.NetworkingV1Api(kube)
    ns = _namespace(kube)
    ingress_only = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "ingress-only"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                 "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080}]}]},
    }
    created = net.create_namespaced_network_policy(ns, ingress_only)
    assert created.spec.policy_types == ["Ingress"]
    assert created.spec.ingress[0].ports[0].protocol == "TCP"  # defaulted too

    with_egress = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "with-egress"},
        "spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    }
    assert net.create_namespaced_network_policy(ns, with_egress).spec.policy_types == ["Ingress", "Egress"]

    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bad"},
           "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "not-a-cidr"}}]}]}}
    with pytest.raises(ApiException) as e:
        net.create_namespaced_network_policy(ns, bad)
    assert e.value.status == 422


def _sa_identity(ns: str, name: str) -> tuple[str, list[str]]:
    return (f"system:serviceaccount:{ns}:{name}",
            ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"])


def _grant_pod_reader(kube, ns: str, sa: str) -> None:
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(ns, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]})
    rbac.create_namespaced_role_binding(ns, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "pod-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})


def test_rbac_denies_an_unbound_service_account_token(apiserver, kube):
    ns = _namespace(kube, "rbac")
    kubeconfig = apiserver.service_account_kubeconfig(ns, "nobody")
    sa = new_client_from_config(config_file=kubeconfig, context="netaudit-test")
    try:
        review = client.AuthenticationV1Api(sa).create_self_subject_review(
            client.V1SelfSubjectReview(metadata=client.V1ObjectMeta()))
        user, groups = _sa_identity(ns, "nobody")
        assert review.status.user_info.username == user
        assert set(groups) <= set(review.status.user_info.groups)

        with pytest.raises(ApiException) as e:
            client.CoreV1Api(sa).list_namespaced_pod(ns)
        assert e.value.status == 403
        with pytest.raises(ApiException) as e:
            client.CoreV1Api(sa).list_pod_for_all_namespaces()
        assert e.value.status == 403

        _grant_pod_reader(kube, ns, "nobody")  # the 403 was authorization: a binding lifts it
        assert client.CoreV1Api(sa).list_namespaced_pod(ns).items == []
        with pytest.raises(ApiException) as e:
            client.NetworkingV1Api(sa).list_namespaced_network_policy(ns)
        assert e.value.status == 403
    finally:
        sa.close()


def test_rbac_denies_an_impersonated_service_account(apiserver, kube):
    ns = _namespace(kube, "imp")
    user, groups = _sa_identity(ns, "nobody")
    imp = apiserver.impersonated_client(user, groups)
    try:
        review = client.AuthenticationV1Api(imp).create_self_subject_review(
            client.V1SelfSubjectReview(metadata=client.V1ObjectMeta()))
        assert review.status.user_info.username == user
        assert set(review.status.user_info.groups) == set(groups)  # every group went through, one header each

        with pytest.raises(ApiException) as e:
            client.CoreV1Api(imp).list_namespaced_pod(ns)
        assert e.value.status == 403
        assert "system:serviceaccount:" in json.loads(e.value.body)["message"]

        _grant_pod_reader(kube, ns, "nobody")
        assert client.CoreV1Api(imp).list_namespaced_pod(ns).items == []
    finally:
        imp.close()


def test_impersonation_kubeconfig_carries_as_fields(apiserver):
    user, groups = _sa_identity("team-a", "auditor")
    path = apiserver.impersonation_kubeconfig(user, groups)
    with open(path) as f:
        cfg = json.load(f)
    assert cfg["current-context"] == "netaudit-test"
    entry = cfg["users"][0]["user"]
    assert entry["as"] == user and entry["as-groups"] == groups
    assert entry["client-certificate-data"] and entry["client-key-data"]
    assert cfg["clusters"][0]["cluster"]["server"] == apiserver.url
