"""Peers as predicates: every pod that exists or could exist, and every address, described by what policies read.

The matrix answers for the pods that exist. Exposure asks about *any* peer: a pod created next week in a namespace
that does not exist yet, or any address on the internet. Policies can only read a few facts about a peer, so a peer
is those facts: is it a pod with a workload endpoint (hostNetwork pods and everything outside the cluster are just
addresses), the labels of its namespace (with the namespace name under `kubernetes.io/metadata.name`), its service
account's name and labels, its own labels, and its IP address. Every rule peer (Kubernetes, Calico, admin policy)
becomes a predicate over those facts, in disjunctive normal form over a few kinds of literals:

- `IsPod`: a pod with a workload endpoint, or not;
- `Label`: one label of the namespace, service account or pod takes a value in a set (`Values`, which can say
  "absent or anything but these": exactly what a Kubernetes requirement or a simple Calico comparison means);
- `Opaque`: a Calico expression no label set can say (`contains`, `starts with`, ...), kept as written;
- `Addr`: the peer's address is (or is not) in an address set (ipBlock, nets, network sets);
- `Maybe`: something that could not be read (the verdicts it touches are unknown).

A `Term` is a conjunction of these for one kind of peer (pods, or addresses that are not pods), with the ports it
concerns. The exposure walk ANDs terms with a rule's peer and with the negation of the rules that come first
(denies, passes); `Term` keeps that exact: a negation it can fold into its own literals (the complement of a label
set is a label set) is folded, one it cannot is kept aside and expanded when the term is written out. A term is
written as the contract's peer forms: `Cluster`, `Pods` (namespace and pod LabelSelectors, or a Calico selector
where a LabelSelector cannot say it), `External` (cidr, except).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Iterable, Mapping

from ..model import NAMESPACE_NAME_LABEL
from ..policy import selector as csel
from ..policy.calico import CalicoEntity, selector_holds, workload_identity
from ..policy.ir import AddressBlock, AllOf, AnyEndpoint, AnyOf, EndpointInfo, NoEndpoint, PodSelection, UnknownEndpoint
from ..policy.labels import LabelSelector
from ..sets.addresses import IPV4_ALL, IPV6_ALL, IpSet
from ..sets.ports import PortSet

NS, SA, POD = "namespace", "serviceaccount", "pod"
SA_NAME = "@name"  # the service account's name, as a pseudo-label of the serviceaccount space
MAX_TERMS = 256  # beyond this a predicate is kept opaque (Calico) or made unknown, never silently dropped
EVERYWHERE = IpSet.everything()


# --- the values one label may take --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Values:
    """A set of values of one label: whether "absent" is in it, and a finite or co-finite set of strings."""

    absent: bool
    strings: frozenset[str] = frozenset()
    cofinite: bool = False  # True: every string except `strings`

    def __and__(self, other: "Values") -> "Values":
        absent = self.absent and other.absent
        if not self.cofinite and not other.cofinite:
            return Values(absent, self.strings & other.strings)
        if not self.cofinite:
            return Values(absent, self.strings - other.strings)
        if not other.cofinite:
            return Values(absent, other.strings - self.strings)
        return Values(absent, self.strings | other.strings, True)

    def __invert__(self) -> "Values":
        return Values(not self.absent, self.strings, not self.cofinite)

    def __le__(self, other: "Values") -> bool:
        if self.absent and not other.absent:
            return False
        if not self.cofinite:
            return self.strings <= other.strings if not other.cofinite else not (self.strings & other.strings)
        return other.cofinite and other.strings <= self.strings

    @property
    def empty(self) -> bool:
        return not self.absent and not self.cofinite and not self.strings

    @property
    def full(self) -> bool:
        return self.absent and self.cofinite and not self.strings

    def holds(self, value: str | None) -> bool:
        if value is None:
            return self.absent
        return (value in self.strings) != self.cofinite


ANY_VALUE = Values(True, frozenset(), True)


def requirement_values(operator: str, values: Iterable[str]) -> Values:
    """A Kubernetes requirement as a value set (NotIn and DoesNotExist hold when the label is absent)."""
    values = frozenset(values)
    if operator == "In":
        return Values(False, values)
    if operator == "NotIn":
        return Values(True, values, True)
    if operator == "Exists":
        return Values(False, frozenset(), True)
    return Values(True, frozenset())  # DoesNotExist


# --- literals -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IsPod:
    pod: bool


@dataclass(frozen=True)
class Label:
    """A pod whose label `key` (in the namespace, service account or pod space) takes a value in `values`."""

    space: str
    key: str
    values: Values


@dataclass(frozen=True)
class Opaque:
    """A pod matching (or, negated, not matching) a Calico expression, read in `context` ("wep", "ns" or "sa")."""

    context: str
    node: object
    negated: bool = False

    def holds(self, info: EndpointInfo) -> bool:
        return _context_labels(self.context, info) is not None and \
            self.node.evaluate(_context_labels(self.context, info), namespaced=False) != self.negated


@dataclass(frozen=True)
class Addr:
    """The peer's address is (or, negated, is not) in `addresses`. A peer without a known address is never in."""

    addresses: IpSet
    negated: bool = False


@dataclass(frozen=True)
class Maybe:
    reason: str


POD_LIT, NONPOD_LIT = IsPod(True), IsPod(False)
Conj = frozenset
TRUE: tuple = (Conj(),)
FALSE: tuple = ()


def negate_literal(lit) -> list:
    """The alternatives that make up NOT lit. A label or Calico literal is false for anything that is not a pod."""
    if isinstance(lit, IsPod):
        return [IsPod(not lit.pod)]
    if isinstance(lit, Label):
        inverse = ~lit.values
        return [NONPOD_LIT] + ([Label(lit.space, lit.key, inverse)] if not inverse.empty else [])
    if isinstance(lit, Opaque):
        return [NONPOD_LIT, Opaque(lit.context, lit.node, not lit.negated)]
    if isinstance(lit, Addr):
        return [Addr(lit.addresses, not lit.negated)]
    return [lit]  # Maybe: not negatable, the caller marks the result uncertain


