"""Which endpoint classes a matcher selects, as bitmask operations on an index instead of a loop over classes.

With 10,000 classes and 2,000 policies, asking every matcher about every class costs tens of millions of Python
calls. Most matchers are made of a few questions an index answers at once: which classes carry label k=v (or the
key k), which belong to namespace X, which have an IP in address region R. `ClassIndex` holds those answers as
bitmasks over the universe's classes, and `select` composes a matcher's (surely, maybe) masks from them with
integer `&`, `|` and `~`, which Python runs over all classes at machine speed.

Exactness is kept by construction: every fast path computes exactly what the matcher's own `match` answers
(three-valued), and a matcher it does not know (Calico entities, admin node peers) is asked class by class, as
before, by the caller. `tests/unit/test_selection.py` checks the index against `match` on random clusters.
"""

from __future__ import annotations

from ..policy.ir import AddressBlock, AllOf, AnyEndpoint, AnyOf, NoEndpoint, PodSelection, UnknownEndpoint
from ..policy.labels import LabelSelector
from .classes import Universe


def mask_of(indices) -> int:
    """The bitmask with these bits set; linear in the highest index (a bytearray, then one conversion)."""
    indices = list(indices)
    if not indices:
        return 0
    bits = bytearray(max(indices) // 8 + 1)
    for i in indices:
        bits[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


class ClassIndex:
    """Bitmasks of the universe's classes by label, namespace, address region and hostNetwork."""

    def __init__(self, universe: Universe):
        self.universe = universe
        pods = universe.classes[:universe.pod_count]
        by_label: dict[tuple[str, str], list[int]] = {}
        by_key: dict[str, list[int]] = {}
        host_network: list[int] = []
        by_region: dict[int, list[int]] = {}
        for cls in pods:
            for key, value in cls.info.labels.items():
                by_label.setdefault((key, value), []).append(cls.index)
                by_key.setdefault(key, []).append(cls.index)
            if cls.info.host_network:
                host_network.append(cls.index)
            for region in cls.info.regions:
                by_region.setdefault(region, []).append(cls.index)
        for cls in universe.classes[universe.pod_count:]:
            by_region.setdefault(cls.region.index, []).append(cls.index)
        self.label = {k: mask_of(v) for k, v in by_label.items()}
        self.key = {k: mask_of(v) for k, v in by_key.items()}
        self.host_network = mask_of(host_network)
        self.region = {k: mask_of(v) for k, v in by_region.items()}
        # One representative class per namespace: namespace labels are the same for all its classes.
        self.namespaces = {ns: (mask, universe.classes[(mask & -mask).bit_length() - 1].info)
                           for ns, mask in universe.by_namespace.items()}
        self._selectors: dict[LabelSelector, int] = {}

    def labels(self, selector: LabelSelector) -> int:
        """Pod classes whose labels match a Kubernetes label selector (exact: selectors never answer maybe)."""
        cached = self._selectors.get(selector)
        if cached is not None:
            return cached
        result = self.universe.pod_mask
        for req in selector.requirements:
            if req.operator in ("In", "NotIn"):
                found = 0
                for value in req.values:
                    found |= self.label.get((req.key, value), 0)
                result &= found if req.operator == "In" else ~found
            elif req.operator == "Exists":
                result &= self.key.get(req.key, 0)
            else:
                result &= ~self.key.get(req.key, 0)
            if not result:
                break
        result &= self.universe.pod_mask
        self._selectors[selector] = result
        return result


def select(index: ClassIndex, matcher, recurse) -> tuple[int, int] | None:
    """(surely-matching, maybe-matching) classes of `matcher`, or None when it has no fast path.

    `recurse(m)` gives the masks of a part (so AnyOf/AllOf parts use the caller's cache and fallback).
    """
    uni = index.universe
    if isinstance(matcher, AnyEndpoint):
        return uni.all_mask, 0
    if isinstance(matcher, UnknownEndpoint):
        return 0, uni.all_mask
    if isinstance(matcher, NoEndpoint):
        return 0, 0
    if isinstance(matcher, PodSelection):
        return _pod_selection(index, matcher)
    if isinstance(matcher, AddressBlock):
        return _address_block(index, matcher)
    if isinstance(matcher, AnyOf):
        yes = maybe = 0
        for option in matcher.options:
            y, m = recurse(option)
            yes |= y
            maybe |= m
        return yes, maybe & ~yes
    if isinstance(matcher, AllOf):
        yes, no = uni.all_mask, 0
        for part in matcher.parts:
            y, m = recurse(part)
            yes &= y
            no |= uni.all_mask & ~(y | m)
        return yes, uni.all_mask & ~yes & ~no
    return None


def _pod_selection(index: ClassIndex, sel: PodSelection) -> tuple[int, int]:
    uni = index.universe
    base = uni.pod_mask & ~index.host_network
    if sel.namespace is not None:
        base &= uni.by_namespace.get(sel.namespace, 0)
    if sel.pod_selector is not None and base:
        base &= index.labels(sel.pod_selector)
    if sel.namespace_selector is None or not base:
        return base, 0
    yes = maybe = 0
    for mask, info in index.namespaces.values():
        if not mask & base:
            continue
        answer = sel.namespace_match(info.namespace_labels, info.namespace_labels_known)
        if answer is True:
            yes |= mask
        elif answer is None:
            maybe |= mask
    return base & yes, base & maybe


def _address_block(index: ClassIndex, block: AddressBlock) -> tuple[int, int] | None:
    """Regions never straddle a CIDR that a policy names, so a block is an exact union of regions, and a class
    overlaps it exactly when one of its IPs lies in one of those regions."""
    space = index.universe.address_space
    if not space.knows(block.included) or not space.knows(block.excluded):
        return None  # a CIDR the address space was not built with: ask class by class
    yes = 0
    for region in space.regions_in(block.included, block.excluded):
        yes |= index.region.get(region, 0)
    return yes, 0
