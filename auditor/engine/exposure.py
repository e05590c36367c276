"""Exposure: for every endpoint and direction, which peers may open which ports, as selectors, for peers that
exist and peers that do not exist yet.

The walk is evaluate.py's, done on predicates instead of peer classes (peers.py). Per endpoint and direction, the
tiers are walked in order; in a tier, a rule applies to the peers its peer predicate matches and that no earlier
Deny or Pass rule of the tier took (on the ports both name); Allow is final, Pass continues to the next tier with
the peers it took, and a tier whose default is Pass continues with the peers no rule took. Past the last
applicable tier, what is left is allowed (Calico's namespace profile). Earlier Allow rules never need to be
subtracted: the answer is a union, and what they take is allowed anyway.

So an entry of the answer is the peer set of one Allow rule (or of the profile), narrowed by the denies and passes
that come before it, and by the tiers it had to pass through. Narrowing is exact where a selector can say it (the
complement of a label requirement is a requirement); where it cannot (an ipBlock deny cutting a pod selector: a
future pod's address is unknown), the entry keeps its peer, says what cuts it (`unless`), and its ports are reported
`unknown`, never as certain. Whatever could not be read makes the ports it touches `unknown` with the reason.

Cost: one walk per group of endpoint classes with the same applicable policies (as direction_verdicts groups
them), each over the tiers' rules; nothing is done per pair of pods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Sequence

from ..model import Pod
from ..policy.ir import EGRESS, INGRESS, Action, EndpointInfo, Rule, Tier
from ..sets.addresses import IpSet
from ..sets.ports import NONE, PortSet
from .evaluate import Applicable, Evaluator, unknown_reasons
from .matrix import MatrixEndpoint, endpoint_id
from .peers import Conj, Maybe, PeerForm, Term, nonpod_addresses, predicate, start_term, subsumes, term_forms

ALL = PortSet.all()
LEVELS = ("workload", "pod")


@dataclass(frozen=True)
class _Step:
    """A rule as the walk uses it: its peer predicate, ports, and what makes it uncertain."""

    label: str
    action: Action
    pred: tuple
    ports: PortSet
    named: frozenset  # (protocol or None, name): egress ports named on the peer
    maybe: frozenset


@dataclass
class ExposureEntry:
    """Any peer in `peer` may open `allowed` on `endpoint` (ingress), or `endpoint` may open `allowed` on it
    (egress)."""

    endpoint: str
    direction: str
    peer: dict
    text: str
    allowed: PortSet = NONE
    unknown: PortSet = NONE
    named: frozenset = frozenset()  # egress: (protocol, name, within) of ports the peer names
    unknown_named: frozenset = frozenset()
    because: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # why `unknown`
    unless: tuple = ()  # peers cut from `peer` that its form cannot say
    cut_by: tuple[str, ...] = ()  # rules that narrowed it
    # True when `unknown` comes only from the peer's address (a pod yet to come may get an address that an
    # address rule cuts): for every endpoint that exists, `peer` with `unless` is then exact.
    address_dependent: bool = False
    # Paths from outside (peer kind Path): the verdict, the hops as the backend sees them, notes.
    verdict: str | None = None
    hops: tuple = ()
    notes: tuple = ()
    target: PortSet | None = None  # a path's backend target port, allowed or not
    peer_key: tuple = ()  # `peer` and `unless` as text, computed once (entries are merged by it)

    @property
    def key(self) -> tuple:
        if not self.peer_key:
            self.peer_key = (json.dumps(self.peer, sort_keys=True), json.dumps(list(self.unless), sort_keys=True))
        return (self.endpoint, self.direction) + self.peer_key


@dataclass
class ExposureView:
    level: str
    endpoints: list[MatrixEndpoint]
    entries: list[ExposureEntry]
    protocols: tuple[str, ...]
    alerts: list = field(default_factory=list)
    paths: list = field(default_factory=list)  # ExternalPath (paths.py), when asked for


# --- the walk --------------------------------------------------------------------------------------------------------
def rule_label(app: Applicable, rule: Rule, direction: str) -> str:
    """`NetworkPolicy shop/db spec.ingress[0]`: the policy and the rule, as explain and the contract name them."""
    what = rule.text if rule.text and rule.text.startswith("(") else f"spec.{direction}[{rule.index}]"
    return f"{app.policy.label()} {what}"


def _steps(evaluator: Evaluator, apps: list[Applicable], direction: str, local: EndpointInfo) -> list[_Step]:
    steps = []
    for app in apps:
        selector_maybe = unknown_reasons(app.policy.selector) if app.selected is None else frozenset()
        if app.selected is None and not selector_maybe:
            selector_maybe = frozenset([f"whether {app.policy.label()} selects it is unknown"])
        for rule, local_tri in zip(app.policy.rules(direction), app.local):
            if local_tri is False or rule.action is Action.LOG:
                continue
            maybe = set(selector_maybe)
            if local_tri is None:
                maybe |= unknown_reasons(rule.local) or {f"{app.policy.label()}: its rule's own side is unknown"}
            if direction == INGRESS:
                ports, named = rule.ports_for(local), frozenset()
            else:
                ports = rule.ports.numeric
                named = frozenset(rule.ports.named)
                if rule.not_ports is not None:
                    ports = ports - rule.not_ports.numeric
                    if rule.not_ports.named:
                        maybe.add(f"{app.policy.label()}: notPorts names ports of the peer")
            if not ports and not named:
                continue
            steps.append(_Step(rule_label(app, rule, direction), rule.action, predicate(rule.peer), ports, named,
                               frozenset(maybe)))
    return steps


def _protocol_of(item) -> PortSet:
    """Every port of a named port's protocol (a name without a protocol: TCP, UDP and SCTP)."""
    protocol = item[0]
    return PortSet.protocol(protocol) if protocol is not None else PortSet({p: ALL.get(p)
                                                                            for p in ("TCP", "UDP", "SCTP")})


