"""The ConfigMap store refuses a snapshot that cannot fit, instead of truncating it."""

from __future__ import annotations

import os

import pytest

from auditor.model import ClusterState, PolicyObject
from auditor.sources.store import StoreError, decode, encode


def test_oversized_snapshot_is_refused():
    noise = os.urandom(900 * 1024).hex()  # incompressible, ~1.8 MB as text
    state = ClusterState(policies=[PolicyObject("v1", "X", "big", "ns", {"blob": noise})])
    with pytest.raises(StoreError, match="more than a ConfigMap can hold"):
        encode(state)


def test_small_snapshot_round_trips():
    state = ClusterState(policies=[PolicyObject("networking.k8s.io/v1", "NetworkPolicy", "p", "ns",
                                                {"podSelector": {}})])
    assert decode(encode(state), "test").policies == state.policies


def test_damaged_store_is_a_clear_error():
    with pytest.raises(StoreError, match="damaged"):
        decode("bm90IGd6aXA=", "ConfigMap netaudit/baseline")