def _product(left: tuple, right: tuple) -> tuple:
    out = []
    for a in left:
        for b in right:
            out.append(a | b)
            if len(out) > MAX_TERMS:
                raise _TooBig
    return tuple(out)


class _TooBig(Exception):
    pass


def negate(dnf: tuple) -> tuple:
    """NOT of a disjunction of conjunctions, as a disjunction of conjunctions."""
    result = TRUE
    for conj in dnf:
        alternatives = tuple(Conj([alt]) for lit in conj for alt in negate_literal(lit))
        if not conj:
            return FALSE
        result = _product(result, alternatives)
    return result


# --- policy matchers -> predicates ---------------------------------------------------------------------------------
def predicate(matcher) -> tuple:
    """A policy IR matcher as a DNF over literals (a tuple of frozensets). Exact, or `Maybe` where it cannot be."""
    try:
        return _predicate(matcher)
    except _TooBig:
        return (Conj([Maybe(f"{matcher.describe()}: too complex to describe as selectors")]),)


def _predicate(matcher) -> tuple:
    if isinstance(matcher, AnyEndpoint):
        return TRUE
    if isinstance(matcher, NoEndpoint):
        return FALSE
    if isinstance(matcher, UnknownEndpoint):
        return (Conj([Maybe(matcher.reason)]),)
    if isinstance(matcher, PodSelection):
        return (Conj([POD_LIT, *_pod_selection_literals(matcher)]),)
    if isinstance(matcher, AddressBlock):
        return (Conj([Addr(matcher.addresses)]),)
    if isinstance(matcher, AnyOf):
        out: list = []
        for option in matcher.options:
            out.extend(_predicate(option))
        return tuple(out)
    if isinstance(matcher, AllOf):
        result = TRUE
        for part in matcher.parts:
            result = _product(result, _predicate(part))
        return result
    if isinstance(matcher, CalicoEntity):
        return _calico_entity(matcher)
    reasons = getattr(matcher, "unknown_reasons", None)
    if reasons:  # e.g. an admin policy's `nodes` peer: node addresses, which are not pods
        return (Conj([NONPOD_LIT, *(Maybe(r) for r in sorted(reasons))]),)
    return (Conj([Maybe(f"{matcher.describe()}: not modelled for exposure")]),)


def _pod_selection_literals(sel: PodSelection) -> list:
    lits = []
    if sel.namespace is not None:
        lits.append(Label(NS, NAMESPACE_NAME_LABEL, Values(False, frozenset([sel.namespace]))))
    for space, selector in ((NS, sel.namespace_selector), (POD, sel.pod_selector)):
        lits.extend(_selector_literals(space, selector))
    return lits


def _selector_literals(space: str, selector: LabelSelector | None) -> list:
    if selector is None:
        return []
    merged: dict[str, Values] = {}
    for req in selector.requirements:
        merged[req.key] = merged.get(req.key, ANY_VALUE) & requirement_values(req.operator, req.values)
    return [Label(space, key, values) for key, values in merged.items()]


def _calico_entity(entity: CalicoEntity) -> tuple:
    """One side of a Calico rule: address parts, the workload endpoint's identity (or the addresses of a network
    set or host endpoint it matches), and notSelector, as CalicoEntity.match reads them."""
    result = TRUE
    if entity.ip_version is not None:
        result = _product(result, ((Conj([Addr(IpSet.of(IPV4_ALL if entity.ip_version == 4 else IPV6_ALL))])),))
    if entity.nets:
        result = _product(result, (Conj([Addr(entity.net_set)]),))
    if entity.not_nets:
        result = _product(result, (Conj([Addr(entity.not_net_set, True)]),))
    owners = _address_identities(entity)
    if entity.uses_identity:
        options = list(_product((Conj([POD_LIT]),), _wep_identity(entity)))
        for addresses, ident, reasons in owners:
            answer = entity._identity_matches(ident)
            if answer is not False:
                options.append(Conj([Addr(addresses)] + ([] if answer else [Maybe(r) for r in reasons])))
        result = _product(result, tuple(options))
    if entity.not_selector is not None:
        wep = _product((Conj([POD_LIT]),), node_predicate(entity.not_selector.root, "wep"))
        result = _product(result, negate(wep))
        for addresses, ident, reasons in owners:
            answer = selector_holds(entity.not_selector, ident)
            if answer is not False:
                result = _product(result, negate((Conj([Addr(addresses)] + ([] if answer else
                                                                            [Maybe(r) for r in reasons])),)))
    return result


def _address_identities(entity: CalicoEntity) -> list:
    """(addresses, identity, why it may be unsure) of the network sets and host endpoints rule selectors see."""
    context = entity.context
    if context is None:
        return []
    out = []
    for net_set in context.network_sets:
        if net_set.namespace:
            known = net_set.namespace in context.namespace_labels and \
                net_set.namespace not in context.unread_namespaces
            ident = net_set.identity(context.namespace_labels.get(net_set.namespace, {}), known)
        else:
            ident = net_set.identity({})
        out.append((net_set.addresses, ident, sorted(entity.unknown_reasons) or ["labels not read"]))
    for hep in getattr(context, "host_endpoints", ()):
        out.append((hep.addresses, hep.identity(), [hep.profile_reason]))
    return [item for item in out if item[0]]