def _same_name(item, other) -> bool:
    return item[1] == other[1] and (item[0] is None or other[0] is None or item[0] == other[0])


def _normalized(items) -> frozenset:
    """Named ports (protocol, name, within): the same name's `within` sets united, empty ones dropped."""
    merged: dict[tuple, PortSet] = {}
    for protocol, name, within in items:
        if within:
            merged[(protocol, name)] = merged.get((protocol, name), NONE) | within
    return frozenset((p, n, w) for (p, n), w in merged.items())


def _restrict(term: Term, step: _Step) -> Term | None:
    """The term on the ports both it and the step name.

    Egress ports named on the peer are (protocol, name, within) items: the peer's port of that name, if its number
    is in `within`. The step's own names land wherever the term still has ports; the term's names stay where the
    step names them too, or where the step's numbers cover them.
    """
    ports = term.ports & step.ports
    named = []
    maybe = set()
    for item in term.named:
        protocol, name, within = item
        if any(_same_name(item, other) for other in step.named):
            named.append(item)
            continue
        named.append((protocol, name, within & step.ports))
        if any(other[1] != name and _protocol_of(other) & _protocol_of(item) for other in step.named):
            maybe.add(f"the peer's ports named {name} and {', '.join(o[1] for o in step.named)} may be one port")
    for item in step.named:
        if not any(_same_name(item, mine) for mine in term.named):
            named.append((item[0], item[1], term.ports & _protocol_of(item)))
    named = _normalized(named)
    if not ports and not named:
        return None
    out = replace(term, ports=ports, named=named)
    return replace(out, maybe=out.maybe | maybe) if maybe else out


def _allow_terms(term: Term, step: _Step, label: str | None = None) -> list[Term]:
    """The term AND the step's peer, on the ports both name, with the step on its path (`label`)."""
    base = _restrict(term, step)
    if base is None:
        return []
    out = []
    extra = [Maybe(r) for r in sorted(step.maybe)]
    for conj in step.pred:
        found = base.and_conj(list(conj) + extra)
        if found is not None:
            out.append(replace(found, because=found.because + (label or step.label,)))
    return out


