"""Equal-order tie-breaks, where Felix's policy names decide: checked on the dataplane, then against netaudit.

Felix sorts the policies of a tier by order, then by the name of the policy's key (felix/calc/policy_sorter.go,
PolKVLess). That key is not the name a user writes (libcalico-go, calico v3.28 branch):
- calicoctl stores a projectcalico.org/v3 NetworkPolicy or GlobalNetworkPolicy `foo` of the default tier as the
  CRD `default.foo` (lib/clientv3/globalnetworkpolicy.go, convertPolicyNameForStorage);
- the syncer keys a namespaced policy as `<namespace>/<stored name>` and a global one as `<stored name>`
  (lib/backend/syncersv1/updateprocessors/networkpolicyprocessor.go, convertNetworkPolicyV2ToV1Key;
  globalnetworkpolicyprocessor.go);
- a Kubernetes NetworkPolicy `bar` becomes `<namespace>/knp.default.bar`, order 1000.
So in namespace `zoo`, "zoo/default.allow" sorts after the global "default.deny" (z > d), and "zoo/default.zz-deny"
sorts before "zoo/knp.default.allow" (d < k), whatever the written names suggest. The expected verdicts below are
worked out from those rules by hand; the dataplane must show them, and netaudit must predict them, both from the
live cluster and from the v3 manifests as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auditor import analysis as netaudit

from . import probe
from .cluster import to_node
from .probe import OPEN, Endpoint, Flow

PODS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "zoo"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "zoo", "labels": {"app": "client"}},
     "spec": {"containers": [{"name": "c", "image": "curl"}]}, "status": {"podIP": "10.9.0.1"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "zoo", "labels": {"app": "web"}},
     "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"podIP": "10.9.0.2"}},
]


def _calico(kind: str, name: str, action: str, namespace: str | None = None) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta,
            "spec": {"order": 1000, "selector": "app == 'web'", "types": ["Ingress"],
                     "ingress": [{"action": action, "source": {"selector": "app == 'client'"}}]}}


SCENARIOS = {
    # "zoo/default.allow" (NetworkPolicy) vs "default.deny" (GlobalNetworkPolicy): the global one runs first.
    "namespaced-vs-global": ([_calico("NetworkPolicy", "allow", "Allow", "zoo"),
                              _calico("GlobalNetworkPolicy", "deny", "Deny")], "denied"),
    # "zoo/default.zz-deny" (Calico) vs "zoo/knp.default.allow" (Kubernetes): the Calico one runs first.
    "calico-vs-kubernetes": ([_calico("NetworkPolicy", "zz-deny", "Deny", "zoo"),
                              {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                               "metadata": {"name": "allow", "namespace": "zoo"},
                               "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}}],
                             "denied"),
}


def _verdict(analysis, src: str, dst: str, port: int) -> str:
    conn = {(c.src, c.dst): c for c in analysis.matrix_view("pod").connections}.get((src, dst))
    if conn is None:
        return "denied"
    if conn.allowed.contains("TCP", port):
        return "allowed"
    return "unknown" if conn.unknown.contains("TCP", port) else "denied"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_equal_order_tie_break(scenario: str, calico_node, applier, tmp_path: Path):
    policies, expected = SCENARIOS[scenario]
    case = to_node({"name": scenario, "objects": PODS + policies}, tmp_path / "case.yaml")
    applier.apply(case)
    ips = applier.wait_ready(case)
    with calico_node.agent.lock:
        client = next(rt for rt in calico_node.agent.pods.values() if rt.name == "client")
    flow = Flow("zoo/client", "zoo/web", "TCP", 80)
    seen = probe.run([(flow, Endpoint(client.netns, ips["zoo/client"], False), ips["zoo/web"])], 2.0)[flow]
    felix = "allowed" if seen in OPEN else "denied"
    assert felix == expected, f"Felix: {seen}; expected {expected} from Felix's sort keys (see the docstring)"
    live = _verdict(netaudit.analyze(netaudit.load(kubeconfig=calico_node.kubeconfig)), "zoo/client", "zoo/web", 80)
    assert live == expected, f"Felix {felix}; netaudit on the live cluster: {live}"


# Cases where netaudit's reading of the v3 manifests is known to differ from Felix (strict xfail). Empty: v3 policies
# of the default tier are ordered by their stored name `default.<name>` up to v3.31 (calico/storage_name).
MANIFEST_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize("scenario", [
    pytest.param(name, marks=[pytest.mark.xfail(reason=MANIFEST_XFAIL[name], strict=True)] if name in MANIFEST_XFAIL
                 else []) for name in sorted(SCENARIOS)])
def test_equal_order_tie_break_from_v3_manifests(scenario: str, tmp_path: Path):
    """The same clusters as written (v3 names), read offline: the prediction must be what Felix does."""
    policies, expected = SCENARIOS[scenario]
    manifest = tmp_path / "manifests.yaml"
    manifest.write_text(yaml.safe_dump_all(PODS + policies))
    offline = _verdict(netaudit.analyze(netaudit.load(manifests=[str(manifest)])), "zoo/client", "zoo/web", 80)
    assert offline == expected
