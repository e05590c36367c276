"""IP address sets: `IpSet`, the CIDR-set value type (IPv4 and IPv6 kept apart), built on `IntervalSet` and
Python's `ipaddress`, so no address is ever parsed by hand.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

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
