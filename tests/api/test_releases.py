"""Releases over REST: publish, idempotency, refusals, promote, rollback, history, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import AuditEvent, Channel, ChannelEvent, ChannelRelease, Release
from deployserver.services.releases import get_release_by_version
from deployserver.specs.canonical import canonical_json, digest_of, etag_for
from tests.api.conftest import CHART, release_body
from tests.test_errors import assert_problem

Headers = dict[str, str]
Count = Callable[[Any], int]


def head_of(client: FlaskClient, headers: Headers, channel: str = "stable") -> Any:
    return client.get(f"/api/v1/channels/{channel}", headers=headers).get_json()["head"]


def test_publish_creates_release_and_moves_head(
    client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any], app: Flask
) -> None:
    make_channel("stable", values={"global": {"region": "us"}, "hosts": ["base"]})
    body = release_body(
        "0.83.1",
        values={"app": {"n": 1.0}, "hosts": ["rel"]},
        metadata={"gitSha": "abc"},
        notes="First GA",
    )
    response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
    assert response.status_code == 201
    release = response.get_json()
    assert release["version"] == "0.83.1"
    assert release["chart"] == CHART
    assert release["metadata"] == {"gitSha": "abc"}
    assert release["notes"] == "First GA"
    assert release["channels"] == ["stable"]
    assert release["createdBy"].startswith("token:")
    assert release["createdAt"].endswith("Z")
    assert release.pop("warnings") == []  # the first head replaces nothing
    own = {
        "chart": CHART,
        "metadata": {"gitSha": "abc"},
        "values": {"app": {"n": 1}, "hosts": ["rel"]},
    }
    assert release["digest"] == digest_of(own)
    assert head_of(client, admin_headers) == {"id": release["id"], "version": "0.83.1"}
    assert (
        client.get(f"/api/v1/releases/{release['id']}", headers=admin_headers).get_json() == release
    )
    with app.app_context():
        session = get_session()
        stored = session.get(Release, release["id"])
        assert stored is not None and stored.spec == canonical_json(own)
        channel = session.scalar(select(Channel).where(Channel.name == "stable"))
        served = session.get(ChannelRelease, (channel.id, release["id"]))
        assert served is not None
        expected = canonical_json(
            {
                "chart": CHART,
                "metadata": {
                    "gitSha": "abc",
                    "channel": "stable",
                    "version": "0.83.1",
                    "releaseId": release["id"],
                    "publishedAt": release["createdAt"],
                },
                "values": {"app": {"n": 1}, "global": {"region": "us"}, "hosts": ["rel", "base"]},
            }
        )
        assert served.body == expected
        assert served.etag == etag_for(expected)
        assert channel.head_release_id == release["id"]


def test_publish_from_yaml(
    client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any]
) -> None:
    make_channel("stable")
    body = {
        "version": "1.0.0",
        "chart": CHART,
        "valuesYaml": "global:\n  region: eu\nreconcileFrequency: 10m\n",
    }
    response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
    assert response.status_code == 201
    assert response.get_json()["values"] == {
        "global": {"region": "eu"},
        "reconcileFrequency": "10m",
    }


def test_same_version_same_digest_is_idempotent(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    count: Count,
) -> None:
    make_channel("stable")
    make_channel("beta")
    first = publish("stable", "1.0.0")
    audits, events = count(AuditEvent), count(ChannelEvent)
    for channel in ("stable", "beta"):
        again = client.post(
            f"/api/v1/channels/{channel}/releases",
            json=release_body("1.0.0"),
            headers=admin_headers,
        )
        assert again.status_code == 200
        assert again.get_json() == first
    assert count(Release) == 1
    assert (count(AuditEvent), count(ChannelEvent)) == (audits, events)
    assert head_of(client, admin_headers, "beta") is None  # use promote to move heads


def test_same_version_other_digest_is_409(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    count: Count,
) -> None:
    make_channel("stable")
    first = publish("stable", "1.0.0")
    audits = count(AuditEvent)
    response = client.post(
        "/api/v1/channels/stable/releases",
        json=release_body("1.0.0", values={"app": {"n": 2}}),
        headers=admin_headers,
    )
    assert_problem(response, 409, "VERSION_EXISTS")
    assert count(Release) == 1 and count(AuditEvent) == audits
    stored = client.get(f"/api/v1/releases/{first['id']}", headers=admin_headers).get_json()
    assert stored["values"] == {"app": {"n": 1}}


def test_notes_are_not_part_of_the_digest(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    first = publish("stable", "1.0.0", notes="one")
    again = client.post(
        "/api/v1/channels/stable/releases",
        json=release_body("1.0.0", notes="two"),
        headers=admin_headers,
    )
    assert again.status_code == 200
    assert again.get_json()["notes"] == "one" == first["notes"]


REFUSALS = [
    ({"version": "1.0"}, "version", "VALIDATION_FAILED"),
    ({"version": "v1.0.0"}, "version", "VALIDATION_FAILED"),
    ({"version": 1}, "version", "VALIDATION_FAILED"),
    ({"metadata": {"n": 1}}, "metadata.n", "VALIDATION_FAILED"),
    ({"metadata": {"ok": None}}, "metadata.ok", "VALIDATION_FAILED"),
    ({"metadata": {"channel": "x"}}, "metadata.channel", "VALIDATION_FAILED"),
    ({"metadata": {"releaseId": "x"}}, "metadata.releaseId", "VALIDATION_FAILED"),
    ({"metadata": {"publishedAt": "x"}}, "metadata.publishedAt", "VALIDATION_FAILED"),
    ({"metadata": {"version": "x"}}, "metadata.version", "VALIDATION_FAILED"),
    ({"values": {"a": {"b": None}}}, "values.a.b", "VALIDATION_FAILED"),
    ({"values": {"a": [1, None]}}, "values.a[1]", "VALIDATION_FAILED"),
    ({"values": ["a"]}, "values", "VALIDATION_FAILED"),
    ({"values": "a: 1"}, "values", "VALIDATION_FAILED"),
    ({"values": None}, "values", "VALIDATION_FAILED"),
    ({"chart": {"name": "operator-wandb"}}, "chart", "VALIDATION_FAILED"),
    ({"chart": {"url": "oci://r.example.com/op"}}, "chart.version", "VALIDATION_FAILED"),
    ({"chart": {"url": "https://c.example"}}, "chart.name", "VALIDATION_FAILED"),
    ({"chart": {"url": "nope", "name": "x"}}, "chart.url", "VALIDATION_FAILED"),
    ({"chart": {**CHART, "token": "x"}}, "chart.token", "VALIDATION_FAILED"),
    ({"chart": "https://charts.wandb.ai"}, "chart", "VALIDATION_FAILED"),
    (
        {"values": {"reconcileFrequency": "1 hour"}},
        "values.reconcileFrequency",
        "VALIDATION_FAILED",
    ),
    ({"values": {"reconcileFrequency": 3600}}, "values.reconcileFrequency", "VALIDATION_FAILED"),
    (
        {"values": {"reconcileFrequency": "\u0661m"}},
        "values.reconcileFrequency",
        "VALIDATION_FAILED",
    ),
    ({"version": "1\u0661.0.0"}, "version", "VALIDATION_FAILED"),
    # Past the columns: a 500 on PostgreSQL (version) and MariaDB (notes: TEXT is 64 KiB).
    ({"version": "1.0.0-" + "a" * 250}, "version", "VALIDATION_FAILED"),
    ({"notes": "x" * 65_536}, "notes", "VALIDATION_FAILED"),
    ({"notes": "\u00e9" * 32_768}, "notes", "VALIDATION_FAILED"),
    # NUL (PostgreSQL cannot store it) and lone surrogates (not UTF-8): 422, never a 500.
    ({"values": {"a": "x\x00y"}}, "values.a", "VALIDATION_FAILED"),
    ({"values": {"a": "\ud800"}}, "values.a", "VALIDATION_FAILED"),
    ({"values": {"a": {"\ud800": 1}}}, "values.a", "VALIDATION_FAILED"),
    ({"values": {"a\x00": 1}}, "values", "VALIDATION_FAILED"),
    ({"notes": "\ud800"}, "notes", "VALIDATION_FAILED"),
    ({"notes": "a\x00"}, "notes", "VALIDATION_FAILED"),
    ({"metadata": {"k": "\ud800"}}, "metadata.k", "VALIDATION_FAILED"),
    ({"metadata": {"k\x00": "v"}}, "metadata", "VALIDATION_FAILED"),
    ({"chart": {**CHART, "name": "\ud800"}}, "chart.name", "VALIDATION_FAILED"),
    ({"chart": {**CHART, "version": "1\x00"}}, "chart.version", "VALIDATION_FAILED"),
    ({"chart": {"path": "/c\x00"}}, "chart.path", "VALIDATION_FAILED"),
    (
        {"chart": {**CHART, "credentialSecret": {"name": "s", "usernameKey": "\ud800"}}},
        "chart.credentialSecret.usernameKey",
        "VALIDATION_FAILED",
    ),
    ({"values": None, "valuesYaml": 'a: "\\ud800"'}, "valuesYaml.a", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": 'a: "\\0"'}, "valuesYaml.a", "VALIDATION_FAILED"),
    ({"surprise": True}, "surprise", "VALIDATION_FAILED"),
    ({"notes": 5}, "notes", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "a: ["}, "valuesYaml", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "a: !!binary aGk="}, "valuesYaml", "VALIDATION_FAILED"),
    (
        {"values": None, "valuesYaml": "a: !!python/name:os.system"},
        "valuesYaml",
        "VALIDATION_FAILED",
    ),
    ({"values": None, "valuesYaml": "a: 2026-01-01"}, "valuesYaml", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "a:\n  1: x"}, "valuesYaml.a", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "a: null"}, "valuesYaml.a", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "- 1"}, "valuesYaml", "VALIDATION_FAILED"),
    ({"values": None, "valuesYaml": "{a: 1, a: 2}"}, "valuesYaml", "VALIDATION_FAILED"),
    ({"valuesYaml": "a: 1"}, "valuesYaml", "VALIDATION_FAILED"),  # and values: both given
    ({"values": {"global": "flat"}}, "values.global", "MERGE_CONFLICT"),
    ({"values": {"global": {"region": None}}}, "values.global.region", "VALIDATION_FAILED"),
    ({"values": {"global": {"region": 1}}}, "values.global.region", "MERGE_CONFLICT"),
    ({"values": {"hosts": {"a": "b"}}}, "values.hosts", "MERGE_CONFLICT"),
]


@pytest.mark.parametrize(("change", "field", "code"), REFUSALS)
def test_publish_refusals_store_nothing(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Count,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    make_channel("stable", values={"global": {"region": "us"}, "hosts": ["a"]})
    body = release_body("1.0.0")
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None or key != "values"}
    if change.get("values", "") is None and "valuesYaml" not in change:
        body["values"] = None
    audits = count(AuditEvent)
    response = client.post(
        "/api/v1/channels/stable/releases",
        data=json.dumps(body),
        content_type="application/json",
        headers=admin_headers,
    )
    problem = assert_problem(response, 422, code)
    assert field in problem["errors"], problem
    assert (count(Release), count(ChannelRelease), count(ChannelEvent)) == (0, 0, 0)
    assert count(AuditEvent) == audits
    assert head_of(client, admin_headers) is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Count,
    literal: str,
) -> None:
    make_channel("stable")
    raw = json.dumps(release_body("1.0.0")).replace('"n": 1', f'"n": {literal}')
    response = client.post(
        "/api/v1/channels/stable/releases",
        data=raw,
        content_type="application/json",
        headers=admin_headers,
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert list(problem["errors"]) == ["values.app.n"]
    assert count(Release) == 0


def test_malformed_json_is_400_and_oversized_is_413(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Count,
    app: Flask,
) -> None:
    make_channel("stable")
    response = client.post(
        "/api/v1/channels/stable/releases",
        data='{"version": "1.0.0",',
        content_type="application/json",
        headers=admin_headers,
    )
    assert_problem(response, 400, "MALFORMED_JSON")
    big = release_body("1.0.0", notes="x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    response = client.post("/api/v1/channels/stable/releases", json=big, headers=admin_headers)
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert count(Release) == 0


def test_publish_to_unknown_channel_is_404(
    client: FlaskClient, admin_headers: Headers, count: Count
) -> None:
    response = client.post(
        "/api/v1/channels/nope/releases", json=release_body(), headers=admin_headers
    )
    assert_problem(response, 404, "CHANNEL_NOT_FOUND")
    assert count(Release) == 0


def test_unknown_release_is_404(client: FlaskClient, admin_headers: Headers) -> None:
    for release_id in ("00000000-0000-0000-0000-000000000000", "x" * 100):
        assert_problem(
            client.get(f"/api/v1/releases/{release_id}", headers=admin_headers),
            404,
            "RELEASE_NOT_FOUND",
        )


def test_publisher_scope(
    client: FlaskClient,
    make_token: Callable[..., Headers],
    make_channel: Callable[..., Any],
    count: Count,
) -> None:
    make_channel("stable")
    make_channel("beta")
    scoped = make_token("publisher", ["beta"])
    viewer = make_token("viewer")
    for headers in (scoped, viewer):
        response = client.post(
            "/api/v1/channels/stable/releases", json=release_body(), headers=headers
        )
        assert_problem(response, 403, "FORBIDDEN")
    assert count(Release) == 0
    response = client.post("/api/v1/channels/beta/releases", json=release_body(), headers=scoped)
    assert response.status_code == 201
    release_id = response.get_json()["id"]
    for path, body in (("promote", {"releaseId": release_id}), ("rollback", {})):
        assert_problem(
            client.post(f"/api/v1/channels/stable/{path}", json=body, headers=scoped),
            403,
            "FORBIDDEN",
        )
        assert_problem(
            client.post(f"/api/v1/channels/beta/{path}", json=body, headers=viewer),
            403,
            "FORBIDDEN",
        )
    assert head_of(client, viewer, "stable") is None


def test_promote(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    app: Flask,
) -> None:
    make_channel("beta")
    make_channel("stable", values={"global": {"env": "prod"}})
    release = publish("beta", "1.0.0")
    response = client.post(
        "/api/v1/channels/stable/promote", json={"releaseId": release["id"]}, headers=admin_headers
    )
    assert response.status_code == 200
    promoted = response.get_json()
    assert promoted["id"] == release["id"] and promoted["digest"] == release["digest"]
    assert promoted["channels"] == ["beta", "stable"]
    assert head_of(client, admin_headers, "stable") == {"id": release["id"], "version": "1.0.0"}
    history = client.get("/api/v1/channels/stable/history", headers=admin_headers).get_json()[
        "items"
    ]
    assert [(e["action"], e["releaseId"], e["previousReleaseId"]) for e in history] == [
        ("promote", release["id"], None)
    ]
    with app.app_context():
        bodies = {
            name: body
            for name, body in get_session().execute(
                select(Channel.name, ChannelRelease.body).join(
                    ChannelRelease, ChannelRelease.channel_id == Channel.id
                )
            )
        }
    assert '"channel":"stable"' in bodies["stable"] and '"env":"prod"' in bodies["stable"]
    assert '"channel":"beta"' in bodies["beta"] and "prod" not in bodies["beta"]
    # Promoting the head again changes nothing.
    again = client.post(
        "/api/v1/channels/stable/promote", json={"releaseId": release["id"]}, headers=admin_headers
    )
    assert again.status_code == 200
    assert (
        len(
            client.get("/api/v1/channels/stable/history", headers=admin_headers).get_json()["items"]
        )
        == 1
    )


def test_promote_refusals(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    count: Count,
) -> None:
    make_channel("beta")
    make_channel("stable", values={"app": "flat"})
    release = publish("beta", "1.0.0")
    audits, events = count(AuditEvent), count(ChannelEvent)
    response = client.post(
        "/api/v1/channels/stable/promote", json={"releaseId": release["id"]}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "MERGE_CONFLICT")
    assert list(problem["errors"]) == ["values.app"]
    unknown = client.post(
        "/api/v1/channels/stable/promote",
        json={"releaseId": "00000000-0000-0000-0000-000000000000"},
        headers=admin_headers,
    )
    assert_problem(unknown, 404, "RELEASE_NOT_FOUND")
    assert_problem(
        client.post("/api/v1/channels/stable/promote", json={}, headers=admin_headers),
        422,
        "VALIDATION_FAILED",
    )
    assert_problem(
        client.post(
            "/api/v1/channels/nope/promote",
            json={"releaseId": release["id"]},
            headers=admin_headers,
        ),
        404,
        "CHANNEL_NOT_FOUND",
    )
    assert head_of(client, admin_headers) is None
    assert (count(AuditEvent), count(ChannelEvent), count(ChannelRelease)) == (audits, events, 1)


def test_rollback_like_helm(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    a = publish("stable", "1.0.0")
    b = publish("stable", "1.1.0")
    c = publish("stable", "1.2.0")
    rollback = client.post("/api/v1/channels/stable/rollback", headers=admin_headers)
    assert rollback.status_code == 200
    assert rollback.get_json()["head"] == {"id": b["id"], "version": "1.1.0"}
    # A second rollback goes back to where the first came from.
    again = client.post("/api/v1/channels/stable/rollback", json={}, headers=admin_headers)
    assert again.get_json()["head"]["id"] == c["id"]
    # To a named earlier head.
    named = client.post(
        "/api/v1/channels/stable/rollback", json={"releaseId": a["id"]}, headers=admin_headers
    )
    assert named.status_code == 200
    assert named.get_json()["head"]["id"] == a["id"]
    history = client.get("/api/v1/channels/stable/history", headers=admin_headers).get_json()[
        "items"
    ]
    assert [(e["action"], e["releaseId"], e["previousReleaseId"]) for e in history] == [
        ("rollback", a["id"], c["id"]),
        ("rollback", c["id"], b["id"]),
        ("rollback", b["id"], c["id"]),
        ("publish", c["id"], b["id"]),
        ("publish", b["id"], a["id"]),
        ("publish", a["id"], None),
    ]
    assert all(e["actor"].startswith("token:") and e["at"].endswith("Z") for e in history)


def test_rollback_refusals(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    count: Count,
) -> None:
    make_channel("stable")
    make_channel("beta")
    assert_problem(
        client.post("/api/v1/channels/stable/rollback", headers=admin_headers),
        409,
        "NOTHING_TO_ROLL_BACK",
    )
    a = publish("stable", "1.0.0")
    assert_problem(
        client.post("/api/v1/channels/stable/rollback", headers=admin_headers),
        409,
        "NOTHING_TO_ROLL_BACK",
    )
    other = publish("beta", "2.0.0")
    events, audits = count(ChannelEvent), count(AuditEvent)
    for release_id in (other["id"], "00000000-0000-0000-0000-000000000000", "not-a-uuid" * 10):
        response = client.post(
            "/api/v1/channels/stable/rollback",
            json={"releaseId": release_id},
            headers=admin_headers,
        )
        problem = assert_problem(response, 422, "NOT_IN_CHANNEL_HISTORY")
        assert list(problem["errors"]) == ["releaseId"]
    # The current head itself: 200, nothing changes.
    same = client.post(
        "/api/v1/channels/stable/rollback", json={"releaseId": a["id"]}, headers=admin_headers
    )
    assert same.status_code == 200 and same.get_json()["head"]["id"] == a["id"]
    assert (count(ChannelEvent), count(AuditEvent)) == (events, audits)
    assert_problem(
        client.post("/api/v1/channels/stable/rollback", json={"bogus": 1}, headers=admin_headers),
        422,
        "VALIDATION_FAILED",
    )


def test_channel_releases_newest_arrival_first_and_paginated(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    make_channel("beta")
    a = publish("stable", "1.0.0")
    b = publish("beta", "2.0.0")
    c = publish("stable", "1.1.0")
    client.post(
        "/api/v1/channels/stable/promote", json={"releaseId": b["id"]}, headers=admin_headers
    )
    client.post(
        "/api/v1/channels/stable/rollback", json={"releaseId": a["id"]}, headers=admin_headers
    )
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(
            f"/api/v1/channels/stable/releases{query}", headers=admin_headers
        ).get_json()
        assert len(page["items"]) <= 2
        seen += [item["version"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    # A rollback is not an arrival: a stays where it first arrived.
    assert seen == ["2.0.0", "1.1.0", "1.0.0"]
    assert c["id"] != b["id"]


def test_history_pagination(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    for minor in range(5):
        publish("stable", f"1.{minor}.0")
    first = client.get("/api/v1/channels/stable/history?limit=3", headers=admin_headers).get_json()
    second = client.get(
        f"/api/v1/channels/stable/history?limit=3&cursor={first['nextCursor']}",
        headers=admin_headers,
    ).get_json()
    releases = [e["releaseId"] for e in first["items"] + second["items"]]
    assert len(releases) == len(set(releases)) == 5
    assert second["nextCursor"] is None


def test_audit_records_every_write(
    client: FlaskClient,
    admin_headers: Headers,
    make_token: Callable[..., Headers],
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
) -> None:
    make_channel("stable")
    make_channel("beta")
    release = publish("stable", "1.0.0")
    client.post(
        "/api/v1/channels/beta/promote", json={"releaseId": release["id"]}, headers=admin_headers
    )
    publish("stable", "1.1.0")
    client.post(
        "/api/v1/channels/stable/rollback", headers={**admin_headers, "X-Request-ID": "req-42"}
    )
    client.patch("/api/v1/channels/beta", json={"description": "d"}, headers=admin_headers)
    client.post("/api/v1/channels", json={"name": "tmp"}, headers=admin_headers)
    client.delete("/api/v1/channels/tmp", headers=admin_headers)
    viewer = make_token("viewer")
    events = client.get("/api/v1/audit?limit=500", headers=viewer).get_json()["items"]
    actions = [(e["action"], e["target"]) for e in events if not e["action"].startswith("token.")]
    assert actions == [
        ("channel.delete", "channel:tmp"),
        ("channel.create", "channel:tmp"),
        ("channel.update", "channel:beta"),
        ("channel.rollback", "channel:stable"),
        ("channel.publish", "channel:stable"),
        ("release.create", actions[5][1]),
        ("channel.promote", "channel:beta"),
        ("channel.publish", "channel:stable"),
        ("release.create", f"release:{release['id']}"),
        ("channel.create", "channel:beta"),
        ("channel.create", "channel:stable"),
    ]
    by_action = {(e["action"], e["target"]): e for e in events}
    assert by_action[("channel.delete", "channel:tmp")]["after"] is None
    assert by_action[("channel.create", "channel:tmp")]["before"] is None
    assert (
        by_action[("channel.create", "channel:tmp")]["after"]
        == by_action[("channel.delete", "channel:tmp")]["before"]
    )
    rollback = by_action[("channel.rollback", "channel:stable")]
    # The caller's id is kept apart from the server's own (32 hex digits).
    assert rollback["clientRequestId"] == "req-42" and len(rollback["requestId"]) == 32
    assert rollback["before"] != rollback["after"] and len(rollback["after"]) == 64
    writes = [e for e in events if not e["action"].startswith("token.")]
    assert all(e["actor"].startswith("token:admin") and e["at"].endswith("Z") for e in writes)
    only = client.get("/api/v1/audit?target=channel:beta", headers=viewer).get_json()["items"]
    assert {e["target"] for e in only} == {"channel:beta"} and len(only) == 3


def test_ids_no_release_can_have_are_404_without_a_query(
    client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any]
) -> None:
    # A NUL reached PostgreSQL in the lookup and failed there (500); names too, and the
    # audit target filter.
    make_channel("stable")
    for path, code in [
        ("/api/v1/releases/a%00b", "RELEASE_NOT_FOUND"),
        ("/api/v1/releases/%ED%A0%80", "RELEASE_NOT_FOUND"),
        ("/api/v1/channels/st%00able", "CHANNEL_NOT_FOUND"),
        ("/api/v1/channels/st%00able/history", "CHANNEL_NOT_FOUND"),
    ]:
        assert_problem(client.get(path, headers=admin_headers), 404, code)
    # In a body, text no column can hold is refused by the field, by name.
    for action in ("promote", "rollback"):
        response = client.post(
            f"/api/v1/channels/stable/{action}", json={"releaseId": "a\x00"}, headers=admin_headers
        )
        assert list(assert_problem(response, 422, "VALIDATION_FAILED")["errors"]) == ["releaseId"]
    audit = client.get("/api/v1/audit?target=a%00", headers=admin_headers)
    assert list(assert_problem(audit, 422, "VALIDATION_FAILED")["errors"]) == ["target"]


def test_longest_version_and_notes_fit_every_backend(
    client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any]
) -> None:
    make_channel("stable")
    version = "1.0.0-" + "a" * 249  # 255 characters, the column's size
    notes = "\U0001f680" * (65_535 // 4) + "xyz"  # 65,535 bytes of UTF-8, TEXT's size
    response = client.post(
        "/api/v1/channels/stable/releases",
        json=release_body(version, notes=notes),
        headers=admin_headers,
    )
    assert response.status_code == 201, response.get_json()
    stored = client.get(f"/api/v1/releases/{response.get_json()['id']}", headers=admin_headers)
    assert stored.get_json()["version"] == version and stored.get_json()["notes"] == notes


def test_versions_differing_only_in_case_are_two_releases(
    app: Flask, client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any]
) -> None:
    # Unique "as an exact string" (API.md), also on MariaDB's default case-insensitive
    # collation, where 1.0.0-RC.1 collided with 1.0.0-rc.1 (409).
    make_channel("stable")
    make_channel("beta")
    lower = client.post(
        "/api/v1/channels/stable/releases", json=release_body("1.0.0-rc.1"), headers=admin_headers
    )
    upper = client.post(
        "/api/v1/channels/beta/releases", json=release_body("1.0.0-RC.1"), headers=admin_headers
    )
    assert (lower.status_code, upper.status_code) == (201, 201), upper.get_json()
    assert lower.get_json()["id"] != upper.get_json()["id"]
    assert head_of(client, admin_headers, "beta")["version"] == "1.0.0-RC.1"
    with app.app_context():
        found = get_release_by_version(get_session(), "1.0.0-RC.1")
    assert found.id == upper.get_json()["id"]
