"""IP address sets and the partition of the address space into external endpoints.

`IpSet` is the CIDR-set value type (IPv4 and IPv6 kept apart), built on `IntervalSet` and Python's `ipaddress`.

`AddressSpace` splits the whole address space into the regions that policies can tell apart. Every CIDR a policy
names (an ipBlock's `cidr` and each `except`, Calico `nets`/`notNets`) is a node of a laminar family (two CIDRs are
either nested or disjoint), so the region of a node is "its CIDR except its child CIDRs". Those regions are the
external endpoints of the matrix (`{"cidr": ..., "except": [...]}` in DESIGN.md's contract) and every ipBlock is an
exact union of them, so the engine evaluates each region once instead of each address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .intervals import EMPTY, IntervalSet

IPV4_ALL = ipaddress.ip_network("0.0.0.0/0")
IPV6_ALL = ipaddress.ip_network("::/0")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)
def parse_network(text: str, *, strict: bool = False) -> Network:
    """Parse a CIDR as Kubernetes accepts it (host bits allowed unless `strict`); ValueError when invalid."""
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"{text!r} is not a CIDR (expected address/prefix, e.g. 10.0.0.0/8)")
    return ipaddress.ip_network(text.strip(), strict=strict)


class IpSet:
    """An immutable set of IPv4 and IPv6 addresses with exact ``| & - <=``."""

    __slots__ = ("v4", "v6")

    def __init__(self, v4: IntervalSet = EMPTY, v6: IntervalSet = EMPTY):
        self.v4 = v4
        self.v6 = v6

    @classmethod
    def of(cls, *networks: Network | str) -> "IpSet":
        v4, v6 = [], []
        for net in networks:
            net = parse_network(net) if isinstance(net, str) else net
            span = (int(net.network_address), int(net.broadcast_address))
            (v4 if net.version == 4 else v6).append(span)
        return cls(IntervalSet(v4), IntervalSet(v6))

    @classmethod
    def everything(cls) -> "IpSet":
        return cls.of(IPV4_ALL, IPV6_ALL)

    def __or__(self, other: "IpSet") -> "IpSet":
        return IpSet(self.v4 | other.v4, self.v6 | other.v6)

    def __and__(self, other: "IpSet") -> "IpSet":
        return IpSet(self.v4 & other.v4, self.v6 & other.v6)

    def __sub__(self, other: "IpSet") -> "IpSet":
        return IpSet(self.v4 - other.v4, self.v6 - other.v6)

    def __le__(self, other: "IpSet") -> bool:
        return self.v4 <= other.v4 and self.v6 <= other.v6

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IpSet) and self.v4 == other.v4 and self.v6 == other.v6

    def __hash__(self) -> int:
        return hash((self.v4, self.v6))

    def contains(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        return int(addr) in (self.v4 if addr.version == 4 else self.v6)

    def networks(self) -> list[Network]:
        """The fewest CIDRs that cover exactly this set."""
        out: list[Network] = []
        for version, values in ((4, self.v4), (6, self.v6)):
            cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
            for lo, hi in values:
                out.extend(ipaddress.summarize_address_range(cls(lo), cls(hi)))
        return out

    def __str__(self) -> str:
        return ",".join(str(n) for n in self.networks()) or "none"

    def __repr__(self) -> str:
        return f"IpSet({self})"


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
