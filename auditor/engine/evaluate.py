"""Verdicts per direction and the class-level connectivity matrix. Pure functions of (Universe, PolicySet).

The walk (DESIGN.md, docs/semantics.md CAL-C10), per endpoint and direction: tiers in order; in a tier the
first matching rule of the applicable policies decides (Allow/Deny end, Pass jumps to the next tier, Log
continues); a tier that selected the endpoint but matched no rule applies its default action; no applicable tier, or
a Pass out of the last one, is allowed (Calico's namespace profile).

Two things make it exact and cheap:
- Ports are sets. A tier is walked *backwards* over its rules, keeping for every port the outcome it would get:
  a rule that surely matches sets the outcome of its ports; a rule that may match (something unknown) keeps its
  action where the later rules agree with it and makes the rest `unknown`. One pass gives the exact first-match
  result for every port at once, and three-valued logic costs nothing extra.
- Peers are bitmasks. The rules that apply to an endpoint split the peer classes into groups that every rule
  treats alike; each group is walked once. Endpoints with the same applicable policies share the result, and the
  matrix is assembled from (egress term x ingress term) blocks, so cost grows with classes and rules.

A verdict's disjoint groups ("peers in this group get exactly these ports") are rewritten as a *union of terms*
("peers in this set get at least these ports") wherever no port is unknown: the peers allowed a port are then the
union of the groups that allow it, which is the set the rules named (all pods; the pods of team=a), not the
fragments left after the other rules cut it up ("all pods but team=a"). Blocks are products of terms, so they may
overlap: a class pair has the union of the blocks that cover it. That keeps grouped output small and readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..policy.ir import (
    ANY,
    EGRESS,
    INGRESS,
    Action,
    AllOf,
    AnyEndpoint,
    AnyOf,
    EndpointInfo,
    NoEndpoint,
    PodSelection,
    Policy,
    PolicySet,
    Tier,
    Tri,
    UnknownEndpoint,
    tri_and,
)
from ..sets.ports import NONE, PortSet, port_atoms
from .classes import Universe, pod_label_keys
from .selection import ClassIndex, select

ALL = PortSet.all()


@dataclass(frozen=True)
class PeerVerdict:
    """For one endpoint and direction: what peers in `mask` may exchange with it."""

    mask: int
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str] = frozenset()


@dataclass
class DirectionVerdict:
    """The verdict of one direction for every endpoint class that shares the same applicable policies."""

    direction: str
    members: int  # mask of endpoint classes this verdict belongs to
    groups: list[PeerVerdict]  # disjoint: each peer class is in exactly one group

    @property
    def terms(self) -> list[PeerVerdict]:
        """The same verdict as a union of terms (a peer gets the union of the terms that hold it); the disjoint
        groups themselves when some port is unknown, so allowed and unknown never overlap for a pair."""
        cached = self.__dict__.get("_terms")
        if cached is None:
            cached = self.__dict__["_terms"] = union_terms(self.groups)
        return cached


def union_terms(groups: list[PeerVerdict]) -> list[PeerVerdict]:
    """Rewrite disjoint (peers, exact ports) groups as (peers, ports) terms whose union per peer is the same."""
    if any(g.unknown for g in groups) or len(groups) < 2:
        return [g for g in groups if g.allowed or g.unknown]
    by_mask: dict[int, PortSet] = {}
    for atom, holders in port_atoms([g.allowed for g in groups]):
        mask = 0
        for i in holders:
            mask |= groups[i].mask
        by_mask[mask] = by_mask.get(mask, NONE) | atom
    return [PeerVerdict(mask, ports, NONE) for mask, ports in by_mask.items()]


@dataclass(frozen=True)
class Block:
    """Every (src class, dst class) pair in src_mask x dst_mask has at least these allowed / unknown sets.

    Blocks may overlap: a pair's verdict is the union of the blocks that cover it (its unknown ports never overlap
    its allowed ones; see `DirectionVerdict.terms`). A pair no block covers has nothing.
    """

    src_mask: int
    dst_mask: int
    allowed: PortSet
    unknown: PortSet
    reasons: frozenset[str] = frozenset()


@dataclass
class ClassMatrix:
    universe: Universe
    blocks: list[Block]
    verdicts: dict[str, list[DirectionVerdict]] = field(default_factory=dict)
    evaluator: "Evaluator | None" = None  # kept so explain and checks reuse its caches


@dataclass(frozen=True)
class Applicable:
    """A policy that (maybe) selects the endpoint, with its rules' local-side conditions already decided."""

    policy: Policy
    selected: Tri
    local: tuple[Tri, ...]  # per rule: the rule's `local` condition on this endpoint
    why: frozenset[str] = frozenset()  # why `selected` or a `local` is a maybe because of the endpoint itself


