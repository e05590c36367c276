"""Protocol + port sets: what a verdict allows, as one immutable value.

A `PortSet` maps each protocol to an `IntervalSet` of the values that protocol can be filtered on:
- TCP, UDP, SCTP: destination ports 1..65535;
- ICMP, ICMPv6: ``type * 256 + code`` (0..65535), because Calico rules filter ICMP on type and code;
- OTHER: IP protocol numbers 0..255 other than the five above (Calico rules may name any protocol by number).

Every set is a subset of `PortSet.all()`, so complement and "everything" are exact: a Kubernetes rule without
`ports` allows every protocol, ICMP included (docs/semantics.md K8S-A10), and that is `PortSet.all()`.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .intervals import EMPTY, IntervalSet

TCP, UDP, SCTP, ICMP, ICMPV6, OTHER = "TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER"
PORT_PROTOCOLS = (TCP, UDP, SCTP)
PROTOCOLS = (TCP, UDP, SCTP, ICMP, ICMPV6, OTHER)
PROTOCOL_NUMBERS = {ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132}
_BY_NUMBER = {v: k for k, v in PROTOCOL_NUMBERS.items()}

_DOMAIN = {
    TCP: IntervalSet.span(1, 65535),
    UDP: IntervalSet.span(1, 65535),
    SCTP: IntervalSet.span(1, 65535),
    ICMP: IntervalSet.span(0, 65535),
    ICMPV6: IntervalSet.span(0, 65535),
    OTHER: IntervalSet.span(0, 255) - IntervalSet((n, n) for n in PROTOCOL_NUMBERS.values()),
}
_ORDER = {p: i for i, p in enumerate(PROTOCOLS)}


def canonical_protocol(name: str | int) -> str | None:
    """Map a protocol name or number (as Kubernetes or Calico spell it) to our key; None if unknown.

    A number of a protocol we name (6, 17, ...) maps to that name. Any other number 0..255 is returned as
    ``"OTHER"``; callers use `protocol_number_set` to keep the exact number.
    """
    if isinstance(name, bool):
        return None
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        number = int(name)
        if 0 <= number <= 255:
            return _BY_NUMBER.get(number, OTHER)
        return None
    upper = str(name).upper()
    for proto in PROTOCOLS:
        if proto.upper() == upper:
            return proto
    if upper == "UDPLITE":
        return OTHER
    return None


def protocol_number_set(name: str | int) -> "PortSet":
    """Every value of one protocol, given by name or number (Calico `protocol:`)."""
    proto = canonical_protocol(name)
    if proto is None:
        raise ValueError(f"unknown protocol {name!r}")
    if proto != OTHER:
        return PortSet.protocol(proto)
    number = 136 if str(name).upper() == "UDPLITE" else int(name)
    return PortSet({OTHER: IntervalSet.span(number, number)})


class PortSet:
    """An immutable set of (protocol, port) values; canonical, hashable, with ``| & - <=``."""

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[str, IntervalSet] | Iterable[tuple[str, IntervalSet]] = ()):
        pairs = items.items() if isinstance(items, Mapping) else items
        merged: dict[str, IntervalSet] = {}
        for proto, values in pairs:
            if proto not in _DOMAIN:
                raise ValueError(f"unknown protocol {proto!r}")
            merged[proto] = merged.get(proto, EMPTY) | (values & _DOMAIN[proto])
        self._items: tuple[tuple[str, IntervalSet], ...] = tuple(
            sorted(((p, v) for p, v in merged.items() if v), key=lambda pv: _ORDER[pv[0]])
        )
        self._hash = hash(self._items)

    @classmethod
    def _canonical(cls, items: tuple[tuple[str, IntervalSet], ...]) -> "PortSet":
        """From items already canonical (set operations on canonical sets): skips normalizing, which dominates
        the cost of the engine's set algebra."""
        obj = cls.__new__(cls)
        obj._items = items
        obj._hash = hash(items)
        return obj

    # --- constructors ------------------------------------------------------------------------------------------
    @classmethod
    def all(cls) -> "PortSet":
        return ALL

    @classmethod
    def empty(cls) -> "PortSet":
        return NONE

    @classmethod
    def protocol(cls, proto: str) -> "PortSet":
        return cls({proto: _DOMAIN[proto]})

    @classmethod
    def ports(cls, proto: str, low: int, high: int | None = None) -> "PortSet":
        return cls({proto: IntervalSet.span(low, low if high is None else high)})

    @classmethod
    def icmp(cls, proto: str, icmp_type: int | None = None, code: int | None = None) -> "PortSet":
        """ICMP or ICMPv6 restricted to a type (all its codes) or a type and code."""
        if icmp_type is None:
            return cls.protocol(proto)
        if code is None:
            return cls({proto: IntervalSet.span(icmp_type * 256, icmp_type * 256 + 255)})
        return cls({proto: IntervalSet.span(icmp_type * 256 + code, icmp_type * 256 + code)})

    # --- algebra -----------------------------------------------------------------------------------------------
    def get(self, proto: str) -> IntervalSet:
        for p, v in self._items:
            if p == proto:
                return v
        return EMPTY

    def __or__(self, other: "PortSet") -> "PortSet":
        if not other._items or self is other:
            return self
        if not self._items:
            return other
        merged = dict(self._items)
        for p, v in other._items:
            merged[p] = merged[p] | v if p in merged else v
        return PortSet._canonical(tuple(sorted(merged.items(), key=lambda pv: _ORDER[pv[0]])))

    def __and__(self, other: "PortSet") -> "PortSet":
        if not self._items or not other._items:
            return NONE
        if self is other:
            return self
        theirs = dict(other._items)
        out = []
        for p, v in self._items:
            if p in theirs:
                both = v & theirs[p]
                if both:
                    out.append((p, both))
        return PortSet._canonical(tuple(out))

    def __sub__(self, other: "PortSet") -> "PortSet":
        if not self._items or not other._items:
            return self
        if self is other:
            return NONE
        theirs = dict(other._items)
        out = []
        for p, v in self._items:
            rest = v - theirs[p] if p in theirs else v
            if rest:
                out.append((p, rest))
        return PortSet._canonical(tuple(out))

    def complement(self) -> "PortSet":
        return ALL - self

    def __le__(self, other: "PortSet") -> bool:
        return not (self - other)

    def __ge__(self, other: "PortSet") -> bool:
        return other <= self

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self._items == other._items

    def __hash__(self) -> int:
        return self._hash

    def contains(self, proto: str, port: int | None = None) -> bool:
        """Whether one protocol/port is in the set; ``port=None`` asks for the whole protocol."""
        values = self.get(proto)
        if port is None:
            return values == _DOMAIN[proto]
        return port in values

    def protocols(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self._items)

    def items(self) -> tuple[tuple[str, IntervalSet], ...]:
        return self._items

    def is_all(self) -> bool:
        return self == ALL

    # --- presentation ------------------------------------------------------------------------------------------
    def to_contract(self, protocols: Iterable[str] = PORT_PROTOCOLS) -> list[dict]:
        """The JSON form of DESIGN.md: ``[{"protocol": "TCP", "ports": [[80, 80]]}]``.

        Port protocols always carry ``ports``; ICMP/ICMPv6 carry no ports when the whole protocol is allowed,
        otherwise ``types`` as ``[type, code-low, code-high]`` triples; OTHER lists protocol ``numbers``.
        Only `protocols` are listed: the caller decides which are relevant for the cluster at hand.
        """
        wanted = set(protocols)
        out = []
        for proto, values in self._items:
            if proto not in wanted:
                continue
            if proto in PORT_PROTOCOLS:
                out.append({"protocol": proto, "ports": [[lo, hi] for lo, hi in values]})
            elif proto in (ICMP, ICMPV6):
                entry: dict = {"protocol": proto}
                if values != _DOMAIN[proto]:
                    entry["types"] = _icmp_triples(values)
                out.append(entry)
            else:
                out.append({"protocol": "OTHER", "numbers": [[lo, hi] for lo, hi in values]})
        return out

    def __str__(self) -> str:
        if not self._items:
            return "none"
        if self == ALL:
            return "all"
        return self.short(PROTOCOLS)

    def short(self, protocols: Iterable[str] = PROTOCOLS) -> str:
        """Compact text for table cells: ``80,443/TCP 53/UDP``; ``all`` when every listed protocol is whole."""
        wanted = [p for p in PROTOCOLS if p in set(protocols)]
        shown = [(p, self.get(p)) for p in wanted if self.get(p)]
        if not shown:
            return "-"
        if all(self.get(p) == _DOMAIN[p] for p in wanted):
            return "all"
        parts = []
        for proto, values in shown:
            if values == _DOMAIN[proto]:
                parts.append(f"*/{proto}" if proto in PORT_PROTOCOLS else proto)
            elif proto in PORT_PROTOCOLS:
                parts.append(f"{values}/{proto}")
            elif proto in (ICMP, ICMPV6):
                parts.append(f"{proto}(" + ",".join(_icmp_text(t) for t in _icmp_triples(values)) + ")")
            else:
                parts.append(f"protocol {values}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"PortSet({self})"


def _icmp_triples(values: IntervalSet) -> list[list[int]]:
    out = []
    for lo, hi in values:
        for icmp_type in range(lo >> 8, (hi >> 8) + 1):
            code_lo = lo & 0xFF if icmp_type == lo >> 8 else 0
            code_hi = hi & 0xFF if icmp_type == hi >> 8 else 255
            out.append([icmp_type, code_lo, code_hi])
    return out


def _icmp_text(triple: list[int]) -> str:
    icmp_type, lo, hi = triple
    if lo == 0 and hi == 255:
        return f"type {icmp_type}"
    if lo == hi:
        return f"type {icmp_type} code {lo}"
    return f"type {icmp_type} codes {lo}-{hi}"


ALL = PortSet(_DOMAIN)
NONE = PortSet()
PORTS_ONLY = PortSet({p: _DOMAIN[p] for p in PORT_PROTOCOLS})


def parse_port_text(text: str) -> tuple[str, int | None]:
    """Parse the CLI's ``80/TCP``, ``53/udp``, ``80`` (TCP) or ``ICMP`` into (protocol, port)."""
    raw = text.strip()
    if "/" in raw:
        port_text, proto_text = raw.split("/", 1)
    elif raw.isdigit():
        port_text, proto_text = raw, TCP
    else:
        port_text, proto_text = "", raw
    proto = canonical_protocol(proto_text)
    if proto is None or proto == OTHER:
        raise ValueError(f"unknown protocol in {text!r}: use TCP, UDP, SCTP, ICMP or ICMPv6")
    if not port_text:
        if proto in PORT_PROTOCOLS:
            raise ValueError(f"{text!r} needs a port number, e.g. 80/{proto}")
        return proto, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port in {text!r} must be a number from 1 to 65535")
    if proto not in PORT_PROTOCOLS:
        raise ValueError(f"{proto} has no ports: write just {proto}")
    return proto, int(port_text)


def port_atoms(sets: "list[PortSet] | tuple[PortSet, ...]") -> list[tuple[PortSet, frozenset[int]]]:
    """Split the union of `sets` into atoms: the largest pieces that every set either holds whole or not at all.

    Returns (atom, indices of the sets that hold it), one entry per distinct membership, atoms disjoint. It is what
    turns a partition of peers with their own port sets into a union of (peers, ports) terms: the peers allowed an
    atom are those of every set that holds it. Cost grows with the number of range boundaries, not with ports.
    """
    found: dict[frozenset[int], dict[str, list[tuple[int, int]]]] = {}
    for proto in PROTOCOLS:
        ranges = [s.get(proto).ranges for s in sets]
        cuts = sorted({edge for rs in ranges for low, high in rs for edge in (low, high + 1)})
        if not cuts:
            continue
        for low, nxt in zip(cuts, cuts[1:]):
            members = frozenset(i for i, rs in enumerate(ranges) if _covers(rs, low))
            if members:
                found.setdefault(members, {}).setdefault(proto, []).append((low, nxt - 1))
    return [(PortSet({p: IntervalSet(rs) for p, rs in by_proto.items()}), members)
            for members, by_proto in found.items()]


def _covers(ranges: tuple[tuple[int, int], ...], value: int) -> bool:
    """Whether sorted, disjoint `ranges` hold `value` (binary search)."""
    low, high = 0, len(ranges)
    while low < high:
        mid = (low + high) // 2
        if ranges[mid][1] < value:
            low = mid + 1
        else:
            high = mid
    return low < len(ranges) and ranges[low][0] <= value