def _wep_identity(entity: CalicoEntity) -> tuple:
    result = TRUE
    if entity.namespace is not None:
        result = (Conj([Label(NS, NAMESPACE_NAME_LABEL, Values(False, frozenset([entity.namespace])))]),)
    if entity.namespace_selector is not None:
        result = _product(result, node_predicate(entity.namespace_selector.root, "ns"))
    if entity.sa_selector is not None:
        result = _product(result, node_predicate(entity.sa_selector.root, "sa"))
    if entity.sa_names is not None:
        # projectcalico.org/serviceaccount carries the service account's name, whatever its length (CAL-C4).
        result = _product(result, (Conj([Label(SA, SA_NAME, Values(False, frozenset(entity.sa_names)))]),))
    if entity.selector is not None:
        result = _product(result, node_predicate(entity.selector.root, "wep"))
    return result


# Calico selector keys -> (space, key) of the peer facts, per the context the selector is read in (C2).
def _map_key(context: str, key: str) -> tuple[str, str] | str | None:
    """(space, key); "k8s" for the orchestrator label's constant value; None: not a plain label (kept opaque)."""
    if context == "ns":
        if key in ("projectcalico.org/name", "projectcalico.org/namespace"):
            return NS, NAMESPACE_NAME_LABEL
        return NS, key
    if context == "sa":
        return (SA, SA_NAME) if key == "projectcalico.org/name" else (SA, key)
    if key in ("projectcalico.org/namespace", "pcns.projectcalico.org/name"):
        return NS, NAMESPACE_NAME_LABEL
    if key.startswith("pcns."):
        return NS, key[5:]
    if key == "pcsa.projectcalico.org/name":
        return SA, SA_NAME
    if key.startswith("pcsa."):
        return SA, key[5:]
    if key == "projectcalico.org/orchestrator":
        return "k8s"
    if key == "projectcalico.org/serviceaccount":
        return None  # the SA name, but only when shorter than 63 characters: see _sa_label
    return POD, key


def node_predicate(node, context: str) -> tuple:
    """A Calico selector AST node as a DNF over Label/Opaque literals (all of them about pods)."""
    try:
        return _node(node, context)
    except _TooBig:
        return (Conj([Opaque(context, node)]),)


def _node(node, context: str) -> tuple:
    if isinstance(node, (csel.AllNode, csel.GlobalNode)):
        # global() outside a namespaceSelector is all() (selector.py); inside one it was rewritten away.
        return TRUE
    if isinstance(node, csel.NotNode):
        return negate(_node(node.operand, context))
    if isinstance(node, csel.AndNode):
        result = TRUE
        for operand in node.operands:
            result = _product(result, _node(operand, context))
        return result
    if isinstance(node, csel.OrNode):
        out: list = []
        for operand in node.operands:
            out.extend(_node(operand, context))
            if len(out) > MAX_TERMS:
                raise _TooBig
        return tuple(out)
    key = getattr(node, "key", None)
    mapped = _map_key(context, key) if key is not None else None
    if mapped == "k8s":
        return TRUE if node.evaluate({key: "k8s"}) else FALSE
    if mapped is None and key == "projectcalico.org/serviceaccount":
        values = _sa_label(node)
        if values is not None:
            return (Conj([Label(SA, SA_NAME, values)]),)
    values = _comparison(node)
    if mapped is None or values is None:
        return (Conj([Opaque(context, node)]),)
    return (Conj([Label(mapped[0], mapped[1], values)]),)


def _comparison(node) -> Values | None:
    if isinstance(node, csel.HasNode):
        return Values(False, frozenset(), True)
    if isinstance(node, csel.EqNode):
        return Values(False, frozenset([node.value]))
    if isinstance(node, csel.NeNode):  # true when the label is absent (C2)
        return Values(True, frozenset([node.value]), True)
    if isinstance(node, csel.InNode):
        return Values(False, frozenset(node.values))
    if isinstance(node, csel.NotInNode):
        return Values(True, frozenset(node.values), True)
    return None


def _sa_label(node) -> Values | None:
    """projectcalico.org/serviceaccount as a condition on the SA name: Felix sets the label from the service account
    whatever the name's length (CAL-C4), and every pod has one, so it is the name itself."""
    return _comparison(node)


# --- reading the facts of an existing endpoint ---------------------------------------------------------------------
def _context_labels(context: str, info: EndpointInfo) -> Mapping[str, str] | None:
    if info.external or info.host_network:
        return None
    if context == "wep":
        ident = workload_identity(info)
        return ident.labels if ident is not None else None
    if context == "ns":
        labels = dict(info.namespace_labels)
        labels["projectcalico.org/name"] = info.namespace
        labels["projectcalico.org/namespace"] = info.namespace
        return labels
    labels = dict(info.service_account_labels)
    labels["projectcalico.org/name"] = info.service_account or ""
    return labels


def label_value(info: EndpointInfo, space: str, key: str) -> str | None:
    if space == NS:
        if key == NAMESPACE_NAME_LABEL:
            return info.namespace
        return info.namespace_labels.get(key)
    if space == SA:
        return info.service_account if key == SA_NAME else info.service_account_labels.get(key)
    return info.labels.get(key)


def literal_holds(lit, info: EndpointInfo) -> bool:
    pod = not info.external and not info.host_network
    if isinstance(lit, IsPod):
        return lit.pod == pod
    if isinstance(lit, Label):
        return pod and lit.values.holds(label_value(info, lit.space, lit.key))
    if isinstance(lit, Opaque):
        return pod and lit.holds(info)
    if isinstance(lit, Addr):
        return bool(info.addresses & lit.addresses) != lit.negated
    return True  # Maybe: decided elsewhere