def unknown_reasons(matcher) -> frozenset[str]:
    if isinstance(matcher, UnknownEndpoint):
        return frozenset([matcher.reason])
    if isinstance(matcher, AnyOf):
        return frozenset().union(*(unknown_reasons(m) for m in matcher.options))
    if isinstance(matcher, AllOf):
        return frozenset().union(*(unknown_reasons(m) for m in matcher.parts))
    return getattr(matcher, "unknown_reasons", frozenset())


class Evaluator:
    """Evaluates one PolicySet over one Universe; caches matcher masks and per-key verdicts."""

    def __init__(self, universe: Universe, policies: PolicySet, *, include_staged: bool = False):
        self.universe = universe
        self.host_endpoints = policies.host_endpoints
        self.policies = [p for p in policies.policies if include_staged or not p.staged]
        self.tiers = {t.name: t for t in policies.ordered_tiers()}
        tier_rank = {name: i for i, name in enumerate(self.tiers)}
        self.policies.sort(key=lambda p: (tier_rank.get(p.tier, len(tier_rank)), p.sort_key))
        self._masks: dict = {}
        self._applicable: dict[str, dict[int, tuple[Applicable, ...]]] = {}

    # --- matcher masks -----------------------------------------------------------------------------------------
    def mask(self, matcher) -> tuple[int, int]:
        """(surely-matching classes, maybe-matching classes) of a matcher, as bitmasks.

        Answered from the class index (a few bitmask operations) where the matcher has a fast path, else by
        asking the matcher about each candidate class.
        """
        cached = self._masks.get(matcher)
        if cached is not None:
            return cached
        result = select(self.index, matcher, self.mask)
        if result is None:
            result = self._mask_by_class(matcher)
        if self.universe.uncertain_mask:
            affected = self._uncertain_for(matcher)
            if affected:
                result = (result[0] & ~affected, result[1] | affected)
        self._masks[matcher] = result
        return result

    def _uncertain_for(self, matcher) -> int:
        """The pod classes for which `matcher` can only answer maybe, because what it reads of them could not be
        read (model.Pod: uncertain labels, opaque). AnyOf/AllOf get it from their parts; a PodSelection only
        within the namespaces it reaches (namespaces are always known)."""
        if isinstance(matcher, (AnyEndpoint, NoEndpoint, UnknownEndpoint, AnyOf, AllOf)):
            return 0
        uni = self.universe
        scope = uni.uncertain_mask
        if isinstance(matcher, PodSelection):
            where = PodSelection(matcher.namespace, matcher.namespace_selector, None)
            if where != matcher:
                yes, maybe = self.mask(where)
                scope &= yes | maybe
        keys = pod_label_keys(matcher)
        affected = 0
        for i in uni.indices(scope):
            if _depends(uni.classes[i].info, matcher, keys):
                affected |= 1 << i
        return affected

    def local_tri(self, matcher, info: EndpointInfo) -> Tri:
        """A rule's condition on the endpoint a policy protects, three-valued like `mask`."""
        if matcher is ANY:
            return True
        answer = matcher.match(info)
        if info.uncertain and not isinstance(matcher, (NoEndpoint, UnknownEndpoint)) and \
                _depends(info, matcher, pod_label_keys(matcher)):
            return None
        return answer

    @cached_property
    def index(self) -> ClassIndex:
        return ClassIndex(self.universe)

    def _mask_by_class(self, matcher) -> tuple[int, int]:
        uni = self.universe
        if isinstance(matcher, PodSelection):
            if matcher.namespace is not None:
                candidates = uni.by_namespace.get(matcher.namespace, 0)
            elif matcher.namespace_selector is not None:
                # Pick the namespaces first (hundreds), then only their classes (thousands): a namespace
                # whose labels were never read stays a candidate, so its maybe is still found.
                candidates = 0
                for ns_mask in self._namespaces_matching(matcher.namespace_selector):
                    candidates |= ns_mask
            else:
                candidates = uni.pod_mask
        else:
            candidates = uni.all_mask
        yes = maybe = 0
        classes = uni.classes
        for i in uni.indices(candidates):
            answer = matcher.match(classes[i].info)
            if answer is True:
                yes |= 1 << i
            elif answer is None:
                maybe |= 1 << i
        return yes, maybe

    def _namespaces_matching(self, selector) -> list[int]:
        found = []
        classes = self.universe.classes
        for mask in self.universe.by_namespace.values():
            info = classes[(mask & -mask).bit_length() - 1].info
            if not info.namespace_labels_known or selector.matches(info.namespace_labels):
                found.append(mask)
        return found

    def host_endpoint_reasons(self, info: EndpointInfo) -> frozenset[str]:
        """Why this endpoint's own side of a flow is not judged: its addresses are a HostEndpoint's, whose policy
        netaudit does not model (an external address, or a hostNetwork pod on that host); empty otherwise."""
        if not self.host_endpoints or not info.addresses or not info.addresses & self._host_endpoint_addresses:
            return frozenset()
        return frozenset(reason for addresses, reason in self.host_endpoints if info.addresses & addresses)

    @cached_property
    def _host_endpoint_addresses(self):
        found = None
        for addresses, _ in self.host_endpoints:
            found = addresses if found is None else found | addresses
        return found

    # --- one direction of one endpoint -------------------------------------------------------------------------
    def applicable_by_class(self, direction: str) -> dict[int, tuple[Applicable, ...]]:
        """For every pod class, the policies that (maybe) select it in this direction, in walk order.

        Iterates each policy's selected classes rather than every (class, policy) pair: a policy selects few
        classes, and this is what keeps cost proportional to classes + rules.
        """
        cached = self._applicable.get(direction)
        if cached is not None:
            return cached
        found: dict[int, list[Applicable]] = {}
        classes = self.universe.classes
        for policy in self.policies:
            rules = policy.rules(direction)
            if rules is None:
                continue
            yes, maybe = self.mask(policy.selector)
            for index in self.universe.indices((yes | maybe) & self.universe.pod_mask):
                info = classes[index].info
                selected: Tri = True if yes >> index & 1 else None
                local = tuple(self.local_tri(r.local, info) for r in rules)
                why = frozenset([info.uncertain_reason]) if info.uncertain and (
                    selected is None or None in local) else frozenset()
                found.setdefault(index, []).append(Applicable(policy, selected, local, why))
        result = {index: tuple(apps) for index, apps in found.items()}
        self._applicable[direction] = result
        return result

    def verdict_groups(self, applicable: tuple[Applicable, ...], direction: str,
                       local_info: EndpointInfo) -> list[PeerVerdict]:
        """Partition all peers by how the applicable rules treat them, and walk the tiers once per group."""
        uni = self.universe
        if not applicable:
            return [PeerVerdict(uni.all_mask, ALL, NONE)]
        groups = [uni.all_mask]
        split_by_ports = False
        for app in applicable:
            for rule, local in zip(app.policy.rules(direction), app.local):
                if local is False:
                    continue
                yes, maybe = self.mask(rule.peer)
                groups = _refine(groups, yes, maybe)
                if direction == EGRESS and rule.uses_named_ports:
                    split_by_ports = True
        if split_by_ports:
            for profile_mask in uni.port_profile_masks.values():
                groups = _refine(groups, profile_mask, 0)
        for uncertain_mask in uni.uncertain_by_reason.values():
            groups = _refine(groups, uncertain_mask, 0)  # each unknown verdict names its own pod's reason
        out = []
        for group in groups:
            rep = (group & -group).bit_length() - 1
            peer_info = uni.classes[rep].info
            destination = peer_info if direction == EGRESS else local_info
            allowed, unknown, reasons = self.walk(applicable, direction, rep, destination)
            out.append(PeerVerdict(group, allowed, unknown, reasons))
        return out

    def walk(self, applicable: tuple[Applicable, ...], direction: str, peer: int,
             destination: EndpointInfo) -> tuple[PortSet, PortSet, frozenset[str]]:
        """The tier walk for one peer class: (allowed, unknown, reasons) over all protocols and ports.

        A port that a maybe-match touches is not unknown yet: it has several possible outcomes in its tier (say
        Allow, or Pass). Each port carries the set of final results it can still end in, plus whether it may go
        on to the next tier; it is unknown only if Allow and Deny are both possible at the end.
        """
        bit = 1 << peer
        by_tier: dict[str, list[Applicable]] = {}
        for app in applicable:
            by_tier.setdefault(app.policy.tier, []).append(app)
        # (possible final results, may still pass to the next tier) -> ports
        state: dict[tuple[frozenset, bool], PortSet] = {(frozenset(), True): ALL}
        reasons: set[str] = set()
        for tier_name, apps in by_tier.items():
            if not any(passing for _, passing in state):
                break
            tier = self.tiers.get(tier_name) or Tier(tier_name, None, Action.DENY)
            outcome, tier_reasons = self._walk_tier(tier, apps, direction, bit, destination)
            new_state: dict[tuple[frozenset, bool], PortSet] = {}
            for (finals, passing), ports in state.items():
                if not passing:
                    new_state[(finals, False)] = new_state.get((finals, False), NONE) | ports
                    continue
                for possible, tier_ports in outcome.items():
                    part = ports & tier_ports
                    if not part:
                        continue
                    key = (finals | (possible - _PASS_ONLY), Action.PASS in possible)
                    new_state[key] = new_state.get(key, NONE) | part
                    if len(possible) > 1:
                        reasons |= tier_reasons
            state = new_state
        allowed = unknown = NONE
        for (finals, passing), ports in state.items():
            if passing:
                finals = finals | _ALLOW_ONLY  # past the last tier: the namespace profile allows
            if finals == _ALLOW_ONLY:
                allowed = allowed | ports
            elif Action.ALLOW in finals:
                unknown = unknown | ports
        return allowed, unknown, frozenset(reasons) if unknown else frozenset()

    def _walk_tier(self, tier: Tier, apps: list[Applicable], direction: str, bit: int,
                   destination: EndpointInfo) -> tuple[dict, set[str]]:
        """One tier, backwards over its policies and their rules: {frozenset of possible actions: ports}.

        A policy that maybe selects the endpoint either applies as a whole (each of its rules matches as it would
        for a selected endpoint) or is absent from the tier; it is never a set of independent maybe-rules. So the
        walk carries two outcomes backwards: `applied`, what the rest of the tier gives when the tier applies (some
        policy selected the endpoint: no match ends in the tier's default action), and `absent`, what it gives when
        no policy before this point selected it (no match: the tier does not apply and the walk goes on, like a
        Pass). A surely-selecting policy makes the two equal; a maybe-selecting one joins "it applies" with "it is
        absent", port by port. The answer is `absent` at the first policy. Exact for any number of maybe-selecting
        policies, each maybe (a selection, a rule's peer) being independent of the others (docs/semantics.md NA-M3).
        """
        peer_info = self.universe.classes[bit.bit_length() - 1].info
        applied: dict = {tier.default_actions: ALL}
        absent: dict = {_PASS_ONLY: ALL}
        reasons: set[str] = {tier.default_unknown} if tier.default_unknown else set()
        for app in reversed(apps):
            outcome = applied
            rules = app.policy.rules(direction)
            for rule, local in reversed(tuple(zip(rules, app.local))):
                if rule.action is Action.LOG or local is False:
                    continue
                yes, maybe = self.mask(rule.peer)
                peer_tri: Tri = True if yes & bit else (None if maybe & bit else False)
                tri = tri_and(local, peer_tri)
                if tri is False:
                    continue
                ports = rule.ports_for(destination)
                maybe_ports = rule.ports_maybe_for(destination)  # named ports of a pod whose ports were not all read
                if not ports and not maybe_ports:
                    continue
                if tri is True:
                    if ports:
                        outcome = _assign(outcome, ports, frozenset([rule.action]))
                    if maybe_ports:
                        outcome, widened = _widen(outcome, maybe_ports, rule.action)
                        if widened:
                            reasons.add(destination.uncertain_reason)
                else:
                    outcome, widened = _widen(outcome, ports | maybe_ports, rule.action)
                    if widened:
                        for matcher in (rule.peer, rule.local):
                            reasons.update(unknown_reasons(matcher))
                        if local is None:
                            reasons.update(app.why)
                        if peer_tri is None and peer_info.uncertain:
                            reasons.add(peer_info.uncertain_reason)
                        if maybe_ports:
                            reasons.add(destination.uncertain_reason)
            if app.selected is True:
                applied = absent = outcome
                continue
            # Maybe selected: the policy applies (outcome) or is absent (the rest as it was).
            joined_applied, changed_applied = _join(outcome, applied)
            joined_absent, changed_absent = _join(outcome, absent)
            if changed_applied or changed_absent:
                reasons.update(unknown_reasons(app.policy.selector))
                reasons.update(app.why)
            applied, absent = joined_applied, joined_absent
        return absent, reasons


