"""The poll's WSGI fast path and the Flask views behind it answer alike (API.md section 1)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.operator_client import Seeder

CHANNEL_URL = "/api/v1/operator/channel"


def test_head_is_answered_by_the_views_with_the_same_rules(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    release = seed.publish("stable", "1.0.0")
    got = client.get(CHANNEL_URL)
    head = client.head(CHANNEL_URL)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Cache-Control"] == "private, no-cache"
    assert (
        client.head(CHANNEL_URL, headers={"If-None-Match": got.headers["ETag"]}).status_code == 304
    )
    pinned = client.head(f"{CHANNEL_URL}/release/{release['id']}")
    assert pinned.status_code == 200 and pinned.headers["ETag"] == got.headers["ETag"]
    refused = client.head(CHANNEL_URL, headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="deployserver"'


def test_errors_carry_the_request_id(client: FlaskClient) -> None:
    unknown = f"{CHANNEL_URL}/release/00000000-0000-0000-0000-000000000000"
    response = client.get(unknown, headers={"X-Request-ID": "poll-7"})
    assert response.status_code == 404
    own = response.headers["X-Request-ID"]
    assert own != "poll-7" and len(own) == 32  # the server's own id, never the caller's
    assert response.get_json()["requestId"] == own
    assert response.headers["Content-Length"] == str(len(response.data))


def test_other_methods_and_paths_are_flasks(client: FlaskClient) -> None:
    post = client.post(CHANNEL_URL)
    assert post.status_code == 405 and "GET" in post.headers["Allow"]
    assert post.get_json()["code"] == "METHOD_NOT_ALLOWED"
    for path in (CHANNEL_URL + "/", CHANNEL_URL + "/release/", CHANNEL_URL + "/release/a/b"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "NOT_FOUND", path


def test_openapi_still_documents_both_routes(app: Flask, client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths[CHANNEL_URL]) >= {"get"}
    pinned = paths[CHANNEL_URL + "/release/{release_id}"]["get"]
    assert {"200", "304", "401", "404", "503"} <= set(pinned["responses"])
