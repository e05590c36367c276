"""Sets of integers stored as sorted, merged, inclusive ranges.

Both port sets (per protocol) and address sets (IPv4/IPv6 as integers) are built on this one value type, so the
set algebra is written and tested once. Values are immutable and canonical: two sets with the same members have
the same `ranges` tuple, which makes them usable as dictionary keys and cheap to compare.
"""

from __future__ import annotations

from typing import Iterable, Iterator


class IntervalSet:
    """An immutable set of integers as a tuple of disjoint, non-adjacent, sorted ``(low, high)`` ranges."""

    __slots__ = ("ranges", "_hash")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()):
        self.ranges: tuple[tuple[int, int], ...] = _normalize(ranges)
        self._hash = hash(self.ranges)

    @classmethod
    def _from_normalized(cls, ranges: tuple[tuple[int, int], ...]) -> "IntervalSet":
        obj = cls.__new__(cls)
        obj.ranges = ranges
        obj._hash = hash(ranges)
        return obj

    @classmethod
    def span(cls, low: int, high: int) -> "IntervalSet":
        if low > high:
            return EMPTY
        return cls._from_normalized(((low, high),))

    # --- set algebra -------------------------------------------------------------------------------------------
    def __or__(self, other: "IntervalSet") -> "IntervalSet":
        if not other.ranges:
            return self
        if not self.ranges:
            return other
        return IntervalSet(self.ranges + other.ranges)

    def __and__(self, other: "IntervalSet") -> "IntervalSet":
        a, b = self.ranges, other.ranges
        if not a or not b:
            return EMPTY
        out = []
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet._from_normalized(tuple(out))

    def __sub__(self, other: "IntervalSet") -> "IntervalSet":
        a, b = self.ranges, other.ranges
        if not a or not b:
            return self
        out = []
        j = 0
        for lo, hi in a:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                if cur > hi:
                    break
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet._from_normalized(tuple(out))

    def __le__(self, other: "IntervalSet") -> bool:
        return not (self - other).ranges

    def __ge__(self, other: "IntervalSet") -> bool:
        return other <= self

    def __lt__(self, other: "IntervalSet") -> bool:
        return self != other and self <= other

    def __contains__(self, value: int) -> bool:
        lo_i, hi_i = 0, len(self.ranges)
        while lo_i < hi_i:
            mid = (lo_i + hi_i) // 2
            lo, hi = self.ranges[mid]
            if value < lo:
                hi_i = mid
            elif value > hi:
                lo_i = mid + 1
            else:
                return True
        return False

    def isdisjoint(self, other: "IntervalSet") -> bool:
        return not (self & other).ranges

    # --- value behaviour ---------------------------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self.ranges == other.ranges

    def __hash__(self) -> int:
        return self._hash

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.ranges)

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __repr__(self) -> str:
        return f"IntervalSet({list(self.ranges)!r})"

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)


def _normalize(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    items = sorted((int(lo), int(hi)) for lo, hi in ranges if lo <= hi)
    out: list[tuple[int, int]] = []
    for lo, hi in items:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


EMPTY = IntervalSet()