_PASS_ONLY = frozenset([Action.PASS])
_ALLOW_ONLY = frozenset([Action.ALLOW])


def _assign(outcome: dict, ports: PortSet, possible: frozenset) -> dict:
    new = {}
    for key, value in outcome.items():
        rest = value - ports
        if rest:
            new[key] = rest
    new[possible] = new.get(possible, NONE) | ports
    return new


def _join(first: dict, second: dict) -> tuple[dict, bool]:
    """Per port, the outcomes possible in either of two maps (each covers every port once); and whether some port
    has different outcomes in the two (then the choice between them matters)."""
    joined: dict = {}
    differs = False
    for key_a, ports_a in first.items():
        for key_b, ports_b in second.items():
            both = ports_a & ports_b
            if both:
                key = key_a | key_b
                differs = differs or key_a != key_b
                joined[key] = joined.get(key, NONE) | both
    return joined, differs


def _widen(outcome: dict, ports: PortSet, action) -> tuple[dict, bool]:
    """Ports a rule may or may not match: they may end as before, or with the rule's action."""
    new: dict = {}
    widened = False
    for key, value in outcome.items():
        touched = value & ports
        rest = value - touched
        if rest:
            new[key] = new.get(key, NONE) | rest
        if touched:
            wider = key | {action}
            widened = widened or wider != key
            new[wider] = new.get(wider, NONE) | touched
    return new, widened