# --- terms ---------------------------------------------------------------------------------------------------------
@dataclass
class Term:
    """A conjunction about peers, on some ports.

    `pod` says which peers: True, pods with a workload endpoint; False, addresses that are not such pods (outside
    the cluster, nodes, hostNetwork pods); None, both. Label conditions only exist for pods, so a term with a
    label is a pod term; a term about both keeps negated pod conditions aside (`negs`): written out, they are the
    pods an address entry leaves out (`unless`).
    """

    pod: bool | None
    ports: PortSet
    named: frozenset = frozenset()  # (protocol, name, within): egress ports the peer names, if in `within`
    labels: dict = field(default_factory=dict)  # (space, key) -> Values
    opaque: frozenset = frozenset()
    addr_in: IpSet | None = None
    addr_out: IpSet = field(default_factory=IpSet)
    negs: tuple = ()  # conjunctions this term must NOT match, not folded into its literals
    maybe: frozenset = frozenset()  # reasons: whether this term holds is unknown
    because: tuple = ()  # the rules on the path that decides it (pass rules, then the allowing rule)
    cut_by: frozenset = frozenset()  # rules whose deny or pass narrowed it

    def key(self) -> tuple:
        return (self.pod, frozenset(self.labels.items()), self.opaque, self.addr_in, self.addr_out, self.negs,
                self.maybe)

    def with_ports(self, ports: PortSet, named: frozenset | None = None) -> "Term":
        return replace(self, ports=ports, named=self.named if named is None else named)

    # -- conjunction ------------------------------------------------------------------------------------------
    def and_conj(self, conj: Iterable) -> "Term | None":
        term: Term | None = self
        for lit in conj:
            term = term._and_literal(lit)
            if term is None:
                return None
        return term

    def as_pod(self, pod: bool) -> "Term | None":
        """The part of this term about pods (True) or about other addresses (False); None if empty."""
        return self._as_pod(pod)

    def _as_pod(self, pod: bool) -> "Term | None":
        if self.pod is pod:
            return self
        if self.pod is not None:
            return None
        if not pod and EVERYWHERE <= self.addr_out:
            return None  # every address is excluded, and a non-pod always has one
        return replace(self, pod=pod)._settle()

    def _and_literal(self, lit) -> "Term | None":
        if isinstance(lit, Maybe):
            return replace(self, maybe=self.maybe | {lit.reason})
        if isinstance(lit, IsPod):
            return self._as_pod(lit.pod)
        if isinstance(lit, Label):
            term = self._as_pod(True)
            if term is None:
                return None
            key = (lit.space, lit.key)
            values = term.labels.get(key, ANY_VALUE) & lit.values
            if values.empty:
                return None
            labels = dict(term.labels)
            if values.full:
                labels.pop(key, None)
            else:
                labels[key] = values
            return replace(term, labels=labels)._settle()
        if isinstance(lit, Opaque):
            term = self._as_pod(True)
            if term is None or Opaque(lit.context, lit.node, not lit.negated) in term.opaque:
                return None
            return replace(term, opaque=term.opaque | {lit})._settle()
        if isinstance(lit, Addr):
            if lit.negated:
                out = self.addr_out | lit.addresses
                if self.addr_in is not None and not (self.addr_in - out):
                    return None
                if self.pod is False and EVERYWHERE <= out:
                    return None
                return replace(self, addr_out=out)._settle()
            new_in = lit.addresses if self.addr_in is None else self.addr_in & lit.addresses
            if not (new_in - self.addr_out):
                return None
            return replace(self, addr_in=new_in)._settle()
        raise TypeError(f"not a literal: {lit!r}")

    def _settle(self) -> "Term | None":
        """Fold or drop pending negations that the literals added since make simple."""
        if not self.negs:
            return self
        term = replace(self, negs=())
        for conj in self.negs:
            parts = term.and_not(conj, fold_only=True)
            if parts is None:
                term = replace(term, negs=term.negs + (conj,))
                continue
            if not parts:
                return None
            term = parts[0]
        return term

    # -- negation ---------------------------------------------------------------------------------------------
    def status(self, lit) -> str:
        """Whether `lit` is "implied", "contradicted" or "open" for every peer this term describes."""
        if isinstance(lit, IsPod):
            if self.pod is None:
                return "open"
            return "implied" if lit.pod == self.pod else "contradicted"
        if isinstance(lit, Label):
            if self.pod is False:
                return "contradicted"
            values = self.labels.get((lit.space, lit.key), ANY_VALUE)
            if (values & lit.values).empty:
                return "contradicted"
            if self.pod and values <= lit.values:
                return "implied"
            return "open"
        if isinstance(lit, Opaque):
            if self.pod is False or Opaque(lit.context, lit.node, not lit.negated) in self.opaque:
                return "contradicted"
            return "implied" if self.pod and lit in self.opaque else "open"
        if isinstance(lit, Addr):
            inside = (self.addr_in if self.addr_in is not None else EVERYWHERE) - self.addr_out
            overlap = inside & lit.addresses
            if not lit.negated:
                if self.addr_in is not None and inside <= lit.addresses:
                    return "implied"
                if not overlap:
                    return "contradicted"  # (a peer without an address is not in it either)
                return "open"
            if not overlap:
                return "implied"
            if self.addr_in is not None and inside <= lit.addresses:
                return "contradicted"
            return "open"
        return "open"

    def and_not(self, conj: Iterable, *, fold_only: bool = False) -> "list[Term] | None":
        """This term AND NOT conj, as terms. With fold_only, None when the negation cannot be folded in."""
        conj = frozenset(conj)
        reasons = frozenset(lit.reason for lit in conj if isinstance(lit, Maybe))
        if reasons:
            if fold_only:
                return None
            # NOT (C and maybe) = NOT C, or C where the maybe is false: the second part is uncertain.
            certain = conj - {lit for lit in conj if isinstance(lit, Maybe)}
            out = self.and_not(certain) or []
            inside = self.and_conj(certain)
            if inside is not None:
                out.append(replace(inside, maybe=inside.maybe | reasons))
            return out
        residual = []
        for lit in conj:
            state = self.status(lit)
            if state == "contradicted":
                return [self]
            if state == "open":
                residual.append(lit)
        if not residual:
            return []
        single = residual[0] if len(residual) == 1 else None
        # A term about pods and addresses keeps a negated pod condition aside rather than splitting in two.
        if single is not None and (self.pod is not None or isinstance(single, (Addr, IsPod))):
            out = []
            for alternative in negate_literal(single):
                term = self._and_literal(alternative)
                if term is not None:
                    out.append(term)
            return out
        if fold_only:
            return None
        return [replace(self, negs=self.negs + (frozenset(residual),))]

    def expanded(self, limit: int = 64) -> "list[Term]":
        """A pod term with its pending negations distributed into plain terms (for writing it out); unchanged
        when that would give more than `limit` terms (then the negations are written as Calico `!( ... )`)."""
        terms = [replace(self, negs=())]
        for conj in self.negs:
            nxt = []
            for term in terms:
                for lit in conj:
                    for alternative in negate_literal(lit):
                        out = term._and_literal(alternative)
                        if out is not None:
                            nxt.append(out)
            terms = nxt
            if len(terms) > limit:
                return [self]
        return _drop_subsumed(terms)

    # -- existing endpoints -----------------------------------------------------------------------------------
    def holds(self, info: EndpointInfo) -> bool:
        """Whether an existing endpoint class is one of the peers this term describes (ports aside)."""
        pod = not info.external and not info.host_network
        if self.pod is not None and pod != self.pod:
            return False
        if self.addr_in is not None and not (info.addresses & self.addr_in):
            return False
        if self.addr_out and info.addresses & self.addr_out:
            return False
        for (space, key), values in self.labels.items():
            if not pod or not values.holds(label_value(info, space, key)):
                return False
        if not all(literal_holds(lit, info) for lit in self.opaque):
            return False
        return not any(all(literal_holds(lit, info) for lit in conj) for conj in self.negs)


