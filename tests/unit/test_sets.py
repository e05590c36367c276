"""Set algebra of the value types: IntervalSet, PortSet, IpSet (hypothesis against Python's own sets)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from auditor.engine.regions import AddressSpace
from auditor.sets.addresses import IpSet, parse_network
from auditor.sets.intervals import IntervalSet
from auditor.sets.ports import PortSet, parse_port_text

UNIVERSE = range(0, 40)
ranges = st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)).map(sorted).map(tuple), max_size=5)


def members(s: IntervalSet) -> set[int]:
    return {v for v in UNIVERSE if v in s}


def as_set(rs) -> set[int]:
    return {v for lo, hi in rs for v in range(lo, hi + 1)}


@given(ranges, ranges)
def test_interval_algebra_matches_python_sets(a, b):
    x, y = IntervalSet(a), IntervalSet(b)
    assert members(x | y) == as_set(a) | as_set(b)
    assert members(x & y) == as_set(a) & as_set(b)
    assert members(x - y) == as_set(a) - as_set(b)
    assert (x <= y) == (as_set(a) <= as_set(b))
    assert (x == y) == (as_set(a) == as_set(b))
    assert x.size() == len(as_set(a))


@given(ranges)
def test_interval_sets_are_canonical(a):
    x = IntervalSet(a)
    for (lo1, hi1), (lo2, _) in zip(x.ranges, x.ranges[1:]):
        assert lo1 <= hi1 < lo2 - 1  # sorted, disjoint, not adjacent
    assert IntervalSet(list(reversed(a))) == x and hash(IntervalSet(list(reversed(a)))) == hash(x)


port_sets = st.lists(
    st.tuples(st.sampled_from(["TCP", "UDP", "SCTP"]), st.integers(1, 120), st.integers(0, 30)), max_size=4
).map(lambda items: PortSet({}) if not items else
      __import__("functools").reduce(lambda acc, it: acc | PortSet.ports(it[0], it[1], it[1] + it[2]), items,
                                     PortSet({})))


@given(port_sets, port_sets, port_sets)
def test_port_set_laws(a, b, c):
    assert a | b == b | a and a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert a & (b | c) == (a & b) | (a & c)
    assert (a - b) & b == PortSet.empty()
    assert (a - b) | (a & b) == a
    assert a <= a | b and a & b <= a
    assert PortSet.all() - (PortSet.all() - a) == a


def test_port_set_contract_and_text():
    ports = PortSet.ports("TCP", 80) | PortSet.ports("TCP", 8000, 8099) | PortSet.ports("TCP", 81)
    assert ports.to_contract() == [{"protocol": "TCP", "ports": [[80, 81], [8000, 8099]]}]
    assert PortSet.all().to_contract() == [{"protocol": p, "ports": [[1, 65535]]} for p in ("TCP", "UDP", "SCTP")]
    assert PortSet.icmp("ICMP", 8).to_contract(["ICMP"]) == [{"protocol": "ICMP", "types": [[8, 0, 255]]}]
    assert PortSet.protocol("ICMP").to_contract(["ICMP"]) == [{"protocol": "ICMP"}]
    assert ports.short() == "80-81,8000-8099/TCP"
    assert PortSet.all().short(["TCP", "UDP", "SCTP"]) == "all"
    assert PortSet.empty().short() == "-"


def test_parse_port_text():
    assert parse_port_text("80/TCP") == ("TCP", 80)
    assert parse_port_text("53/udp") == ("UDP", 53)
    assert parse_port_text("8080") == ("TCP", 8080)
    assert parse_port_text("icmp") == ("ICMP", None)
    for bad in ("http", "70000/TCP", "80/GRE", "UDP", "8/ICMP"):
        try:
            parse_port_text(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} should be rejected")


v4_nets = st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)).map(
    lambda t: ipaddress.ip_network((t[0] >> (32 - t[1]) << (32 - t[1]), t[1])))
probe_addresses = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@given(st.lists(v4_nets, min_size=1, max_size=4), st.lists(v4_nets, max_size=3), st.lists(probe_addresses, max_size=20))
def test_ipset_membership_matches_ipaddress(included, excluded, probes):
    ips = IpSet.of(*included) - IpSet.of(*excluded)
    for addr in probes:
        want = any(addr in n for n in included) and not any(addr in n for n in excluded)
        assert ips.contains(addr) == want
    # networks() covers exactly the set
    assert IpSet.of(*ips.networks()) == ips


@given(st.lists(v4_nets, max_size=6), st.lists(probe_addresses, min_size=1, max_size=20))
def test_address_regions_partition_the_space(nets, probes):
    space = AddressSpace(nets)
    for addr in probes:
        region = space.region_of(addr)
        inside = [r for r in space.regions
                  if (IpSet.of(r.cidr) - IpSet.of(*r.excepts)).contains(addr)]
        assert inside == [region]  # exactly one region holds every address
    for net in nets:  # every named network is an exact union of regions
        union = IpSet()
        for index in space.regions_in([net]):
            r = space.regions[index]
            union = union | (IpSet.of(r.cidr) - IpSet.of(*r.excepts))
        assert union == IpSet.of(net)


def test_ipv6_block_with_except():
    block = IpSet.of("2001:db8::/32") - IpSet.of("2001:db8:1::/48")
    assert block.contains("2001:db8:2::1") and not block.contains("2001:db8:1::5")
    assert not block.contains("10.0.0.1")
    assert parse_network("10.0.0.1/8") == ipaddress.ip_network("10.0.0.0/8")


def test_manifest_loader_gives_pyyaml_results():
    """The faster manifest loader must read YAML exactly as PyYAML's safe loader does."""
    import yaml

    from auditor.sources.documents import _Loader
    text = """
a: 1
b: 0x1F
c: "80"
d: yes
e: ~
f: 1.5
g: [1, two, "3", {x: y}]
h: &anchor {k: v}
i: *anchor
j:
  <<: *anchor
  l: m
k: 2026-11-26
l: !!str 42
m: "a\\tb"
---
- plain
- 'single'
- !!binary aGVsbG8=
"""
    assert list(yaml.load_all(text, Loader=_Loader)) == list(yaml.load_all(text, Loader=yaml.SafeLoader))
    loaded = list(yaml.load_all(text, Loader=_Loader))[0]
    assert loaded["h"] is loaded["i"]  # aliases are the same object, as in PyYAML
