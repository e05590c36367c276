"""The tier walk with maybes, against a brute force over every way the maybes can turn out.

The engine (evaluate.py) and explain walk port sets or one port with three-valued matches; a policy that maybe
selects an endpoint applies as a whole or not at all. Here random policy sets are built directly in the IR, with
matchers whose answer (yes, no, maybe) is read from a pod label, and each verdict is compared with a naive oracle:
it enumerates every assignment of the maybes (each maybe-selection of a policy and each maybe-match of a rule is
an independent yes/no), walks the tiers forwards, first match wins, as docs/semantics.md CAL-C10 states it, and
calls a port allowed when every world allows it, denied when none does, unknown otherwise (NA-M2, NA-M3).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.engine.classes import build_universe
from auditor.engine.evaluate import Evaluator
from auditor.engine.explain import trace_direction
from auditor.model import ObjectRef
from auditor.policy.ir import ANY, EGRESS, INGRESS, Action, Policy, PolicySet, PortSpec, Rule, Tier
from auditor.sets.ports import PortSet
from auditor.sources.manifests import build_state

PORTS = (1, 2, 3, 4)
KEYS = [f"k{i}" for i in range(8)]


@dataclass(frozen=True)
class LabelTri:
    """Matches pods whose label `key` is "y", maybe-matches those where it is "m"; never an address outside."""

    key: str

    def match(self, ep):
        if ep.external:
            return False
        value = ep.labels.get(self.key)
        return True if value == "y" else None if value == "m" else False

    def describe(self) -> str:
        return f"label {self.key}"

    @property
    def pod_label_keys(self) -> frozenset[str]:
        return frozenset([self.key])

    @property
    def unknown_reasons(self) -> frozenset[str]:
        return frozenset([f"{self.key} is maybe"])


def _tri(matcher, info):
    return True if matcher is ANY else matcher.match(info)


def _oracle(policies: PolicySet, local, peer, direction: str) -> dict[int, str]:
    tiers = sorted(policies.tiers.values(), key=lambda t: t.sort_key)
    variables = []  # (kind, policy index, rule index)
    for i, policy in enumerate(policies.policies):
        rules = policy.rules(direction)
        if rules is None:
            continue
        if policy.selector.match(local) is None:
            variables.append(("sel", i, None))
        for j, rule in enumerate(rules):
            a, b = _tri(rule.local, local), rule.peer.match(peer)
            if a is not False and b is not False and (a is None or b is None):
                variables.append(("rule", i, j))
    results: dict[int, set[str]] = {port: set() for port in PORTS}
    for values in itertools.product((False, True), repeat=len(variables)):
        world = dict(zip(variables, values))
        for port in PORTS:
            results[port].add(_walk_world(policies, tiers, local, peer, direction, world, port))
    return {port: "allowed" if got == {"Allow"} else "denied" if got == {"Deny"} else "unknown"
            for port, got in results.items()}


def _walk_world(policies, tiers, local, peer, direction, world, port) -> str:
    for tier in tiers:
        selected = []
        for i, policy in enumerate(policies.policies):
            if policy.tier != tier.name or policy.rules(direction) is None:
                continue
            sel = policy.selector.match(local)
            if sel is True or (sel is None and world[("sel", i, None)]):
                selected.append((i, policy))
        if not selected:
            continue
        selected.sort(key=lambda item: item[1].sort_key)
        decided = None
        for i, policy in selected:
            for j, rule in enumerate(policy.rules(direction)):
                a, b = _tri(rule.local, local), rule.peer.match(peer)
                if a is False or b is False:
                    continue
                if (a is None or b is None) and not world[("rule", i, j)]:
                    continue
                if port not in _ports(rule) or rule.action is Action.LOG:
                    continue
                decided = rule.action
                break
            if decided is not None:
                break
        if decided is None:
            decided = tier.default_action
        if decided is Action.PASS:
            continue
        return decided.value
    return "Allow"  # past the last tier: the namespace profile


def _ports(rule: Rule) -> set[int]:
    return {p for p in PORTS if PortSet.ports("TCP", p) <= rule.ports.numeric}


tri_labels = st.sampled_from(["y", "m", "n"])
pods = st.lists(st.dictionaries(st.sampled_from(KEYS), tri_labels, max_size=len(KEYS)), min_size=2, max_size=4)
port_sets = st.sets(st.sampled_from(PORTS), max_size=4).map(
    lambda ports: PortSet.all() if not ports else _union(ports))


def _union(ports):
    result = PortSet.empty()
    for p in ports:
        result = result | PortSet.ports("TCP", p)
    return result


rules = st.builds(
    lambda action, peer, local, ports: (action, peer, local, ports),
    st.sampled_from([Action.ALLOW, Action.DENY, Action.PASS, Action.LOG]),
    st.one_of(st.just(ANY), st.sampled_from(KEYS).map(LabelTri)),
    st.one_of(st.just(ANY), st.just(ANY), st.sampled_from(KEYS).map(LabelTri)),
    port_sets,
)
policy_specs = st.lists(
    st.tuples(st.sampled_from(["t1", "t2", "default"]), st.one_of(st.none(), st.integers(0, 3)),
              st.one_of(st.just(ANY), st.sampled_from(KEYS).map(LabelTri)),
              st.lists(rules, max_size=3), st.booleans()),
    min_size=1, max_size=4)


def _build(pod_labels, specs, tier_defaults):
    docs = [({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, "t")]
    for n, labels in enumerate(pod_labels):
        docs.append(({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{n}", "namespace": "x",
                                                                      "labels": labels},
                      "spec": {"containers": [{"name": "c", "image": "i"}]},
                      "status": {"podIP": f"10.0.0.{n + 1}"}}, "t"))
    state = build_state(docs)
    tiers = {"default": Tier("default", 1_000_000.0, Action.DENY),
             "t1": Tier("t1", 10.0, tier_defaults[0]), "t2": Tier("t2", 20.0, tier_defaults[1])}
    policies = []
    for n, (tier, order, selector, raw_rules, ingress) in enumerate(specs):
        built = tuple(Rule(action, peer, PortSpec(ports), local=local, index=j)
                      for j, (action, peer, local, ports) in enumerate(raw_rules))
        policies.append(Policy(ObjectRef("GlobalNetworkPolicy", f"p{n}", None, "t"), tier,
                               float(order) if order is not None else None, selector,
                               built if ingress else None, None if ingress else built, name=f"p{n}"))
    policy_set = PolicySet(tiers, policies)
    return state, policy_set


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pods, policy_specs, st.tuples(st.sampled_from([Action.DENY, Action.PASS]),
                                     st.sampled_from([Action.DENY, Action.PASS])))
def test_walk_and_explain_equal_the_brute_force_over_maybes(pod_labels, specs, tier_defaults):
    state, policies = _build(pod_labels, specs, tier_defaults)
    universe = build_universe(state, policies)
    evaluator = Evaluator(universe, policies)
    for direction in (INGRESS, EGRESS):
        applicable = evaluator.applicable_by_class(direction)
        for local in universe.classes[:universe.pod_count]:
            apps = applicable.get(local.index, ())
            for peer in universe.classes:
                want = _oracle(policies, local.info, peer.info, direction)
                destination = peer.info if direction == EGRESS else local.info
                allowed, unknown, _ = evaluator.walk(apps, direction, peer.index, destination) if apps else (
                    PortSet.all(), PortSet.empty(), frozenset())
                for port in PORTS:
                    probe = PortSet.ports("TCP", port)
                    got = "allowed" if probe <= allowed else "unknown" if probe & unknown else "denied"
                    assert got == want[port], f"{direction} {local.index}<-{peer.index} port {port}: engine {got}, " \
                                              f"brute force {want[port]}"
                    traced = trace_direction(evaluator, direction, "l", apps, peer.index, destination, probe).verdict
                    assert traced == want[port], f"{direction} {local.index}<-{peer.index} port {port}: explain " \
                                                 f"{traced}, brute force {want[port]}"


def test_a_maybe_selected_policy_whose_rule_admits_the_flow_allows_it():
    # The case the old walk got wrong: rules of a maybe-selected policy were independent maybes.
    state, policies = _build([{"k0": "m"}, {}], [("default", 1, LabelTri("k0"), [(Action.ALLOW, ANY, ANY,
                                                                                      _union([1]))], True)],
                             (Action.DENY, Action.DENY))
    universe = build_universe(state, policies)
    evaluator = Evaluator(universe, policies)
    local = universe.class_of_pod["x/p0"]
    apps = evaluator.applicable_by_class(INGRESS)[local]
    allowed, unknown, _ = evaluator.walk(apps, INGRESS, universe.class_of_pod["x/p1"], universe.classes[local].info)
    assert PortSet.ports("TCP", 1) <= allowed
    assert PortSet.ports("TCP", 2) <= unknown
