"""Exposure (auditor/engine/exposure.py): exact against the pods that exist, and right about pods to come.

The exactness properties read the Exposure document the way its contract words it (tests/exposure_reader.py) and
compare, peer by peer, with (a) the naive Kubernetes oracle (tests/oracle_k8s.py) port by port, and (b) the
engine's one-direction verdicts on every port. The hand-written cases state what a future pod is exposed to.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from auditor.analysis import analyze
from auditor.engine.exposure import exposure_view
from auditor.report.exposure import exposure_document
from auditor.sets.ports import PortSet
from auditor.sources.manifests import build_state
from tests.exposure_check import exactness_failures
from tests.exposure_reader import PeerFacts, covered
from tests.oracle_k8s import Oracle
from tests.strategies import CHECK_PORTS, EXTERNAL_IPS, clusters, layered_clusters

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _analysis(objects):
    return analyze(build_state([(o, "generated") for o in objects]))


def _facts(objects) -> dict[str, PeerFacts]:
    ns_labels = {o["metadata"]["name"]: dict(o["metadata"].get("labels") or {}) for o in objects
                 if o["kind"] == "Namespace"}
    out = {}
    for obj in objects:
        if obj["kind"] != "Pod":
            continue
        meta, spec = obj["metadata"], obj["spec"]
        ip = (obj.get("status") or {}).get("podIP")
        named = tuple((p["name"], p.get("protocol") or "TCP", p["containerPort"])
                      for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("name"))
        out[f"{meta['namespace']}/{meta['name']}"] = PeerFacts(
            namespace=meta["namespace"], namespace_labels=ns_labels.get(meta["namespace"], {}),
            labels=dict(meta.get("labels") or {}), service_account=spec.get("serviceAccountName") or "default",
            ips=(ip,) if ip else (), host_network=bool(spec.get("hostNetwork")), named_ports=named)
    for text in EXTERNAL_IPS:
        out[text] = PeerFacts(ips=(text[3:],))
    return out


@SETTINGS
@given(clusters())
def test_exposure_agrees_with_the_naive_oracle_for_every_existing_peer(objects):
    """For each pod, direction, existing peer (pods and outside addresses) and port: the entries that cover the
    peer open the port exactly when the oracle's one-direction reading of the policies allows it."""
    document = exposure_document(exposure_view(_analysis(objects), "pod"))
    oracle = Oracle(objects)
    facts = _facts(objects)
    pods = [p for p in facts if not p.startswith("ip:")]
    for local in pods:
        for other, other_facts in facts.items():
            for direction, key in (("Ingress", "ingress"), ("Egress", "egress")):
                allowed, unknown = covered(document, local, key, other_facts)
                assert not unknown, f"{local} {key} {other}: unknown {unknown} in a cluster with nothing unknown"
                dst = local if direction == "Ingress" else other
                for proto, port in CHECK_PORTS:
                    want = oracle._direction_allows(local, other, direction, proto, port, dst)
                    got = PortSet.ports(proto, port) <= allowed
                    assert got == want, f"{local} {key} {other} {port}/{proto}: exposure {got}, oracle {want}"


@SETTINGS
@given(clusters())
def test_exposure_equals_the_engines_one_direction_verdicts_on_every_port(objects):
    failures = exactness_failures(_analysis(objects))
    assert not failures, "\n".join(failures)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layered_clusters())
def test_exposure_is_exact_with_admin_policies_calico_tiers_denies_and_passes(objects):
    """Denies and passes cut what later rules allow: the entries, with their `unless`, still give every existing
    peer exactly what the engine's tier walk allows it."""
    failures = exactness_failures(_analysis(objects))
    assert not failures, "\n".join(failures)