def _cut(term: Term, step: _Step) -> list[Term]:
    """The term minus the peers `step` takes on the ports they share: AND NOT (peer and ports).

    Named ports (egress) are exact where the step names the same port or numbers that the name may resolve to; a
    step that names a port of the peer while the term has numbers (or other names) of that protocol may or may not
    share them: that part is cut as a maybe, which leaves it unknown for the peers the step may take.
    """
    exact_ports = term.ports & step.ports
    vague_ports = NONE
    for item in step.named:
        vague_ports = vague_ports | (term.ports & _protocol_of(item))
    vague_ports = vague_ports - exact_ports
    rest_ports = term.ports - exact_ports - vague_ports
    exact_named, vague_named, rest_named = [], [], []
    for item in term.named:
        protocol, name, within = item
        if any(_same_name(item, other) for other in step.named):
            exact_named.append(item)
            continue
        exact_named.append((protocol, name, within & step.ports))
        remaining = within - step.ports
        if any(other[1] != name and _protocol_of(other) & _protocol_of(item) for other in step.named):
            vague_named.append((protocol, name, remaining))
        else:
            rest_named.append((protocol, name, remaining))
    exact_named, vague_named, rest_named = _normalized(exact_named), _normalized(vague_named), _normalized(rest_named)
    if not exact_ports and not vague_ports and not exact_named and not vague_named:
        return [term]
    out = []
    if rest_ports or rest_named:
        out.append(replace(term, ports=rest_ports, named=rest_named))
    extra = Conj(Maybe(r) for r in step.maybe)
    pieces = []
    if exact_ports or exact_named:
        pieces.append((replace(term, ports=exact_ports, named=exact_named), extra))
    if vague_ports or vague_named:
        reason = Maybe(f"{step.label} names a port of the peer: whether it is this port depends on the peer")
        pieces.append((replace(term, ports=vague_ports, named=vague_named), extra | {reason}))
    for piece, conditions in pieces:
        parts = [piece]
        for conj in step.pred:
            parts = [p for part in parts for p in (part.and_not(conj | conditions) or [])]
        changed = len(parts) != 1 or parts[0] is not piece
        out.extend(replace(p, cut_by=p.cut_by | {step.label}) if changed else p for p in parts)
    return out


def _cut_all(terms: list[Term], steps: list[_Step]) -> list[Term]:
    for step in steps:
        terms = [t for term in terms for t in _cut(term, step)]
        if not terms:
            break
    return terms


def _merge(terms: list[Term]) -> list[Term]:
    """Terms with the same peer set become one, with the union of their ports."""
    merged: dict[tuple, Term] = {}
    for term in terms:
        if not term.ports and not term.named:
            continue
        key = term.key()
        found = merged.get(key)
        if found is None:
            merged[key] = term
        else:
            merged[key] = replace(found, ports=found.ports | term.ports, named=_normalized(found.named | term.named),
                                  because=tuple(dict.fromkeys(found.because + term.because)),
                                  cut_by=found.cut_by | term.cut_by)
    return list(merged.values())


def allowed_terms(evaluator: Evaluator, applicable: tuple[Applicable, ...], direction: str,
                  local: EndpointInfo) -> list[Term]:
    """The peers (as terms) that may open ports on `local` (ingress), or that it may open ports on (egress)."""
    what = "ingress" if direction == INGRESS else "egress"
    if not applicable:
        return [replace(start_term(ALL), because=(f"no policy selects it for {what}",))]
    by_tier: dict[str, list[Applicable]] = {}
    for app in applicable:
        by_tier.setdefault(app.policy.tier, []).append(app)
    reach = [replace(start_term(ALL), named=frozenset())]
    allowed: list[Term] = []
    for tier_name, apps in by_tier.items():
        if not reach:
            break
        tier = evaluator.tiers.get(tier_name) or Tier(tier_name, None, Action.DENY)
        steps = _steps(evaluator, apps, direction, local)
        passing: list[Term] = []
        for term in reach:
            cuts: list[_Step] = []  # Deny and Pass rules so far: an Allow after them gets what they leave
            denies: list[_Step] = []  # Deny rules so far: a Pass after them gets what they leave
            for step in steps:
                if step.action is Action.ALLOW:
                    allowed.extend(_cut_all(_allow_terms(term, step), cuts))
                elif step.action is Action.PASS:
                    passing.extend(_cut_all(_allow_terms(term, step, f"{step.label} (Pass)"), denies))
                if step.action in (Action.DENY, Action.PASS):
                    cuts.append(step)
                if step.action is Action.DENY:
                    denies.append(step)
            if tier.default_action is Action.PASS:
                passing.extend(_cut_all([term], denies))
            if not any(app.selected is True for app in apps):
                # The tier applies only if a policy whose selection is unknown really selects the endpoint.
                reasons = frozenset().union(*(unknown_reasons(a.policy.selector) for a in apps)) or \
                    frozenset([f"whether tier {tier_name} applies is unknown"])
                passing.append(replace(term, maybe=term.maybe | reasons))
        reach = _merge(passing)
    for term in reach:
        allowed.append(replace(term, because=term.because + ("every applicable tier passed: allowed by the "
                                                             "namespace profile",)))
    return _drop_covered(_merge(allowed))


def _names_minus(items: frozenset, taken: frozenset) -> frozenset:
    """Named ports in `items` where `taken` does not already hold them."""
    held = {(p, n): w for p, n, w in taken}
    return _normalized((p, n, w - held.get((p, n), NONE)) for p, n, w in items)