def _drop_subsumed(terms: list[Term]) -> list[Term]:
    out = []
    for i, term in enumerate(terms):
        if any(j != i and subsumes(other, term) and (j < i or not subsumes(term, other))
               for j, other in enumerate(terms)):
            continue
        out.append(term)
    return out


def subsumes(big: Term, small: Term) -> bool:
    """Every peer of `small` is a peer of `big` (a sufficient check: False when it cannot tell)."""
    if big.pod is not None and big.pod != small.pod:
        return False
    if big.pod is None and small.pod is not False and big.negs and not set(big.negs) <= set(small.negs):
        return False
    if big.pod is not None and not set(big.negs) <= set(small.negs):
        return False
    if big.opaque - small.opaque:
        return False
    if big.addr_in is not None and small.addr_in is None:
        return False  # `small` also holds pods without a known address, which an address condition leaves out
    big_addresses = (big.addr_in if big.addr_in is not None else EVERYWHERE) - big.addr_out
    small_addresses = (small.addr_in if small.addr_in is not None else EVERYWHERE) - small.addr_out
    if not small_addresses <= big_addresses:
        return False
    return all(small.labels.get(key, ANY_VALUE) <= values for key, values in big.labels.items())


def start_term(ports: PortSet) -> Term:
    """Every peer: every pod, and every address."""
    return Term(None, ports)


# --- writing a term out ---------------------------------------------------------------------------------------------
def _quote(value: str) -> str:
    return "'" + value + "'" if '"' in value else '"' + value + '"'


def _wep_key(space: str, key: str) -> str:
    if space == NS:
        return "projectcalico.org/namespace" if key == NAMESPACE_NAME_LABEL else "pcns." + key
    if space == SA:
        return "pcsa.projectcalico.org/name" if key == SA_NAME else "pcsa." + key
    return key


def _local_key(space: str, key: str) -> str:
    """The key as written in a namespace or service-account selector of its own space."""
    if space == SA and key == SA_NAME:
        return "projectcalico.org/name"
    if space == NS and key == NAMESPACE_NAME_LABEL:
        return "projectcalico.org/name"
    return key


def values_text(key: str, values: Values) -> str:
    """A value set as Calico selector text over `key`."""
    items = ", ".join(_quote(v) for v in sorted(values.strings))
    if not values.cofinite:
        if not values.strings:
            return f"!has({key})"
        inside = f"{key} == {_quote(next(iter(values.strings)))}" if len(values.strings) == 1 \
            else f"{key} in {{{items}}}"
        return f"(!has({key}) || {inside})" if values.absent else inside
    if values.absent:
        if not values.strings:
            return "all()"
        return f"{key} != {_quote(next(iter(values.strings)))}" if len(values.strings) == 1 \
            else f"{key} not in {{{items}}}"
    if not values.strings:
        return f"has({key})"
    return f"(has({key}) && {key} not in {{{items}}})"


def node_text(node, rename) -> str:
    """A Calico AST node printed with its keys renamed (e.g. a namespaceSelector's keys as pcns.* keys)."""
    if isinstance(node, csel.NotNode):
        return "!" + node_text(node.operand, rename)
    if isinstance(node, (csel.AndNode, csel.OrNode)):
        sep = " && " if isinstance(node, csel.AndNode) else " || "
        return "(" + sep.join(node_text(o, rename) for o in node.operands) + ")"
    if isinstance(node, (csel.AllNode, csel.GlobalNode)):
        return str(node)
    key = rename(node.key)
    if isinstance(node, csel.HasNode):
        return f"has({key})"
    if isinstance(node, (csel.InNode, csel.NotInNode)):
        word = "in" if isinstance(node, csel.InNode) else "not in"
        return f"{key} {word} {{" + ", ".join(_quote(v) for v in node.values) + "}"
    op = {csel.EqNode: "==", csel.NeNode: "!=", csel.ContainsNode: "contains", csel.StartsWithNode: "starts with",
          csel.EndsWithNode: "ends with"}[type(node)]
    return f"{key} {op} {_quote(node.value)}"


