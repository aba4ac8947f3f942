"""Channels over REST: CRUD, name rules, base values, roles and scopes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import ApiToken, AuditEvent, Channel, ChannelRelease
from deployserver.services import tokens
from tests.api.conftest import strong_etag
from tests.conftest import TEST_ACTOR
from tests.test_errors import assert_problem

Headers = dict[str, str]


def test_create_and_read_channel(
    client: FlaskClient, admin_headers: Headers, make_token: Callable[..., Headers]
) -> None:
    response = client.post(
        "/api/v1/channels",
        json={"name": "beta", "description": "Early access", "values": {"global": {"r": "eu"}}},
        headers=admin_headers,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "beta"
    assert body["description"] == "Early access"
    assert body["values"] == {"global": {"r": "eu"}}
    assert body["head"] is None
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == 20
    assert body["updatedAt"] == body["createdAt"]
    viewer = make_token("viewer")
    shown = client.get("/api/v1/channels/beta", headers=viewer)
    assert shown.status_code == 200
    assert shown.get_json() == body


def test_list_channels_paginates_by_name(
    client: FlaskClient, admin_headers: Headers, make_channel: Callable[..., Any]
) -> None:
    for name in ("gamma", "alpha", "beta"):
        make_channel(name)
    first = client.get("/api/v1/channels?limit=2", headers=admin_headers).get_json()
    assert [c["name"] for c in first["items"]] == ["alpha", "beta"]
    assert first["nextCursor"]
    second = client.get(
        f"/api/v1/channels?limit=2&cursor={first['nextCursor']}", headers=admin_headers
    ).get_json()
    assert [c["name"] for c in second["items"]] == ["gamma"]
    assert second["nextCursor"] is None


def test_list_limit_and_cursor_are_validated(client: FlaskClient, admin_headers: Headers) -> None:
    assert_problem(
        client.get("/api/v1/channels?limit=501", headers=admin_headers), 422, "VALIDATION_FAILED"
    )
    assert_problem(
        client.get("/api/v1/channels?limit=0", headers=admin_headers), 422, "VALIDATION_FAILED"
    )
    assert_problem(
        client.get("/api/v1/channels?cursor=%%%", headers=admin_headers), 422, "INVALID_CURSOR"
    )


@pytest.mark.parametrize(
    "name", ["", "Beta", "-beta", "beta-", "be_ta", "a" * 64, "beta\n", "bêta", "be.ta"]
)
def test_channel_name_rules(
    client: FlaskClient, admin_headers: Headers, count: Callable[[Any], int], name: str
) -> None:
    response = client.post("/api/v1/channels", json={"name": name}, headers=admin_headers)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert list(body["errors"]) == ["name"]
    assert count(Channel) == 0


@pytest.mark.parametrize("name", ["a", "0", "beta-2", "a" * 63])
def test_channel_names_accepted(client: FlaskClient, admin_headers: Headers, name: str) -> None:
    assert (
        client.post("/api/v1/channels", json={"name": name}, headers=admin_headers).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "values": {"a": None}}, "values.a"),
        ({"name": "x", "values": []}, "values"),
        ({"name": "x", "values": {"reconcileFrequency": "often"}}, "values.reconcileFrequency"),
        ({"name": "x", "unknown": 1}, "unknown"),
        ({"name": "x", "description": 5}, "description"),
        # What no backend can store is refused at validation, not a 500 on insert.
        ({"name": "x", "description": "a\x00b"}, "description"),
        ({"name": "x", "description": "\ud800"}, "description"),
        ({"name": "x", "values": {"a": "\udfff"}}, "values.a"),
        ({"name": "x", "values": {"a": ["x\x00"]}}, "values.a[0]"),
        ({"name": "x", "values": {"a": {"b\x00": 1}}}, "values.a"),
    ],
)
def test_create_channel_refusals(
    client: FlaskClient,
    admin_headers: Headers,
    count: Callable[[Any], int],
    body: dict[str, Any],
    field: str,
) -> None:
    before = count(AuditEvent)
    problem = assert_problem(
        client.post("/api/v1/channels", json=body, headers=admin_headers), 422, "VALIDATION_FAILED"
    )
    assert list(problem["errors"]) == [field]
    assert count(Channel) == 0
    assert count(AuditEvent) == before


def test_duplicate_channel_is_409(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    make_channel("beta")
    response = client.post("/api/v1/channels", json={"name": "beta"}, headers=admin_headers)
    assert_problem(response, 409, "CHANNEL_EXISTS")
    assert count(Channel) == 1


def test_unknown_channel_is_404(client: FlaskClient, admin_headers: Headers) -> None:
    assert_problem(
        client.get("/api/v1/channels/nope", headers=admin_headers), 404, "CHANNEL_NOT_FOUND"
    )
    assert_problem(
        client.patch("/api/v1/channels/nope", json={"description": "x"}, headers=admin_headers),
        404,
        "CHANNEL_NOT_FOUND",
    )
    assert_problem(
        client.delete("/api/v1/channels/nope", headers=admin_headers), 404, "CHANNEL_NOT_FOUND"
    )
    assert_problem(
        client.get("/api/v1/channels/nope/history", headers=admin_headers), 404, "CHANNEL_NOT_FOUND"
    )
    assert_problem(
        client.get("/api/v1/channels/nope/releases", headers=admin_headers),
        404,
        "CHANNEL_NOT_FOUND",
    )


def test_patch_description_and_values(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    created = make_channel("beta", values={"a": 1})
    audits = count(AuditEvent)
    response = client.patch(
        "/api/v1/channels/beta",
        json={"description": "new", "values": {"b": {"c": "d"}}},
        headers=admin_headers,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["description"] == "new"
    assert body["values"] == {"b": {"c": "d"}}  # replaced, not merged
    assert body["createdAt"] == created["createdAt"]
    assert count(AuditEvent) == audits + 1


def test_patch_without_change_writes_nothing(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    make_channel("beta", values={"a": 1})
    audits = count(AuditEvent)
    response = client.patch(
        "/api/v1/channels/beta", json={"values": {"a": 1}}, headers=admin_headers
    )
    assert response.status_code == 200
    assert count(AuditEvent) == audits


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": {"a": None}}, "values.a"),
        ({"values": None}, "values"),
        ({"name": "renamed"}, "name"),
        ({"values": {"x": [1, float("nan")]}}, "values.x[1]"),
        ({"description": "\ud800"}, "description"),
        ({"description": "\x00"}, "description"),
    ],
)
def test_patch_refusals_change_nothing(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
    body: dict[str, Any],
    field: str,
) -> None:
    make_channel("beta", values={"a": 1})
    audits = count(AuditEvent)

    response = client.patch(
        "/api/v1/channels/beta",
        data=json.dumps(body),
        content_type="application/json",
        headers=admin_headers,
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert list(problem["errors"]) == [field]
    assert client.get("/api/v1/channels/beta", headers=admin_headers).get_json()["values"] == {
        "a": 1
    }
    assert count(AuditEvent) == audits


def test_patch_base_values_rebuilds_served_bodies(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    app: Any,
) -> None:

    make_channel("stable", values={"global": {"region": "us"}})
    first = publish("stable", "1.0.0", values={"app": {"n": 1}})
    second = publish("stable", "1.1.0", values={"app": {"n": 2}})
    response = client.patch(
        "/api/v1/channels/stable",
        json={"values": {"global": {"region": "eu"}}},
        headers=admin_headers,
    )
    assert response.status_code == 200
    with app.app_context():
        rows = get_session().scalars(select(ChannelRelease)).all()
        assert {row.release_id for row in rows} == {first["id"], second["id"]}
        for row in rows:
            assert '"region":"eu"' in row.body
            assert row.etag == strong_etag(row.body)


def test_patch_base_values_clashing_with_history_is_refused(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    app: Any,
) -> None:

    make_channel("stable")
    publish("stable", "1.0.0", values={"app": {"image": {"tag": "a"}}})
    publish("stable", "1.1.0", values={"other": 1})  # the head does not clash; 1.0.0 does
    with app.app_context():
        bodies_before = sorted(get_session().scalars(select(ChannelRelease.body)).all())
    response = client.patch(
        "/api/v1/channels/stable", json={"values": {"app": {"image": "x"}}}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "MERGE_CONFLICT")
    assert list(problem["errors"]) == ["values.app.image"]
    assert "1.0.0" in problem["detail"] and "values.app.image" in problem["detail"]
    assert client.get("/api/v1/channels/stable", headers=admin_headers).get_json()["values"] == {}
    with app.app_context():
        assert sorted(get_session().scalars(select(ChannelRelease.body)).all()) == bodies_before


def test_delete_empty_channel(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    make_channel("beta")
    response = client.delete("/api/v1/channels/beta", headers=admin_headers)
    assert response.status_code == 204
    assert count(Channel) == 0
    assert_problem(
        client.get("/api/v1/channels/beta", headers=admin_headers), 404, "CHANNEL_NOT_FOUND"
    )


def test_delete_channel_with_history_is_409(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Callable[..., Any],
    publish: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    make_channel("stable")
    publish("stable")
    assert_problem(
        client.delete("/api/v1/channels/stable", headers=admin_headers), 409, "CHANNEL_NOT_EMPTY"
    )
    assert count(Channel) == 1


# Authorisation: decided before the body is read.


def test_missing_unknown_and_revoked_tokens_are_401(
    client: FlaskClient, app: Any, make_token: Callable[..., Headers]
) -> None:
    assert_problem(client.get("/api/v1/channels"), 401, "TOKEN_REQUIRED")
    assert_problem(
        client.get("/api/v1/channels", headers={"Authorization": "Bearer dst_nope"}),
        401,
        "TOKEN_INVALID",
    )
    assert_problem(
        client.get("/api/v1/channels", headers={"Authorization": "Basic abc"}), 401, "TOKEN_INVALID"
    )
    headers = make_token("admin")
    assert client.get("/api/v1/channels", headers=headers).status_code == 200

    with app.app_context():
        session = get_session()
        for token_id in session.scalars(select(ApiToken.id)).all():
            tokens.revoke_token(session, TEST_ACTOR, token_id)
    assert_problem(client.get("/api/v1/channels", headers=headers), 401, "TOKEN_INVALID")


def test_auth_is_decided_before_the_body(
    client: FlaskClient, make_token: Callable[..., Headers]
) -> None:
    malformed = {"data": "{not json", "content_type": "application/json"}
    assert_problem(client.post("/api/v1/channels", **malformed), 401, "TOKEN_REQUIRED")
    viewer = make_token("viewer")
    assert_problem(client.post("/api/v1/channels", headers=viewer, **malformed), 403, "FORBIDDEN")
    assert_problem(
        client.post("/api/v1/channels/stable/releases", headers=viewer, **malformed),
        403,
        "FORBIDDEN",
    )


def test_roles(
    client: FlaskClient,
    make_token: Callable[..., Headers],
    make_channel: Callable[..., Any],
    count: Callable[[Any], int],
) -> None:
    make_channel("stable")
    make_channel("beta")
    viewer = make_token("viewer")
    publisher = make_token("publisher")
    scoped = make_token("publisher", ["beta"])
    for headers in (viewer, publisher, scoped):
        assert client.get("/api/v1/channels", headers=headers).status_code == 200
        assert client.get("/api/v1/channels/stable", headers=headers).status_code == 200
        assert client.get("/api/v1/audit", headers=headers).status_code == 200
    # Creating and deleting channels is for admins only.
    for headers in (viewer, publisher, scoped):
        assert_problem(
            client.post("/api/v1/channels", json={"name": "x"}, headers=headers), 403, "FORBIDDEN"
        )
        assert_problem(client.delete("/api/v1/channels/beta", headers=headers), 403, "FORBIDDEN")
    assert count(Channel) == 2
    # Base values: publishers on their channels.
    patch = {"json": {"description": "d"}}
    assert_problem(client.patch("/api/v1/channels/beta", headers=viewer, **patch), 403, "FORBIDDEN")
    assert_problem(
        client.patch("/api/v1/channels/stable", headers=scoped, **patch), 403, "FORBIDDEN"
    )
    assert client.patch("/api/v1/channels/beta", headers=scoped, **patch).status_code == 200
    assert client.patch("/api/v1/channels/stable", headers=publisher, **patch).status_code == 200


def test_openapi_documents_every_endpoint(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/channels": {"get", "post"},
        "/api/v1/channels/{name}": {"get", "patch", "delete"},
        "/api/v1/channels/{name}/releases": {"get", "post"},
        "/api/v1/channels/{name}/promote": {"post"},
        "/api/v1/channels/{name}/rollback": {"post"},
        "/api/v1/channels/{name}/history": {"get"},
        "/api/v1/releases/{release_id}": {"get"},
        "/api/v1/audit": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"]
            assert "401" in operation["responses"] and "403" in operation["responses"]
            problem = operation["responses"]["401"]["content"]["application/problem+json"]
            assert problem["schema"]["$ref"].endswith("/Problem")
    publish = paths["/api/v1/channels/{name}/releases"]["post"]
    assert {"201", "200", "400", "409", "413", "422"} <= set(publish["responses"])
    assert "requestBody" in publish
    schemas = spec["components"]["schemas"]
    assert {"Channel", "Release", "Publish", "HistoryEntry", "AuditEvent"} <= set(schemas)


def test_every_documented_error_is_problem_json(client: FlaskClient) -> None:
    # One error contract (errors.py): the document must not promise anything else.
    spec = client.get("/openapi.json").get_json()
    errors = [
        (path, method, status, response)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        for status, response in operation["responses"].items()
        # /readyz answers 503 with its checks, a status report rather than an error.
        if status[0] in "45" and path != "/readyz"
    ]
    assert len(errors) > 50
    for path, method, status, response in errors:
        assert list(response.get("content", {})) == ["application/problem+json"], (
            path,
            method,
            status,
        )


def test_every_authenticated_operation_documents_401_and_403(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    public = {"/healthz", "/readyz", "/.well-known/jwks.json", "/api/v1/licenses/validate"}
    # Any role may read metrics: a token is needed, but none is forbidden.
    any_role = {"/metrics"}
    for path, operations in spec["paths"].items():
        if path in public or path.startswith("/api/v1/operator/"):
            continue
        if path in any_role:
            assert "401" in operations["get"]["responses"]
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            # Any valid token may ask who it is: whoami has no 403 to document.
            needed = {"401"} if path == "/api/v1/whoami" else {"401", "403"}
            assert needed <= set(operation["responses"]), (path, method)
