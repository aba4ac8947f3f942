"""Publish and promote warnings (KIND_CHANGED, KEY_REMOVED) and strictValues refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import AuditEvent, Channel, ChannelEvent, ChannelRelease, Release
from tests.api.conftest import release_body
from tests.test_errors import assert_problem

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]
Count = Callable[[Any], int]

BEFORE = {
    "app": {"replicas": 2, "env": {"A": "1"}},
    "hosts": ["a"],
    "flag": "true",
    "dropped": {"deep": 1},
}
AFTER = {"app": {"replicas": "2", "env": {}}, "hosts": {"primary": "a"}, "flag": True}
# In the order values are walked (sorted keys), the same every time.
WARNINGS = [
    {"code": "KEY_REMOVED", "path": "app.env.A", "from": "string", "to": None},
    {"code": "KIND_CHANGED", "path": "app.replicas", "from": "number", "to": "string"},
    {"code": "KEY_REMOVED", "path": "dropped", "from": "map", "to": None},
    {"code": "KIND_CHANGED", "path": "flag", "from": "string", "to": "bool"},
    {"code": "KIND_CHANGED", "path": "hosts", "from": "list", "to": "map"},
]


def post_release(
    client: FlaskClient, headers: Headers, channel: str, version: str, values: dict[str, Any]
) -> Any:
    return client.post(
        f"/api/v1/channels/{channel}/releases",
        json=release_body(version, values=values),
        headers=headers,
    )


def promote(client: FlaskClient, headers: Headers, channel: str, release_id: str) -> Any:
    return client.post(
        f"/api/v1/channels/{channel}/promote", json={"releaseId": release_id}, headers=headers
    )


def head_id(client: FlaskClient, headers: Headers, channel: str = "stable") -> str | None:
    head = client.get(f"/api/v1/channels/{channel}", headers=headers).get_json()["head"]
    return head["id"] if head else None


def test_publish_warns_against_the_head(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    make_channel()
    first = post_release(client, admin_headers, "stable", "0.1.0", BEFORE)
    assert first.status_code == 201 and first.get_json()["warnings"] == []
    second = post_release(client, admin_headers, "stable", "0.2.0", AFTER)
    assert second.status_code == 201
    body = second.get_json()
    assert body["warnings"] == WARNINGS
    assert body["version"] == "0.2.0" and body["channels"] == ["stable"]
    assert head_id(client, admin_headers) == body["id"]  # a warning does not stop it
    # Replaying the same publish changes nothing, so it warns about nothing.
    again = post_release(client, admin_headers, "stable", "0.2.0", AFTER)
    assert again.status_code == 200 and again.get_json()["warnings"] == []


def test_warnings_compare_values_as_served_over_base_values(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    make_channel(values={"app": {"replicas": 1}, "region": "eu"})
    post_release(client, admin_headers, "stable", "0.1.0", {"app": {"replicas": 3}, "x": 1})
    # replicas leaves the release but stays in the base values: nothing an override loses.
    response = post_release(client, admin_headers, "stable", "0.2.0", {"x": 2})
    assert response.get_json()["warnings"] == []
    response = post_release(client, admin_headers, "stable", "0.3.0", {})
    assert response.get_json()["warnings"] == [
        {"code": "KEY_REMOVED", "path": "x", "from": "number", "to": None}
    ]


def test_warning_paths_bracket_keys_with_dots(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    make_channel()
    post_release(client, admin_headers, "stable", "0.1.0", {"ann": {"a.io/x": "1"}})
    response = post_release(client, admin_headers, "stable", "0.2.0", {"ann": {"a.io/x": 1}})
    assert response.get_json()["warnings"] == [
        {"code": "KIND_CHANGED", "path": 'ann["a.io/x"]', "from": "string", "to": "number"}
    ]


def test_promote_warns_against_the_head(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    make_channel()
    make_channel("beta")
    post_release(client, admin_headers, "stable", "0.1.0", BEFORE)
    candidate = post_release(client, admin_headers, "beta", "0.2.0", AFTER).get_json()
    response = promote(client, admin_headers, "stable", candidate["id"])
    assert response.status_code == 200
    assert response.get_json()["warnings"] == WARNINGS
    assert response.get_json()["id"] == candidate["id"]
    # Promoting the head again changes nothing and warns about nothing.
    assert promote(client, admin_headers, "stable", candidate["id"]).get_json()["warnings"] == []
    # Promoting into an empty channel has no head to compare with.
    make_channel("empty")
    assert promote(client, admin_headers, "empty", candidate["id"]).get_json()["warnings"] == []


def test_strict_values_is_set_on_create_and_patch_and_shown(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    assert make_channel()["strictValues"] is False
    assert make_channel("beta", strictValues=True)["strictValues"] is True
    listed = client.get("/api/v1/channels", headers=admin_headers).get_json()["items"]
    assert {c["name"]: c["strictValues"] for c in listed} == {"beta": True, "stable": False}
    audits = count(AuditEvent)
    patched = client.patch(
        "/api/v1/channels/stable", json={"strictValues": True}, headers=admin_headers
    )
    assert patched.status_code == 200 and patched.get_json()["strictValues"] is True
    assert client.get("/api/v1/channels/stable", headers=admin_headers).get_json()["strictValues"]
    assert count(AuditEvent) == audits + 1  # the change is audited
    bad = client.patch(
        "/api/v1/channels/stable", json={"strictValues": "sometimes"}, headers=admin_headers
    )
    assert_problem(bad, 422, "VALIDATION_FAILED")


def test_strict_channel_refuses_unsafe_publish_and_writes_nothing(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel(strictValues=True)
    first = post_release(client, admin_headers, "stable", "0.1.0", BEFORE).get_json()
    counts = [count(model) for model in (Release, ChannelRelease, ChannelEvent, AuditEvent)]
    response = post_release(client, admin_headers, "stable", "0.2.0", AFTER)
    problem = assert_problem(response, 422, "UNSAFE_VALUES_CHANGE")
    assert set(problem["errors"]) == {f"values.{w['path']}" for w in WARNINGS}
    assert "values.app.replicas" in problem["detail"] and "strictValues" in problem["detail"]
    assert [count(model) for model in (Release, ChannelRelease, ChannelEvent, AuditEvent)] == counts
    assert head_id(client, admin_headers) == first["id"]
    # A safe change (new keys, same kinds) still goes through on a strict channel.
    safe = {**BEFORE, "app": {**BEFORE["app"], "replicas": 3}, "new": {"k": "v"}}
    response = post_release(client, admin_headers, "stable", "0.2.0", safe)
    assert response.status_code == 201 and response.get_json()["warnings"] == []


def test_strict_channel_refuses_unsafe_promote_and_writes_nothing(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel(strictValues=True)
    make_channel("beta")
    first = post_release(client, admin_headers, "stable", "0.1.0", BEFORE).get_json()
    candidate = post_release(client, admin_headers, "beta", "0.2.0", AFTER).get_json()
    counts = [count(model) for model in (ChannelRelease, ChannelEvent, AuditEvent)]
    response = promote(client, admin_headers, "stable", candidate["id"])
    assert_problem(response, 422, "UNSAFE_VALUES_CHANGE")
    assert [count(model) for model in (ChannelRelease, ChannelEvent, AuditEvent)] == counts
    assert head_id(client, admin_headers) == first["id"]
    # Turning strictValues off lets the same promote through, with its warnings.
    client.patch("/api/v1/channels/stable", json={"strictValues": False}, headers=admin_headers)
    response = promote(client, admin_headers, "stable", candidate["id"])
    assert response.status_code == 200
    assert response.get_json()["warnings"] == WARNINGS
    assert head_id(client, admin_headers) == candidate["id"]


def test_strict_values_column_is_what_decides(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, app: Flask
) -> None:
    # The stored flag, not the request, decides: set it in the database directly.
    make_channel()
    post_release(client, admin_headers, "stable", "0.1.0", {"a": 1})
    with app.app_context():
        session = get_session()
        channel = session.scalars(select(Channel).where(Channel.name == "stable")).one()
        channel.strict_values = True
        session.commit()
    response = post_release(client, admin_headers, "stable", "0.2.0", {})
    assert_problem(response, 422, "UNSAFE_VALUES_CHANGE")


def test_base_values_patch_warns_against_the_head_as_served(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    # The head's own values leave room for the base layer to change what it serves.
    make_channel(values={"tier": {"size": "small"}, "region": "eu"})
    post_release(client, admin_headers, "stable", "0.1.0", {"app": {"replicas": 2}})
    response = client.patch(
        "/api/v1/channels/stable", json={"values": {"tier": "small"}}, headers=admin_headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["warnings"] == [
        {"code": "KEY_REMOVED", "path": "region", "from": "string", "to": None},
        {"code": "KIND_CHANGED", "path": "tier", "from": "map", "to": "string"},
    ]
    assert response.get_json()["values"] == {"tier": "small"}
    # A safe change, or a channel without a head, warns about nothing.
    safe = client.patch(
        "/api/v1/channels/stable",
        json={"values": {"tier": "large", "new": 1}},
        headers=admin_headers,
    )
    assert safe.status_code == 200 and safe.get_json()["warnings"] == []


def test_strict_channel_refuses_unsafe_base_values_and_writes_nothing(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count, app: Flask
) -> None:
    def stored_bodies() -> list[str]:
        with app.app_context():
            return list(get_session().scalars(select(ChannelRelease.body)))

    make_channel(values={"tier": {"size": "small"}}, strictValues=True)
    post_release(client, admin_headers, "stable", "0.1.0", {"app": {"replicas": 2}})
    served = stored_bodies()
    audits = count(AuditEvent)
    response = client.patch("/api/v1/channels/stable", json={"values": {}}, headers=admin_headers)
    problem = assert_problem(response, 422, "UNSAFE_VALUES_CHANGE")
    assert set(problem["errors"]) == {"values.tier"}
    assert "these base values" in problem["detail"]
    channel = client.get("/api/v1/channels/stable", headers=admin_headers).get_json()
    assert channel["values"] == {"tier": {"size": "small"}}
    assert count(AuditEvent) == audits
    assert stored_bodies() == served
