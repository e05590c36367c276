"""The local Calico node's pure parts (tools/calico_node): names, manifest conversion, and when it cannot run."""

from __future__ import annotations

import json

import pytest

from tools.calico_node import node as calico_node
from tools.calico_node.agent import veth_name
from tools.calico_node.manifests import IP_ANNOTATION, Unsupported, to_node


def test_veth_name_is_calicos():
    # libcalico-go/lib/backend/k8s/conversion/conversion_test.go: pod default/podA -> cali7f94ce7c295
    assert veth_name("default", "podA") == "cali7f94ce7c295"


def test_not_root_is_a_reason(monkeypatch):
    monkeypatch.setattr(calico_node.os, "geteuid", lambda: 1000)
    assert "needs root" in calico_node.unavailable()


def test_missing_commands_are_named(monkeypatch):
    monkeypatch.setattr(calico_node.os, "geteuid", lambda: 0)
    monkeypatch.setattr(calico_node.shutil, "which", lambda c: None if c in ("ipset", "busybox") else f"/usr/bin/{c}")
    reason = calico_node.unavailable()
    assert "ipset" in reason and "busybox" in reason and "make test-deps" in reason


def test_v3_policies_are_stored_as_calicoctl_v3_28_stores_them():
    docs = [{"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x"},
             "spec": {"selector": "all()", "egress": [{"action": "Allow"}]}},
            {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet", "metadata": {"name": "s"},
             "spec": {"nets": ["192.0.2.0/24"]}}]
    objs = {o["kind"]: o for o in to_node(docs).objects}
    policy = objs["NetworkPolicy"]
    assert policy["apiVersion"] == "crd.projectcalico.org/v1"
    assert policy["metadata"]["name"] == "default.p"  # convertPolicyNameForStorage
    assert policy["spec"]["types"] == ["Egress"]  # defaultPolicyTypesField: egress rules only
    assert objs["GlobalNetworkSet"]["metadata"]["name"] == "s"
    assert objs["Namespace"]["metadata"]["name"] == "x"  # made, as the policy's namespace was not declared


def test_pods_keep_their_ipv4_address_through_the_cni_annotation():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"},
           "spec": {"nodeName": "elsewhere", "containers": [{"name": "c", "image": "nginx"}]},
           "status": {"podIP": "fd00::1", "podIPs": [{"ip": "fd00::1"}, {"ip": "10.0.0.5"}]}}
    out = next(o for o in to_node([pod]).objects if o["kind"] == "Pod")
    assert json.loads(out["metadata"]["annotations"][IP_ANNOTATION]) == ["10.0.0.5"]
    assert "status" not in out and "nodeName" not in out["spec"]


def test_a_workload_becomes_one_pod_named_after_it():
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "x"},
              "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    pods = [o for o in to_node([deploy]).objects if o["kind"] == "Pod"]
    assert [(p["metadata"]["name"], p["metadata"]["labels"]) for p in pods] == [("web", {"app": "web"})]


@pytest.mark.parametrize("kind", ["Tier", "StagedNetworkPolicy", "AdminNetworkPolicy", "HostEndpoint"])
def test_what_calico_v3_28_cannot_take_is_refused_with_the_reason(kind):
    with pytest.raises(Unsupported):
        to_node([{"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": "t"}, "spec": {}}])


def test_host_network_pods_are_refused():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h", "namespace": "x"},
           "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx"}]}}
    with pytest.raises(Unsupported, match="host-network"):
        to_node([pod])