def _depends(info: EndpointInfo, matcher, keys: frozenset[str] | None) -> bool:
    """Whether `matcher`, which reads these pod label keys (None: it cannot say), may answer differently for an
    endpoint with what could not be read of it. Only a Kubernetes pod selection reads nothing but labels and the
    namespace; ipBlocks and Calico's matchers also read addresses and service accounts."""
    if info.opaque or info.uncertain_identity and not isinstance(matcher, PodSelection):
        return True
    if not info.uncertain_labels:
        return False
    if keys is None:
        return True
    return bool(keys) and ("*" in info.uncertain_labels or bool(keys & info.uncertain_labels))


def _refine(groups: list[int], yes: int, maybe: int) -> list[int]:
    out = []
    no = ~(yes | maybe)
    maybe_only = maybe & ~yes
    for group in groups:
        for part in (group & yes, group & maybe_only, group & no):
            if part:
                out.append(part)
    return out


def direction_verdicts(evaluator: Evaluator, direction: str) -> list[DirectionVerdict]:
    """Group pod classes by their applicable policies and compute each group's verdict once."""
    uni = evaluator.universe
    by_key: dict[tuple, DirectionVerdict] = {}
    pending: dict[tuple, tuple] = {}
    applicable_by_class = evaluator.applicable_by_class(direction)
    for cls in uni.classes[:uni.pod_count]:
        applicable = applicable_by_class.get(cls.index, ())
        uses_names = direction == INGRESS and any(
            rule.uses_named_ports for app in applicable for rule in app.policy.rules(direction))
        key = (tuple((id(a.policy), a.selected, a.local, a.why) for a in applicable),
               (cls.info.named_ports, cls.info.uncertain_ports, cls.info.uncertain_reason if
                cls.info.uncertain_ports else "") if uses_names else None)
        verdict = by_key.get(key)
        if verdict is None:
            verdict = DirectionVerdict(direction, 0, [])
            by_key[key] = verdict
            pending[key] = (applicable, cls.info)
        verdict.members |= 1 << cls.index
    for key, verdict in by_key.items():
        applicable, info = pending[key]
        verdict.groups = evaluator.verdict_groups(applicable, direction, info)
    return _host_endpoint_sides(evaluator, direction, list(by_key.values()))