def _opaque_text(lit: Opaque, space_keys: bool) -> str:
    """An opaque literal as Calico text: over a workload endpoint's labels, or (space_keys) over its own space's
    labels (a namespace's, a service account's or the pod's own)."""
    def rename(key: str) -> str:
        if space_keys:
            if lit.context != "wep":
                return key
            mapped = _map_key("wep", key)
            return _local_key(*mapped) if isinstance(mapped, tuple) and mapped[0] != POD else key
        if lit.context == "wep":
            return key
        if lit.context == "ns":
            return "projectcalico.org/namespace" if key in ("projectcalico.org/name", "projectcalico.org/namespace") \
                else "pcns." + key
        return "pcsa.projectcalico.org/name" if key == "projectcalico.org/name" else "pcsa." + key
    text = node_text(lit.node, rename)
    return ("!" + (text if text.startswith("(") else f"({text})")) if lit.negated else text


def _literal_space(lit) -> str | None:
    """The one space (namespace, service account, pod) a literal reads, or None when it reads several."""
    if isinstance(lit, Label):
        return lit.space
    if isinstance(lit, Opaque):
        if lit.context in ("ns", "sa"):
            return {"ns": NS, "sa": SA}[lit.context]
        spaces = set()
        for key in _node_keys(lit.node):
            mapped = _map_key("wep", key)
            spaces.add(mapped[0] if isinstance(mapped, tuple) else None)
        return spaces.pop() if len(spaces) == 1 else None
    return None


def _node_keys(node) -> set[str]:
    keys = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if getattr(item, "key", None) is not None:
            keys.add(item.key)
        stack.extend(item.children())
    return keys


def _conj_text(conj: Iterable, local: bool = False) -> str:
    """A conjunction as a Calico selector: over the peer's workload-endpoint labels, or (`local`) in the terms of
    the context it was read from (namespace or service-account labels), where addresses and pod-ness do not occur."""
    key_of = _local_key if local else _wep_key
    parts = []
    for lit in sorted(conj, key=repr):
        if isinstance(lit, Label):
            parts.append(values_text(key_of(lit.space, lit.key), lit.values))
        elif isinstance(lit, Opaque):
            parts.append(_opaque_text(lit, local))
        elif local:
            continue
        elif isinstance(lit, Addr):
            parts.append(("!" if lit.negated else "") + f"address in {lit.addresses}")
        elif isinstance(lit, IsPod):
            parts.append("pod" if lit.pod else "not a pod")
    return " && ".join(parts) or "all()"


def _requirements(key: str, values: Values) -> list[list[dict]] | None:
    """A value set as Kubernetes requirements: alternatives (each a list of requirements), or None if none fit."""
    strings = sorted(values.strings)
    if not values.cofinite:
        if not values.absent:
            return [[{"key": key, "operator": "In", "values": strings}]]
        if not strings:
            return [[{"key": key, "operator": "DoesNotExist"}]]
        return [[{"key": key, "operator": "DoesNotExist"}], [{"key": key, "operator": "In", "values": strings}]]
    if values.absent:
        return [[]] if not strings else [[{"key": key, "operator": "NotIn", "values": strings}]]
    reqs = [{"key": key, "operator": "Exists"}]
    if strings:
        reqs.append({"key": key, "operator": "NotIn", "values": strings})
    return [reqs]


def label_selector_json(requirements: list[dict]) -> dict:
    """Requirements as a LabelSelector, written as Kubernetes writes it (single-value In as matchLabels)."""
    match_labels = {}
    expressions = []
    for req in sorted(requirements, key=lambda r: (r["key"], r["operator"])):
        if req["operator"] == "In" and len(req["values"]) == 1 and req["key"] not in match_labels:
            match_labels[req["key"]] = req["values"][0]
        else:
            expressions.append(req)
    out: dict = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if expressions:
        out["matchExpressions"] = expressions
    return out


