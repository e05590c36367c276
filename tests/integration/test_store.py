"""The snapshot store in a ConfigMap, on the real API server: round trip, first run, a foreign ConfigMap."""

from __future__ import annotations

import pytest

from auditor.sources.live import api_client
from auditor.sources.manifests import load_manifests
from auditor.sources.store import KEY, Store, StoreError, load_previous, save


def test_store_round_trip(apiserver):
    apiserver.request("POST", "/api/v1/namespaces", {"metadata": {"name": "store-rt"}})
    client = api_client(apiserver.kubeconfig, apiserver.context)
    store = Store("store-rt", "baseline")
    assert load_previous(client, store) is None  # first run
    state = load_manifests(["examples/shop"])
    size = save(client, store, state)
    assert 0 < size < 1024 * 1024
    again = load_previous(client, store)
    assert again.pods == state.pods and again.policies == state.policies
    save(client, store, state)  # the second run replaces it
    status, cm = apiserver.request("GET", "/api/v1/namespaces/store-rt/configmaps/baseline")
    assert status == 200 and set(cm["binaryData"]) == {KEY}


def test_store_refuses_a_foreign_configmap(apiserver):
    apiserver.request("POST", "/api/v1/namespaces", {"metadata": {"name": "store-foreign"}})
    apiserver.request("POST", "/api/v1/namespaces/store-foreign/configmaps",
                      {"metadata": {"name": "app-config"}, "data": {"x": "y"}})
    client = api_client(apiserver.kubeconfig, apiserver.context)
    with pytest.raises(StoreError, match="holds no netaudit snapshot"):
        load_previous(client, Store("store-foreign", "app-config"))


def test_store_parse():
    assert Store.parse("configmap:netaudit/baseline") == Store("netaudit", "baseline")
    for bad in ("secret:a/b", "configmap:a", "configmap:/b"):
        with pytest.raises(StoreError):
            Store.parse(bad)
