"""Licenses as the operator sends them: surrounding whitespace is not part of the license.

A secret made with ``kubectl create secret --from-file`` ends in a newline, and the operator
sends its bytes untrimmed as the Basic password; the validate body is trimmed the same way.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.extensions import state
from deployserver.licensing.judge import MAX_TOKEN_LENGTH
from deployserver.services import licenses
from tests.licensing.factories import ACTOR
from tests.operator_client import Seeder, basic, decode_spec

CHANNEL_URL = "/api/v1/operator/channel"
AROUND = [
    ("", "\n"),
    ("", "\r\n"),
    ("", "  "),
    ("\t", "\t"),
    (" \r\n", "\n\n"),
]


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


@pytest.mark.parametrize(("before", "after"), AROUND)
def test_poll_ignores_whitespace_around_the_license(
    client: FlaskClient, seed: Seeder, before: str, after: str
) -> None:
    seed.channel("beta")
    release = seed.publish("beta", "2.0.0")
    token = seed.license("beta")["token"]
    spec = decode_spec(client.get(CHANNEL_URL, headers=basic(before + token + after)).data)
    assert spec["metadata"]["channel"] == "beta"
    pinned = client.get(f"{CHANNEL_URL}/release/{release['id']}", headers=basic(token + after))
    assert pinned.status_code == 200


@pytest.mark.parametrize(("before", "after"), AROUND)
def test_validate_ignores_whitespace_around_the_license(
    client: FlaskClient, seed: Seeder, before: str, after: str
) -> None:
    seed.channel("stable")
    token = seed.license("stable")["token"]
    for request in (
        {"json": {"license": before + token + after}},
        {"headers": basic(before + token + after)},
    ):
        response = client.post("/api/v1/licenses/validate", **request)
        assert response.status_code == 200
        assert response.get_json()["code"] == "VALID", request


@pytest.mark.parametrize(
    "spoil",
    [
        lambda token: token[:20] + "\n" + token[20:],  # inside the token it is not trimmed
        lambda token: token + "\u00a0",  # NO-BREAK SPACE is not what a file leaves
        lambda token: token + "\v",
    ],
)
def test_other_whitespace_is_part_of_the_license(
    client: FlaskClient, seed: Seeder, spoil: Any
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    token = seed.license("stable")["token"]
    response = client.post("/api/v1/licenses/validate", json={"license": spoil(token)})
    assert response.get_json()["valid"] is False
    polled = client.get(CHANNEL_URL, headers=basic(spoil(token)))
    assert polled.status_code == 401
    assert polled.get_json()["code"] == "LICENSE_INVALID"


def test_whitespace_alone_is_no_license(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    for password in ("\n", " \t\r\n"):
        response = client.get(CHANNEL_URL, headers=basic(password))
        assert response.status_code == 401
        assert response.get_json()["code"] == "LICENSE_INVALID"


def test_the_largest_license_issued_polls(app: Flask, client: FlaskClient, seed: Seeder) -> None:
    # Issuance refuses a license over the token bound, so the largest one issued is within
    # it; that one (with the newline a secret adds) polls and validates.
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    config = state(app).config

    def issue(padding: int) -> str:
        with app.app_context():
            _, token = licenses.issue_license(
                get_session(), ACTOR, config, subject="acme", channel="stable",
                entitlements={"pad": "x" * padding},
            )  # fmt: skip
        return token

    probe = issue(1000)
    # base64url grows by 4 characters per 3 bytes of claims
    padding = 1000 + (MAX_TOKEN_LENGTH - len(probe)) * 3 // 4 - 3
    largest = issue(padding)
    assert MAX_TOKEN_LENGTH - 8 <= len(largest) <= MAX_TOKEN_LENGTH
    with pytest.raises(Invalid) as refused:
        issue(padding + 12)
    assert list(refused.value.errors or {}) == ["entitlements"]
    spec = decode_spec(client.get(CHANNEL_URL, headers=basic(largest + "\n")).data)
    assert spec["metadata"]["version"] == "1.0.0"
    verdict = client.post("/api/v1/licenses/validate", json={"license": largest + "\n"})
    assert verdict.get_json()["code"] == "VALID"
