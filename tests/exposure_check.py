"""The exactness check of exposure against the matrix's one-direction verdicts (used by unit and conformance tests).

For every pod class, direction and existing peer class (pods, and addresses outside the cluster), the ports the
Exposure document's entries give that peer (read by tests/exposure_reader.py, as the contract words it) must equal
what the engine's tier walk allows that peer in that direction alone: no more, no less.
"""

from __future__ import annotations

from auditor.engine.evaluate import direction_verdicts, unknown_reasons
from auditor.engine.exposure import exposure_view
from auditor.policy.calico import MAY_NOT_APPLY
from auditor.policy.ir import EGRESS, INGRESS
from auditor.report.exposure import exposure_document
from auditor.sets.ports import PortSet
from tests.exposure_reader import PeerFacts, covered


def facts_of_class(cls) -> PeerFacts:
    info = cls.info
    if cls.region is not None:
        address = info.addresses.networks()[0].network_address
        return PeerFacts(ips=(str(address),))
    pod = cls.pods[0]
    return PeerFacts(namespace=info.namespace, namespace_labels=dict(info.namespace_labels),
                     labels=dict(pod.labels), service_account=info.service_account or "default",
                     service_account_labels=dict(info.service_account_labels), ips=tuple(pod.ips),
                     host_network=info.host_network, named_ports=tuple(info.named_ports))


def only(ports: PortSet, protocols) -> PortSet:
    return PortSet({p: ports.get(p) for p in protocols})


def exactness_failures(analysis, limit: int = 10) -> list[str]:
    document = exposure_document(exposure_view(analysis, "pod"))
    uni = analysis.universe
    protocols = analysis.protocols
    # A Calico policy that cannot be validated may not apply at all (Felix drops it). The matrix joins "applies"
    # and "absent" port by port; exposure keeps them as separate maybes, so there it may say unknown where the
    # matrix can tell (never more allowed, never less exposed): a known loss of precision (docs/exposure.md).
    whole_policy_maybe = any(MAY_NOT_APPLY in reason for policy in analysis.policies.policies
                             for reason in unknown_reasons(policy.selector))
    facts = [facts_of_class(c) for c in uni.classes]
    failures = []
    for direction in (INGRESS, EGRESS):
        for verdict in direction_verdicts(analysis.evaluator, direction):
            for local in uni.indices(verdict.members):
                endpoint = uni.classes[local].pods[0].id
                for group in verdict.groups:
                    for peer in uni.indices(group.mask):
                        allowed, unknown = covered(document, endpoint, direction, facts[peer])
                        want = only(group.allowed, protocols)
                        got = only(allowed, protocols)
                        if group.unknown:
                            # Where the matrix cannot tell, exposure must not claim more than it may allow.
                            ok = got <= want | only(group.unknown, protocols)
                        elif whole_policy_maybe:
                            ok = got <= want <= got | only(unknown, protocols)
                        else:
                            ok = got == want and not only(unknown, protocols)
                        if not ok:
                            cls = uni.classes[peer]
                            name = cls.pods[0].id if cls.pods else cls.region.id
                            failures.append(f"{endpoint} {direction} peer {name}: "
                                            f"exposure {got} (unknown {only(unknown, protocols)}), matrix {want}"
                                            f" (unknown {group.unknown})")
                            if len(failures) >= limit:
                                return failures
    return failures
