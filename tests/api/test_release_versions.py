"""Releases named by version: promote, rollback, lookup, and versions in history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient


def test_promote_and_rollback_by_version(
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    make_channel("beta")
    first = publish("stable", "1.0.0")
    second = publish("beta", "1.1.0")
    promoted = client.post(
        "/api/v1/channels/stable/promote", json={"version": "1.1.0"}, headers=admin_headers
    )
    assert promoted.status_code == 200 and promoted.get_json()["id"] == second["id"]
    back = client.post(
        "/api/v1/channels/stable/rollback", json={"version": "1.0.0"}, headers=admin_headers
    )
    assert back.status_code == 200 and back.get_json()["head"]["id"] == first["id"]
    history = client.get("/api/v1/channels/stable/history", headers=admin_headers).get_json()
    rollback, promote, publish_ = history["items"]
    assert (rollback["action"], rollback["version"], rollback["previousVersion"]) == (
        "rollback",
        "1.0.0",
        "1.1.0",
    )
    assert (promote["version"], promote["previousVersion"]) == ("1.1.0", "1.0.0")
    assert (publish_["version"], publish_["previousVersion"]) == ("1.0.0", None)


def test_version_refusals(
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    make_channel("beta")
    publish("stable", "1.0.0")
    publish("beta", "2.0.0")
    unknown = client.post(
        "/api/v1/channels/stable/promote", json={"version": "9.9.9"}, headers=admin_headers
    )
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "RELEASE_NOT_FOUND"
    both = client.post(
        "/api/v1/channels/stable/promote",
        json={"version": "1.0.0", "releaseId": "x"},
        headers=admin_headers,
    )
    assert both.status_code == 422 and "version" in both.get_json()["errors"]
    neither = client.post("/api/v1/channels/stable/promote", json={}, headers=admin_headers)
    assert neither.status_code == 422 and "releaseId" in neither.get_json()["errors"]
    for version in ("9.9.9", "2.0.0"):
        answer = client.post(
            "/api/v1/channels/stable/rollback", json={"version": version}, headers=admin_headers
        )
        assert answer.status_code == 422
        assert answer.get_json()["code"] == "NOT_IN_CHANNEL_HISTORY"


def test_lookup_by_version(
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    published = publish("stable", "1.0.0+build.1")
    found = client.get(
        "/api/v1/releases", query_string={"version": "1.0.0+build.1"}, headers=admin_headers
    )
    assert found.status_code == 200 and found.get_json()["id"] == published["id"]
    missing = client.get(
        "/api/v1/releases", query_string={"version": "1.0.0"}, headers=admin_headers
    )
    assert missing.status_code == 404 and missing.get_json()["code"] == "RELEASE_NOT_FOUND"
    assert client.get("/api/v1/releases", headers=admin_headers).status_code == 422
