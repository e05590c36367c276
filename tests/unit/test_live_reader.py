"""The live reader's error handling, with the transport stubbed: retries with backoff on 429/5xx and connection
errors, a fresh list when a continue token expires (410), 403 and 404 as values, 401 and unreachable as errors.
(The real API server paths are in tests/integration/test_live_source.py.)"""

from __future__ import annotations

import json

import pytest
from urllib3.exceptions import NewConnectionError

from auditor.sources import live


class StubClient:
    class configuration:
        host = "https://stub:6443"


def reader_with(responses, monkeypatch, page_size=2):
    calls = []
    sleeps = []

    def fake(client, path, query):
        calls.append((path, dict(query)))
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        status, body, headers = item
        return status, "reason", headers, json.dumps(body).encode()
    monkeypatch.setattr(live, "_raw_get", fake)
    return live.Reader(StubClient(), sleep=sleeps.append, page_size=page_size), calls, sleeps


POD = live.Resource("", "v1", "pods", "Pod")


def page(names, token=None):
    return (200, {"items": [{"metadata": {"name": n}} for n in names], "metadata": {"continue": token}}, {})


def test_retries_429_honouring_retry_after_then_succeeds(monkeypatch):
    reader, calls, sleeps = reader_with([(429, {}, {"Retry-After": "3"}), (503, {}, {}), page(["a"])], monkeypatch)
    assert [i["metadata"]["name"] for i in reader.list(POD)] == ["a"]
    assert sleeps == [3.0, 1.0]  # Retry-After first, then the doubled backoff


def test_gives_up_after_bounded_attempts(monkeypatch):
    reader, calls, sleeps = reader_with([(500, {"message": "etcd down"}, {})] * 5, monkeypatch)
    with pytest.raises(live.LiveSourceError, match="500.*etcd down"):
        list(reader.list(POD))
    assert len(calls) == live.MAX_ATTEMPTS and len(sleeps) == live.MAX_ATTEMPTS - 1


def test_connection_errors_retry_then_say_unreachable(monkeypatch):
    errors = [NewConnectionError(None, "connection refused") for _ in range(5)]
    reader, calls, _ = reader_with(errors, monkeypatch)
    with pytest.raises(live.LiveSourceError, match="cannot reach the API server at https://stub:6443"):
        list(reader.list(POD))


def test_pages_are_followed_and_expired_token_restarts_the_list(monkeypatch):
    responses = [page(["a", "b"], "t1"), (410, {"message": "continue token expired"}, {}),
                 page(["a", "b"], "t2"), page(["c"])]
    reader, calls, _ = reader_with(responses, monkeypatch)
    assert [i["metadata"]["name"] for i in reader.list(POD)] == ["a", "b", "c"]
    assert [q.get("continue") for _, q in calls] == [None, "t1", None, "t2"]
    assert all(q["limit"] == "2" for _, q in calls)


def test_items_get_kind_and_api_version(monkeypatch):
    reader, _, _ = reader_with([page(["a"])], monkeypatch)
    item = next(iter(reader.list(POD)))
    assert item["kind"] == "Pod" and item["apiVersion"] == "v1"


def test_forbidden_and_missing_are_values(monkeypatch):
    reader, _, _ = reader_with([(403, {"message": "pods is forbidden"}, {}), (404, {}, {})], monkeypatch)
    with pytest.raises(live.Forbidden):
        list(reader.list(POD))
    with pytest.raises(live.NotFound):
        list(reader.list(POD))


def test_unauthorized_is_fatal(monkeypatch):
    reader, _, _ = reader_with([(401, {}, {})], monkeypatch)
    with pytest.raises(live.LiveSourceError, match="401"):
        list(reader.list(POD))
