"""The polling endpoint, clause by clause of its contract (docs/api.md, operator polling)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from deployserver import create_app
from deployserver.config import Config
from deployserver.extensions import state
from tests.licensing.factories import good_claims, sign
from tests.operator_client import Seeder, basic, classify_chart, decode_spec

CHANNEL_URL = "/api/v1/operator/channel"


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    # No caching: every change is visible to the next poll (the bound is tested on its own).
    return make_config(license_cache_seconds=0)


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def pin_url(release_id: str) -> str:
    return f"{CHANNEL_URL}/release/{release_id}"


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="deployserver"'


def test_anonymous_poll_gets_default_channel_head(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable", values={"global": {"region": "us-east-1"}})
    release = seed.publish("stable", "0.83.1", {"app": {"replicas": 2}})
    response = client.get(CHANNEL_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = decode_spec(response.data)
    assert classify_chart(spec["chart"]) == "repo"
    assert spec["metadata"] == {
        "channel": "stable",
        "version": "0.83.1",
        "releaseId": release["id"],
        "publishedAt": release["createdAt"],
    }
    assert spec["values"] == {"app": {"replicas": 2}, "global": {"region": "us-east-1"}}


def test_body_is_canonical_json(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {"b": 1.0, "a": {"z": "é", "y": [3, 1]}})
    body = client.get(CHANNEL_URL).data
    spec = json.loads(body)
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert body == canonical.encode("utf-8")
    assert spec["values"]["b"] == 1 and b'"b":1' in body


def test_release_metadata_is_served_with_reserved_keys(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", metadata={"team": "platform"})
    metadata = decode_spec(client.get(CHANNEL_URL).data)["metadata"]
    assert metadata["team"] == "platform"
    assert metadata["version"] == "1.0.0"


def test_same_bytes_and_etag_on_every_poll(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {"x": "y"})
    first, second = client.get(CHANNEL_URL), client.get(CHANNEL_URL)
    assert first.data == second.data
    etag = first.headers["ETag"]
    assert etag == second.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, no-cache"


def test_if_none_match_gives_304_without_body(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    etag = client.get(CHANNEL_URL).headers["ETag"]
    response = client.get(CHANNEL_URL, headers={"If-None-Match": f'"other", {etag}'})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert client.get(CHANNEL_URL, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_body_changes_when_head_or_base_values_change(
    client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    seed.channel("stable", values={"global": {"a": "1"}})
    seed.publish("stable", "1.0.0")
    first = client.get(CHANNEL_URL)
    response = client.patch(
        "/api/v1/channels/stable", json={"values": {"global": {"a": "2"}}}, headers=admin_headers
    )
    assert response.status_code == 200, response.get_json()
    second = client.get(CHANNEL_URL)
    assert second.headers["ETag"] != first.headers["ETag"]
    assert decode_spec(second.data)["values"] == {"global": {"a": "2"}}
    seed.publish("stable", "1.1.0")
    assert decode_spec(client.get(CHANNEL_URL).data)["metadata"]["version"] == "1.1.0"


def test_licensed_poll_gets_its_channel(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.channel("beta")
    seed.publish("stable", "1.0.0")
    seed.publish("beta", "2.0.0-beta.1")
    token = seed.license("beta")["token"]
    spec = decode_spec(client.get(CHANNEL_URL, headers=basic(token)).data)
    assert spec["metadata"]["channel"] == "beta"
    assert spec["metadata"]["version"] == "2.0.0-beta.1"


def test_anonymous_refused_when_disabled(make_config: Callable[..., Config]) -> None:
    app = create_app(make_config(allow_anonymous=False))
    try:
        assert_refused(app.test_client().get(CHANNEL_URL), 401, "LICENSE_REQUIRED")
    finally:
        state(app).engine.dispose()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer something",
        "Basic !!!not-base64!!!",
        "Basic " + "bGljZW5zZQ==",  # "license" without a colon or token
        "Digest username=license",
    ],
)
def test_other_schemes_and_garbage_are_license_invalid(
    client: FlaskClient, seed: Seeder, header: str
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    assert_refused(
        client.get(CHANNEL_URL, headers={"Authorization": header}), 401, "LICENSE_INVALID"
    )


def test_other_user_name_is_license_invalid(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    token = seed.license("stable")["token"]
    response = client.get(CHANNEL_URL, headers=basic(token, user="admin"))
    assert_refused(response, 401, "LICENSE_INVALID")


def test_garbage_license_is_invalid(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    assert_refused(client.get(CHANNEL_URL, headers=basic("not.a.jwt")), 401, "LICENSE_INVALID")


@pytest.mark.parametrize(
    ("action", "code"), [("revoke", "LICENSE_REVOKED"), ("suspend", "LICENSE_SUSPENDED")]
)
def test_revoked_and_suspended_licenses_are_refused(
    client: FlaskClient, seed: Seeder, action: str, code: str
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    issued = seed.license("stable")
    assert client.get(CHANNEL_URL, headers=basic(issued["token"])).status_code == 200
    seed.license_action(issued["id"], action)
    assert_refused(client.get(CHANNEL_URL, headers=basic(issued["token"])), 401, code)


def test_not_yet_valid_license_is_refused(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    token = seed.license("stable", notBefore="2099-01-01T00:00:00Z")["token"]
    assert_refused(client.get(CHANNEL_URL, headers=basic(token)), 401, "LICENSE_NOT_YET_VALID")


def test_unknown_channel_and_empty_channel(
    client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    assert_refused(client.get(CHANNEL_URL), 404, "CHANNEL_NOT_FOUND")
    seed.channel("stable")
    assert_refused(client.get(CHANNEL_URL), 404, "CHANNEL_EMPTY")
    seed.channel("gone")
    token = seed.license("gone")["token"]
    assert client.delete("/api/v1/channels/gone", headers=admin_headers).status_code == 204
    assert_refused(client.get(CHANNEL_URL, headers=basic(token)), 404, "CHANNEL_NOT_FOUND")


def test_pinned_release_of_own_channel(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable", values={"base": "yes"})
    old = seed.publish("stable", "1.0.0", {"v": "old"})
    seed.publish("stable", "1.1.0", {"v": "new"})
    token = seed.license("stable")["token"]
    response = client.get(pin_url(old["id"]), headers=basic(token))
    assert response.status_code == 200
    spec = decode_spec(response.data)
    assert spec["metadata"]["releaseId"] == old["id"]
    assert spec["values"] == {"base": "yes", "v": "old"}
    assert response.headers["ETag"]


def test_pinned_promoted_release_carries_license_channel(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.channel("beta", values={"tier": "beta"})
    release = seed.publish("stable", "1.0.0")
    seed.promote("beta", release["id"])
    token = seed.license("beta")["token"]
    spec = decode_spec(client.get(pin_url(release["id"]), headers=basic(token)).data)
    assert spec["metadata"]["channel"] == "beta"
    assert spec["values"] == {"tier": "beta"}


def test_pinned_release_not_visible_is_not_found(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.channel("beta")
    seed.publish("stable", "1.0.0")
    hidden = seed.publish("beta", "2.0.0")
    token = seed.license("stable")["token"]
    for release_id in (hidden["id"], "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = client.get(pin_url(release_id), headers=basic(token))
        assert_refused(response, 404, "RELEASE_NOT_FOUND")
        assert "2.0.0" not in response.get_data(as_text=True)
    # Anonymous pins are limited to the default channel in the same way.
    assert_refused(client.get(pin_url(hidden["id"])), 404, "RELEASE_NOT_FOUND")


def test_pinned_release_uses_license_auth(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    release = seed.publish("stable", "1.0.0")
    response = client.get(pin_url(release["id"]), headers=basic("garbage"))
    assert_refused(response, 401, "LICENSE_INVALID")


class _QueryCounter:
    def __init__(self, app: Flask) -> None:
        self.count = 0
        self.engine = state(app).engine

    def __enter__(self) -> _QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, _conn: object, _cursor: object, statement: str, *args: object) -> None:
        # SQLite's explicit BEGIN (db.py) is transaction control, not a query.
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1


@pytest.fixture
def cached_app(make_config: Callable[..., Config]) -> Iterator[Flask]:
    app = create_app(make_config(license_cache_seconds=300))
    yield app
    state(app).engine.dispose()


def test_cache_hit_issues_no_query(cached_app: Flask, admin_headers: dict[str, str]) -> None:
    client = cached_app.test_client()
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    token = seed.license("stable")["token"]
    client.get(CHANNEL_URL, headers=basic(token))
    with _QueryCounter(cached_app) as counter:
        for _ in range(5):
            assert client.get(CHANNEL_URL, headers=basic(token)).status_code == 200
    assert counter.count == 0


def test_cache_miss_is_one_query(cached_app: Flask, admin_headers: dict[str, str]) -> None:
    client = cached_app.test_client()
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    with _QueryCounter(cached_app) as counter:
        assert client.get(CHANNEL_URL).status_code == 200
    assert counter.count == 1


def test_license_without_channel_claim_gets_default_channel(
    app: Flask, client: FlaskClient, seed: Seeder
) -> None:
    seed.channel("stable")
    seed.channel("beta")
    seed.publish("stable", "1.0.0")
    token = sign(app, good_claims(app, channel=None))
    response = client.get(CHANNEL_URL, headers=basic(token))
    assert response.status_code == 200
    assert decode_spec(response.data)["metadata"]["channel"] == "stable"


def test_expired_license_is_refused(app: Flask, client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    past = int(time.time()) - 7200
    token = sign(app, good_claims(app, iat=past - 60, nbf=past - 60, exp=past))
    assert_refused(client.get(CHANNEL_URL, headers=basic(token)), 401, "LICENSE_EXPIRED")


def test_license_signed_by_an_unknown_key_is_invalid(client: FlaskClient, seed: Seeder) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    forged = jwt.encode(
        {"sub": "acme", "jti": "00000000-0000-4000-8000-000000000000", "channel": "stable"},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "forged"},
    )
    assert_refused(client.get(CHANNEL_URL, headers=basic(forged)), 401, "LICENSE_INVALID")


@pytest.mark.parametrize(
    "raw",
    [
        b"Basic \xe9\xe9\xe9\xe9",  # not ASCII: base64 cannot even start
        b"Basic " + base64.b64encode(b"license:\xff\xfe"),  # not UTF-8
    ],
)
def test_undecodable_credentials_are_license_invalid(
    client: FlaskClient, seed: Seeder, raw: bytes
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    # WSGI carries header bytes as latin-1 text.
    header = raw.decode("latin-1").removeprefix("Basic ")
    environ = {"HTTP_AUTHORIZATION": "Basic " + header}
    response = client.get(CHANNEL_URL, environ_overrides=environ)
    assert_refused(response, 401, "LICENSE_INVALID")
    validate = client.post("/api/v1/licenses/validate", environ_overrides=environ, json={})
    assert validate.status_code == 401
    assert validate.get_json()["code"] == "LICENSE_INVALID"