def _names_within(small: frozenset, big: frozenset) -> bool:
    return all(any(p == q and n == m and w <= v for q, m, v in big) for p, n, w in small)


def _drop_covered(terms: list[Term]) -> list[Term]:
    """Leave out a term another term of the same rule already covers (same or wider peers, same or more ports, as
    certain)."""
    out = []
    for i, term in enumerate(terms):
        covered = False
        for j, other in enumerate(terms):
            # Only pieces of one rule's peers (split by the ways through earlier tiers) fold into each other:
            # what different rules allow stays listed, each with its own rule.
            if i == j or other.maybe - term.maybe or other.because[-1:] != term.because[-1:]:
                continue
            if term.ports <= other.ports and _names_within(term.named, other.named) and subsumes(other, term):
                if not (subsumes(term, other) and other.ports <= term.ports and _names_within(other.named, term.named)
                        and j > i):
                    covered = True
                    break
        if not covered:
            out.append(term)
    return out


# --- endpoints and entries -------------------------------------------------------------------------------------------
def class_terms(analysis, direction: str) -> dict[int, list[Term]]:
    """For every pod class: its allowed terms in one direction, computed once per group of classes that the same
    policies select the same way (as evaluate.direction_verdicts groups them)."""
    evaluator = analysis.evaluator
    uni = analysis.universe
    by_class = evaluator.applicable_by_class(direction)
    cache: dict[tuple, list[Term]] = {}
    out: dict[int, list[Term]] = {}
    for cls in uni.classes[:uni.pod_count]:
        host_reasons = evaluator.host_endpoint_reasons(cls.info)
        if host_reasons:
            # Its addresses are a HostEndpoint's, whose own policy is not modelled: everything is unknown.
            out[cls.index] = [replace(start_term(ALL), maybe=frozenset(host_reasons), because=(
                "its addresses belong to a HostEndpoint, whose policy netaudit does not model",))]
            continue
        if cls.info.host_network:
            out[cls.index] = [replace(start_term(ALL), because=(
                "hostNetwork pod: pod policies do not apply (Calico creates no workload endpoint for it)",))]
            continue
        applicable = by_class.get(cls.index, ())
        uses_names = direction == INGRESS and any(rule.uses_named_ports for app in applicable
                                                  for rule in app.policy.rules(direction))
        key = (tuple((id(a.policy), a.selected, a.local) for a in applicable),
               cls.info.named_ports if uses_names else None)
        terms = cache.get(key)
        if terms is None:
            terms = allowed_terms(evaluator, applicable, direction, cls.info)
            cache[key] = terms
        out[cls.index] = terms
    return out


def _uses_ipv6(analysis) -> bool:
    return analysis.policies.uses_ipv6 or any(":" in ip for pod in analysis.state.pods for ip in pod.ips)


def term_entries(analysis, terms: list[Term], endpoint: str, direction: str,
                 ipv6: bool | None = None) -> list[ExposureEntry]:
    candidates = frozenset(analysis.policies.networks)
    ipv6 = _uses_ipv6(analysis) if ipv6 is None else ipv6
    out: dict[tuple, ExposureEntry] = {}
    for term in terms:
        for form in term_forms(term, candidates, ipv6):
            entry = _entry(term, form, endpoint, direction)
            found = out.get(entry.key)
            out[entry.key] = entry if found is None else _union(found, entry)
    return list(out.values())


def _entry(term: Term, form: PeerForm, endpoint: str, direction: str) -> ExposureEntry:
    reasons = set(term.maybe)
    if not form.certain:
        cut = ", ".join(sorted(term.cut_by)) or "the rule's address condition"
        reasons.add(f"whether a pod is in it depends on its address, which a selector cannot say ({cut})")
    certain = not reasons
    return ExposureEntry(
        endpoint, direction, form.peer, form.text,
        allowed=term.ports if certain else NONE, unknown=NONE if certain else term.ports,
        named=term.named if certain else frozenset(), unknown_named=frozenset() if certain else term.named,
        because=term.because, reasons=tuple(sorted(reasons)), unless=form.unless, cut_by=tuple(sorted(term.cut_by)),
        address_dependent=not form.certain and not term.maybe, peer_key=form.key)