def _host_endpoint_sides(evaluator: Evaluator, direction: str,
                         verdicts: list[DirectionVerdict]) -> list[DirectionVerdict]:
    """Endpoints whose addresses belong to a HostEndpoint (hostNetwork pods on that host) get an unknown side: the
    host endpoint's own policy applies to their traffic and is not modelled (docs/semantics.md CAL-C14)."""
    if not evaluator.host_endpoints:
        return verdicts
    uni = evaluator.universe
    out = []
    for verdict in verdicts:
        hosts: dict[frozenset, int] = {}
        for index in uni.indices(verdict.members):
            reasons = evaluator.host_endpoint_reasons(uni.classes[index].info)
            if reasons:
                hosts[reasons] = hosts.get(reasons, 0) | 1 << index
        rest = verdict.members
        peers = uni.pod_mask if verdict.members & ~uni.pod_mask else uni.all_mask  # outside <-> outside: not judged
        for reasons, members in hosts.items():
            rest &= ~members
            out.append(DirectionVerdict(direction, members, [PeerVerdict(peers, NONE, ALL, reasons)]))
        if rest:
            verdict.members = rest
            out.append(verdict)
    return out


def class_matrix(universe: Universe, policies: PolicySet, *, include_staged: bool = False,
                 evaluator: Evaluator | None = None) -> ClassMatrix:
    """The whole matrix as blocks of class pairs with equal verdicts (pods and external regions)."""
    evaluator = evaluator or Evaluator(universe, policies, include_staged=include_staged)
    egress = direction_verdicts(evaluator, EGRESS)
    ingress = direction_verdicts(evaluator, INGRESS)
    external = universe.all_mask & ~universe.pod_mask
    if external:
        # Outside the cluster nothing filters: only the cluster side of a flow is judged (docs/semantics.md K8S-A13);
        # except at a HostEndpoint's addresses, whose own policy is not modelled (CAL-C14): that side is unknown.
        open_all = [PeerVerdict(universe.pod_mask, ALL, NONE)]
        for direction, verdicts in ((EGRESS, egress), (INGRESS, ingress)):
            verdicts.extend(_host_endpoint_sides(evaluator, direction, [DirectionVerdict(direction, external,
                                                                                          open_all)]))
    blocks: list[Block] = []
    # Which ingress verdict each class has (they partition the classes): a term reaching a few classes meets only
    # their verdicts, so the product is not every egress verdict times every ingress verdict.
    verdict_of: dict[int, int] = {}
    for number, in_verdict in enumerate(ingress):
        for c in universe.indices(in_verdict.members):
            verdict_of[c] = number
    for out_verdict in egress:
        for g in out_verdict.terms:
            if g.mask.bit_count() < len(ingress):
                met = sorted({verdict_of[c] for c in universe.indices(g.mask) if c in verdict_of})
                candidates = [ingress[n] for n in met]
            else:
                candidates = ingress
            for in_verdict in candidates:
                dst = in_verdict.members & g.mask
                if not dst:
                    continue
                for h in in_verdict.terms:
                    src = out_verdict.members & h.mask
                    if not src:
                        continue
                    allowed = g.allowed & h.allowed
                    maybe = (g.allowed | g.unknown) & (h.allowed | h.unknown)
                    unknown = maybe - allowed
                    if allowed or unknown:
                        reasons = (g.reasons | h.reasons) if unknown else frozenset()
                        blocks.append(Block(src, dst, allowed, unknown, reasons))
    return ClassMatrix(universe, blocks, {EGRESS: egress, INGRESS: ingress}, evaluator)