def selector_text(requirements: list[dict]) -> str:
    """kubectl's selector syntax, for people: app=web,tier in (a,b),!legacy."""
    parts = []
    for req in sorted(requirements, key=lambda r: (r["key"], r["operator"])):
        op = req["operator"]
        if op == "In":
            values = req["values"]
            parts.append(f"{req['key']}={values[0]}" if len(values) == 1 else
                         f"{req['key']} in ({','.join(values)})")
        elif op == "NotIn":
            values = req["values"]
            parts.append(f"{req['key']}!={values[0]}" if len(values) == 1 else
                         f"{req['key']} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(req["key"])
        else:
            parts.append(f"!{req['key']}")
    return ",".join(parts)


@dataclass(frozen=True)
class PeerForm:
    """One peer of the contract: `peer` is its JSON (kind Cluster, Pods or External), `text` the same for people.
    `unless` lists peers cut from it that its form cannot say (extra field beside the contract's);
    `certain` is False when whether a future peer is in it depends on something no selector says."""

    peer: dict
    text: str
    unless: tuple = ()
    certain: bool = True

    @cached_property
    def key(self) -> tuple:
        import json
        return (json.dumps(self.peer, sort_keys=True), json.dumps(list(self.unless), sort_keys=True))


def external_forms(addresses: IpSet, candidates: Iterable) -> list[tuple[str, list[str]]]:
    """An address set as (cidr, except) pairs, using the CIDRs the policies name so it reads as they were
    written: everything minus 10.0.0.0/8 is `0.0.0.0/0 except 10.0.0.0/8`, not eight CIDRs."""
    return [(c, list(e)) for c, e in _external_forms(addresses, frozenset(candidates))]


@lru_cache(maxsize=4096)
def _external_forms(addresses: IpSet, candidates: frozenset) -> tuple:
    remaining = addresses
    out: list[tuple[str, list[str]]] = []
    ordered = sorted(set(candidates) | {IPV4_ALL, IPV6_ALL}, key=lambda n: (n.version, n.prefixlen,
                                                                         int(n.network_address)))
    for net in ordered:
        block = IpSet.of(net)
        part = remaining & block
        if not part:
            continue
        missing = block - part
        pieces, gaps = part.networks(), missing.networks()
        # Ties go to the CIDR with its exceptions, as an ipBlock is written; unless the part is itself a CIDR the
        # policies name, which then reads best alone.
        if part == block or len(gaps) < len(pieces) or (
                len(gaps) == len(pieces) and not (len(pieces) == 1 and pieces[0] in candidates)):
            out.append((str(net), tuple(str(n) for n in missing.networks())))
            remaining = remaining - block
    out.extend((str(n), ()) for n in remaining.networks())
    out.sort(key=lambda item: (ipaddress.ip_network(item[0]).version, int(ipaddress.ip_network(item[0])
                                                                         .network_address), item[0]))
    return tuple(out)


def external_text(cidr: str, excepts: list[str]) -> str:
    return f"{cidr} except {', '.join(excepts)}" if excepts else cidr


def addresses_text(addresses: IpSet, candidates: Iterable = ()) -> str:
    """An address set for people: `0.0.0.0/0 except 172.18.0.0/16`."""
    return "; ".join(external_text(c, e) for c, e in external_forms(addresses, candidates)) or "no address"


def pod_forms(term: Term) -> list[PeerForm]:
    """A pod term as contract peers. Address conditions on pods (rare: a Calico rule with both a selector and nets,
    or an ipBlock deny that cuts a selector allow) cannot be said by a selector: they go to `unless`/`within` and
    make the entry uncertain, because a future pod's address is not known."""
    forms = []
    for term_part in term.expanded():
        forms.extend(_pod_form(term_part))
    return forms


def _pod_form(term: Term) -> list[PeerForm]:
    by_space: dict[str, list] = {NS: [], SA: [], POD: []}
    for (space, key), values in sorted(term.labels.items()):
        by_space[space].append((key, values))
    unless: list = []
    certain = True
    if term.addr_out:
        certain = False
        unless.extend({"kind": "External", "cidr": c, "except": e} for c, e in external_forms(term.addr_out, ()))
    within = None
    if term.addr_in is not None:
        certain = False
        within = [{"cidr": c, "except": e} for c, e in external_forms(term.addr_in - term.addr_out, ())]
    opaque_spaces = {_literal_space(lit) for lit in term.opaque} | \
        {_literal_space(lit) for conj in term.negs for lit in conj}
    if term.opaque or term.negs:
        return [_calico_form(term, by_space, opaque_spaces, unless, within, certain)]
    # Label sets a single Kubernetes requirement cannot say ("absent, or one of these") split into alternatives.
    alternatives: list[dict[str, list[dict]]] = [{NS: [], SA: [], POD: []}]
    for space, items in by_space.items():
        for key, values in items:
            options = _requirements(key if space != SA else _local_key(space, key), values)
            alternatives = [{**alt, space: alt[space] + option} for alt in alternatives for option in options]
    return [_k8s_form(alt, unless, within, certain) for alt in alternatives]


def _namespaces_part(ns: list[dict]) -> tuple[dict, str]:
    """The `namespaces` of a Pods peer: names when the requirements only name namespaces, else a selector."""
    if len(ns) == 1 and ns[0]["key"] == NAMESPACE_NAME_LABEL and ns[0]["operator"] == "In":
        return {"names": list(ns[0]["values"])}, "namespace " + ", ".join(ns[0]["values"])
    if ns:
        return {"selector": label_selector_json(ns)}, f"namespaces matching {selector_text(ns)}"
    return {"selector": {}}, "any namespace"


def _k8s_form(reqs: dict[str, list[dict]], unless: list, within, certain: bool) -> PeerForm:
    ns, sa, pod = reqs[NS], reqs[SA], reqs[POD]
    if not ns and not sa and not pod:
        peer: dict = {"kind": "Cluster"}
        text = "any pod in the cluster (entire cluster)"
    else:
        peer = {"kind": "Pods"}
        peer["namespaces"], where = _namespaces_part(ns)
        peer["pods"] = {"selector": label_selector_json(pod)}
        what = f"pods matching {selector_text(pod)}" if pod else "any pod"
        text = f"{what} in {where}"
        if sa:
            names_only = len(sa) == 1 and sa[0]["key"] == "projectcalico.org/name" and sa[0]["operator"] == "In"
            peer["serviceAccounts"] = {"names": list(sa[0]["values"])} if names_only else \
                {"selector": label_selector_json(sa)}
            text += f" with service account {selector_text(sa)}"
    if within:
        peer["within"] = within
        text += f", if its address is in {', '.join(external_text(w['cidr'], w['except']) for w in within)}"
    return PeerForm(peer, text, tuple(unless), certain)


def _calico_form(term: Term, by_space: dict, opaque_spaces: set, unless: list, within, certain: bool) -> PeerForm:
    """A Calico selector where a LabelSelector cannot say it: split by space when the Calico-only parts touch one
    space, else one selector over the workload endpoint's labels (pcns.* for namespace labels)."""
    peer: dict = {"kind": "Pods"}
    spaces = opaque_spaces - {None}
    if len(spaces) == 1 and None not in opaque_spaces:
        (space,) = spaces
        own = [values_text(_local_key(space, key), values) for key, values in by_space[space]]
        own += [_opaque_text(lit, True) for lit in sorted(term.opaque, key=repr) if _literal_space(lit) == space]
        own += ["!(" + _conj_text(conj, local=True) + ")" for conj in term.negs]
        calico = " && ".join(own) or "all()"
        rest = {s: [r for key, values in by_space[s] for r in (_requirements(key, values) or [[]])[0]]
                for s in (NS, SA, POD) if s != space}
        if space == NS:
            peer["namespaces"] = {"calicoSelector": calico}
            peer["pods"] = {"selector": label_selector_json(rest[POD])}
            text = f"pods matching {selector_text(rest[POD]) or 'anything'} in namespaces matching Calico " \
                   f"selector {calico}"
        elif space == POD:
            peer["namespaces"], where = _namespaces_part(rest[NS])
            peer["pods"] = {"calicoSelector": calico}
            text = f"pods matching Calico selector {calico} in {where}"
        else:
            peer["namespaces"], _ = _namespaces_part(rest[NS])
            peer["pods"] = {"selector": label_selector_json(rest[POD])}
            peer["serviceAccounts"] = {"calicoSelector": calico}
            text = f"pods with service account matching Calico selector {calico}"
    else:
        parts = [values_text(_wep_key(space, key), values) for space in (NS, SA, POD)
                 for key, values in by_space[space]]
        parts += [_opaque_text(lit, False) for lit in sorted(term.opaque, key=repr)]
        parts += ["!(" + _conj_text(conj) + ")" for conj in term.negs]
        calico = " && ".join(parts) or "all()"
        peer["namespaces"] = {"selector": {}}
        peer["pods"] = {"calicoSelector": calico}
        text = f"pods whose workload endpoint matches Calico selector {calico}"
    if within:
        peer["within"] = within
        text += f", if its address is in {', '.join(external_text(w['cidr'], w['except']) for w in within)}"
    return PeerForm(peer, text, tuple(unless), certain)


def term_forms(term: Term, candidates: Iterable = (), ipv6: bool = True) -> list[PeerForm]:
    """A term as contract peers.

    A term about pods gives `Cluster` or `Pods` forms. A term about addresses gives `External` forms; an `External`
    entry also covers the pods whose address is in it (Calico matches ipBlocks and nets on pod IPs,
    docs/semantics.md K8S-A7), so the pods in its range that the term does not hold are listed in its `unless`.
    The pods a term holds outside its addresses' forms (it has no address condition on pods) are written as pod
    forms as well.
    `candidates` are the CIDRs to write address sets with; without IPv6 in use, only IPv4 is written.
    """
    if term.pod is True:
        return pod_forms(term)
    pods = term._as_pod(True) if term.pod is None else None
    addresses = nonpod_addresses(term._as_pod(False))
    if not ipv6:
        addresses = addresses & IpSet.of(IPV4_ALL)
    forms: list[PeerForm] = []
    if pods is not None and not (pods.addr_in is not None and pod_addresses(pods) <= addresses):
        forms.extend(pod_forms(pods))
    if addresses:
        unless = _pods_left_out(pods, addresses)
        unless_text = "; ".join(text for _, text in unless)
        for cidr, excepts in external_forms(addresses, candidates):
            text = external_text(cidr, excepts)
            if unless_text:
                text += f" (a pod there only unless it is: {unless_text})"
            forms.append(PeerForm({"kind": "External", "cidr": cidr, "except": excepts}, text,
                                  tuple(peer for peer, _ in unless)))
    return forms


def pod_addresses(term: Term) -> IpSet:
    return (term.addr_in if term.addr_in is not None else EVERYWHERE) - term.addr_out


def nonpod_addresses(term: Term | None) -> IpSet:
    """The exact address set of a term about addresses that are not pods (its pending negations are address
    conditions only: every pod condition is false for them)."""
    if term is None:
        return IpSet()
    base = pod_addresses(term)
    for conj in term.negs:
        cut = EVERYWHERE
        for lit in conj:
            if isinstance(lit, Addr):
                cut = cut & (EVERYWHERE - lit.addresses if lit.negated else lit.addresses)
            elif isinstance(lit, IsPod) and not lit.pod:
                continue
            else:
                cut = IpSet()  # a pod condition: never true for these peers, so this negation cuts nothing
        base = base - cut
    return base


def _pods_left_out(pods: Term | None, addresses: IpSet) -> list[tuple[dict, str]]:
    """The pods with an address in `addresses` that `pods` does not hold, as pod forms (peer, text)."""
    if pods is None:
        return [({"kind": "Cluster"}, "any pod")]
    out: list[tuple[dict, str]] = []
    gap = addresses - pod_addresses(pods)
    if gap:
        within = [{"cidr": c, "except": e} for c, e in external_forms(gap, ())]
        out.append(({"kind": "Cluster", "within": within},
                    "a pod whose address is in " + ", ".join(external_text(w["cidr"], w["except"]) for w in within)))
    base = Term(True, pods.ports)
    cuts: list[Term] = []
    for (space, key), values in pods.labels.items():
        cut = base._and_literal(Label(space, key, ~values))
        if cut is not None:
            cuts.append(cut)
    for lit in pods.opaque:
        cut = base._and_literal(Opaque(lit.context, lit.node, not lit.negated))
        if cut is not None:
            cuts.append(cut)
    for conj in pods.negs:
        if base.and_conj(list(conj) + [Addr(addresses)]) is None:
            continue  # no pod in these addresses meets it
        cut = base.and_conj(conj)
        if cut is not None:
            cuts.append(cut)
    for cut in cuts:
        for form in pod_forms(cut):
            out.append((form.peer, form.text))
    return out