def _union(a: ExposureEntry, b: ExposureEntry) -> ExposureEntry:
    allowed = a.allowed | b.allowed
    named = _normalized(a.named | b.named)
    address_dependent = (a.address_dependent or not (a.unknown or a.unknown_named)) and \
        (b.address_dependent or not (b.unknown or b.unknown_named))
    return replace(a, allowed=allowed, unknown=(a.unknown | b.unknown) - allowed, named=named,
                   address_dependent=address_dependent,
                   unknown_named=_names_minus(_normalized(a.unknown_named | b.unknown_named), named),
                   because=tuple(dict.fromkeys(a.because + b.because)),
                   reasons=tuple(sorted(set(a.reasons) | set(b.reasons))),
                   cut_by=tuple(sorted(set(a.cut_by) | set(b.cut_by))))


def exposure_view(analysis, level: str = "workload", namespaces: Sequence[str] = (),
                  directions: Sequence[str] = (INGRESS, EGRESS)) -> ExposureView:
    """Every endpoint's exposure at `level` (pod or workload); `namespaces` limits the endpoints shown."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    uni = analysis.universe
    wanted = set(namespaces)
    endpoints: dict[str, MatrixEndpoint] = {}
    classes_of: dict[str, list[int]] = {}
    for cls in uni.classes[:uni.pod_count]:
        for pod in cls.pods:
            if wanted and pod.namespace not in wanted:
                continue
            ep_id = endpoint_id(pod, level)
            if ep_id not in endpoints:
                endpoints[ep_id] = _endpoint(pod, level)
            elif level == "workload":
                endpoints[ep_id].pods += 1
            if cls.index not in classes_of.setdefault(ep_id, []):
                classes_of[ep_id].append(cls.index)
    entries: list[ExposureEntry] = []
    ipv6 = _uses_ipv6(analysis)
    for direction in directions:
        terms_by_class = class_terms(analysis, direction)
        # Classes with the same policies share one list of terms: write each list out once, then rename.
        rendered: dict[int, list[ExposureEntry]] = {}
        for ep_id in sorted(endpoints):
            merged: dict[tuple, ExposureEntry] = {}
            for index in classes_of[ep_id]:
                terms = terms_by_class[index]
                key = id(terms)
                if key not in rendered:
                    rendered[key] = term_entries(analysis, terms, "", direction, ipv6)
                for entry in rendered[key]:
                    entry = replace(entry, endpoint=ep_id)
                    found = merged.get(entry.key)
                    merged[entry.key] = entry if found is None else _union(found, entry)
            entries.extend(sorted(merged.values(), key=_entry_order))
    entries.sort(key=lambda e: (e.endpoint, e.direction != INGRESS))
    listed = sorted(endpoints.values(), key=lambda e: e.id)
    return ExposureView(level, listed, entries, analysis.protocols, list(analysis.alerts))


def _entry_order(entry: ExposureEntry) -> tuple:
    kind_rank = {"Cluster": 0, "Pods": 1, "External": 2, "Path": 3}.get(entry.peer.get("kind"), 4)
    return (kind_rank, json.dumps(entry.peer, sort_keys=True))


def _endpoint(pod: Pod, level: str) -> MatrixEndpoint:
    if level == "pod":
        return MatrixEndpoint(pod.id, "Pod", pod.namespace, pod.name, pod.workload or f"Pod/{pod.name}",
                              tuple(pod.ips), dict(pod.labels))
    kind, _, name = (pod.workload or f"Pod/{pod.name}").partition("/")
    return MatrixEndpoint(pod.workload_id, kind, pod.namespace, name, pod.workload or f"Pod/{pod.name}", pods=1)


# --- checking against existing endpoints (tests, and "who today" in reports) -----------------------------------------
def term_ports_for(term: Term, peer: EndpointInfo) -> PortSet:
    """The ports a term opens to one existing endpoint class (its named ports resolved on that peer)."""
    ports = term.ports
    for protocol, name, within in term.named:
        for port_name, port_protocol, number in peer.named_ports:
            if port_name == name and (protocol is None or port_protocol == protocol) and \
                    within.contains(port_protocol, number):
                ports = ports | PortSet.ports(port_protocol, number)
    return ports


def addresses_allowed(terms: list[Term], probe: PortSet) -> tuple[IpSet, IpSet]:
    """(surely allowed, maybe allowed) addresses that are not pods (outside the cluster, nodes) on `probe`."""
    allowed, unknown = IpSet(), IpSet()
    for term in terms:
        if term.pod is True or not probe <= term.ports:
            continue
        addresses = nonpod_addresses(term.as_pod(False) if term.pod is None else term)
        if term.maybe:
            unknown = unknown | addresses
        else:
            allowed = allowed | addresses
    return allowed, unknown - allowed
