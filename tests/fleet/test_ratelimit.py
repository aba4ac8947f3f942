"""Failure rate limits (API.md section 9), per worker in memory (no Redis configured)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.config import Config
from tests.operator_client import Seeder, basic

CHANNEL_URL = "/api/v1/operator/channel"
VALIDATE_URL = "/api/v1/licenses/validate"
BAD_LICENSE = basic("not-a-license")
UNKNOWN_TOKEN = {"Authorization": "Bearer not-a-token-we-issued"}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    # One proxy in front: the client address is the last X-Forwarded-For entry.
    return make_config(
        rate_license_failures="3/minute", rate_auth_failures="2/minute", trusted_proxies=1
    )


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def from_address(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address, **(headers or {})}


def assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "RATE_LIMITED"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60


def test_refused_polls_past_the_limit_get_429_and_valid_polls_still_pass(
    client: FlaskClient, seed: Seeder
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    good = basic(seed.license("stable")["token"])
    here = "203.0.113.7"
    for _ in range(3):
        response = client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE))
        assert response.status_code == 401
        assert response.get_json()["code"] == "LICENSE_INVALID"
    assert_limited(client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE)))
    # A valid license from the very same address is never limited.
    for _ in range(5):
        assert client.get(CHANNEL_URL, headers=from_address(here, good)).status_code == 200
    # Another client's failures are its own.
    other = client.get(CHANNEL_URL, headers=from_address("198.51.100.9", BAD_LICENSE))
    assert other.status_code == 401


def test_validate_counts_verdicts_that_are_not_valid(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    good = seed.license("stable")["token"]
    here = "203.0.113.8"
    for _ in range(3):
        response = client.post(VALIDATE_URL, json={"license": "a.b.c"}, headers=from_address(here))
        assert response.status_code == 200
        assert response.get_json()["valid"] is False
    assert_limited(client.post(VALIDATE_URL, json={"license": "a.b.c"}, headers=from_address(here)))
    valid = client.post(VALIDATE_URL, json={"license": good}, headers=from_address(here))
    assert valid.status_code == 200 and valid.get_json()["code"] == "VALID"


def test_poll_and_validate_failures_share_one_count(client: FlaskClient) -> None:
    here = "203.0.113.9"
    client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE))
    client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE))
    client.post(VALIDATE_URL, json={"license": "x.y.z"}, headers=from_address(here))
    assert_limited(client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE)))


def test_unknown_bearer_tokens_past_the_limit_get_429(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    here = "203.0.113.10"
    for _ in range(2):
        response = client.get("/api/v1/channels", headers=from_address(here, UNKNOWN_TOKEN))
        assert response.status_code == 401
        assert response.get_json()["code"] == "TOKEN_INVALID"
    assert_limited(client.get("/api/v1/channels", headers=from_address(here, UNKNOWN_TOKEN)))
    # A valid token from that address is served; another address is not limited.
    assert (
        client.get("/api/v1/channels", headers=from_address(here, admin_headers)).status_code == 200
    )
    other = client.get("/api/v1/channels", headers=from_address("192.0.2.1", UNKNOWN_TOKEN))
    assert other.status_code == 401
    # License failures are counted apart from token failures.
    assert client.get(CHANNEL_URL, headers=from_address(here, BAD_LICENSE)).status_code == 401


def test_the_address_is_the_trusted_proxys_entry_not_what_the_client_wrote(
    client: FlaskClient,
) -> None:
    # With one trusted proxy, entries before its own are the client's to invent: changing
    # them does not escape the limit.
    for index in range(3):
        headers = from_address(f"10.0.0.{index}, 203.0.113.11", BAD_LICENSE)
        assert client.get(CHANNEL_URL, headers=headers).status_code == 401
    assert_limited(
        client.get(CHANNEL_URL, headers=from_address("10.9.9.9, 203.0.113.11", BAD_LICENSE))
    )


def test_without_trusted_proxies_forwarded_for_is_ignored(
    make_config: Callable[..., Config],
) -> None:
    from deployserver import create_app

    app = create_app(make_config(rate_license_failures="1/minute"))
    client = app.test_client()
    assert client.get(CHANNEL_URL, headers=from_address("1.1.1.1", BAD_LICENSE)).status_code == 401
    # Same peer (the test client's), whatever X-Forwarded-For claims.
    assert_limited(client.get(CHANNEL_URL, headers=from_address("2.2.2.2", BAD_LICENSE)))
    app.extensions["deployserver"].engine.dispose()


@pytest.mark.parametrize("raw", ["sixty", "60/fortnight", ""])
def test_a_rate_that_does_not_parse_is_a_config_error(raw: str) -> None:
    from deployserver.config import ConfigError

    if raw == "":
        # Empty means unset: the default applies.
        assert Config.from_env({"DEPLOYSERVER_RATE_AUTH_FAILURES": raw}).rate_auth_failures == (
            "30/minute"
        )
        return
    with pytest.raises(ConfigError, match="DEPLOYSERVER_RATE_AUTH_FAILURES"):
        Config.from_env({"DEPLOYSERVER_RATE_AUTH_FAILURES": raw})


def test_limits_add_no_per_request_hooks(app: Flask) -> None:
    # Flask-Limiter keeps storage and strategy only: its request hooks would cost every poll.
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        # App-wide hooks run on every request, polls included (the console's are its own).
        assert hooks.get(None, []) == []
        assert not any("limiter" in repr(hook) for scoped in hooks.values() for hook in scoped)
