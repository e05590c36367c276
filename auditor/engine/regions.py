"""The partition of the address space into external endpoints (regions).

`AddressSpace` splits the whole address space into the regions that policies can tell apart. Every CIDR a policy
names (an ipBlock's `cidr` and each `except`, Calico `nets`/`notNets`) is a node of a laminar family (two CIDRs are
either nested or disjoint), so the region of a node is "its CIDR except its child CIDRs". Those regions are the
external endpoints of the matrix (`{"cidr": ..., "except": [...]}` in DESIGN.md's contract) and every ipBlock is an
exact union of them, so the engine evaluates each region once instead of each address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

from ..sets.addresses import IPV4_ALL, IPV6_ALL, IpSet, Network


@dataclass(frozen=True)
class Region:
    """One external endpoint: a CIDR minus the more specific CIDRs that policies name inside it."""

    index: int
    cidr: Network
    excepts: tuple[Network, ...]

    @property
    def id(self) -> str:
        return f"cidr:{self.cidr}"

    def describe(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"


class AddressSpace:
    """The laminar partition of all addresses induced by every CIDR the policies mention."""

    def __init__(self, networks: Iterable[Network], *, include_ipv6: bool = False):
        nodes = {IPV4_ALL}
        if include_ipv6:
            nodes.add(IPV6_ALL)
        for net in networks:
            nodes.add(net)
            nodes.add(IPV6_ALL if net.version == 6 else IPV4_ALL)
        # Sort so that every network comes after the networks that contain it.
        ordered = sorted(nodes, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
        children: dict[Network, list[Network]] = {n: [] for n in ordered}
        parent: dict[Network, Network | None] = {}
        stack: list[Network] = []
        for net in ordered:
            while stack and not (stack[-1].version == net.version and net.subnet_of(stack[-1])):
                stack.pop()
            parent[net] = stack[-1] if stack else None
            if stack:
                children[stack[-1]].append(net)
            stack.append(net)
        regions: list[Region] = []
        self._region_of_node: dict[Network, Region | None] = {}
        for net in ordered:
            kids = tuple(children[net])
            covered = IpSet.of(*kids) if kids else IpSet()
            if IpSet.of(net) <= covered:
                self._region_of_node[net] = None  # fully split into its children: no region of its own
                continue
            region = Region(len(regions), net, kids)
            regions.append(region)
            self._region_of_node[net] = region
        self.regions: tuple[Region, ...] = tuple(regions)
        self._ordered = ordered
        self._parent = parent
        self._children = children

    def region_of(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> Region:
        """The region holding an address: the most specific named CIDR that contains it."""
        addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        root = IPV4_ALL if addr.version == 4 else IPV6_ALL
        node = root
        while True:
            nxt = next((c for c in self._children.get(node, ()) if addr in c), None)
            if nxt is None:
                break
            node = nxt
        region = self._region_of_node.get(node)
        assert region is not None, f"address {addr} is not in any region"
        return region

    def knows(self, networks: Iterable[Network]) -> bool:
        """Whether every one of these networks was given to the constructor (so `regions_in` is exact for them)."""
        return all(net in self._region_of_node for net in networks)

    def regions_in(self, included: Iterable[Network], excluded: Iterable[Network] = ()) -> frozenset[int]:
        """The regions that together make up ``union(included) - union(excluded)``.

        Every CIDR given must have been passed to the constructor, so the result is exact.
        """
        excluded_set = set(excluded)
        out: set[int] = set()
        for net in included:
            if any(e.version == net.version and net.subnet_of(e) for e in excluded_set):
                continue
            todo = [net]
            while todo:
                node = todo.pop()
                if node in excluded_set:
                    continue
                region = self._region_of_node.get(node)
                if region is not None:
                    out.add(region.index)
                todo.extend(self._children[node])
        # A region whose CIDR is inside an excluded network is already skipped by the walk; one that merely
        # contains an excluded network keeps only its own (non-excluded) part, which is what the region is.
        return frozenset(out)
