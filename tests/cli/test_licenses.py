"""``deployserver keys`` and ``deployserver licenses``: the same services from the shell."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from deployserver.cli import cli
from deployserver.config import Config
from deployserver.db import get_session
from deployserver.models import AuditEvent
from tests.licensing.factories import add_channel, good_claims, sign


@pytest.fixture
def run(app: Flask, config: Config) -> Any:
    """Run a command against the test app's database, instance folder and secret."""
    with app.app_context():
        add_channel(get_session(), "stable")
    env = {
        "DEPLOYSERVER_DATABASE_URL": config.database_url,
        "DEPLOYSERVER_INSTANCE_PATH": str(config.instance_path),
        "DEPLOYSERVER_SECRET_KEY": config.secret_key,
        "DEPLOYSERVER_LICENSE_CACHE_SECONDS": "0",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_issue_prints_the_jwt_alone_on_the_last_line(run: Any) -> None:
    result = run(
        "licenses", "issue", "--subject", "acme", "--ttl-days", "30",
        "--entitlement", "seats=100", "--entitlement", 'features=["sso"]',
        "--entitlement", "tier=gold",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = last_line(result)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["channel"] == "stable"  # the configured default channel
    assert claims["entitlements"] == {"seats": 100, "features": ["sso"], "tier": "gold"}
    assert claims["exp"] - claims["nbf"] == 30 * 86400
    verified = run("licenses", "verify", token)
    assert verified.exit_code == 0
    assert json.loads(verified.stdout)["code"] == "VALID"


def test_issue_json_then_token(run: Any) -> None:
    result = run("licenses", "issue", "--subject", "a", "--perpetual", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    record = json.loads("\n".join(lines[:-1]))
    assert record["expiresAt"] is None and record["status"] == "active"
    assert jwt.decode(lines[-1], options={"verify_signature": False})["jti"] == record["id"]


def test_issue_with_expires_date(run: Any) -> None:
    result = run("licenses", "issue", "--subject", "a", "--expires", "2099-01-31")
    assert result.exit_code == 0, result.output
    claims = jwt.decode(last_line(result), options={"verify_signature": False})
    assert claims["exp"] == 4073500800


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "nope"], "unknown channel"),
        (["--ttl-days", "3", "--perpetual"], "at most one"),
        (["--expires", "soon"], "ISO 8601"),
        (["--entitlement", "novalue"], "key=value"),
    ],
)
def test_issue_user_errors_are_one_line(run: Any, args: list[str], message: str) -> None:
    result = run("licenses", "issue", "--subject", "a", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_status_commands_and_list(run: Any, app: Flask) -> None:
    token = last_line(run("licenses", "issue", "--subject", "acme"))
    license_id = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert run("licenses", "suspend", license_id).stdout.strip() == f"{license_id} suspended"
    suspended = run("licenses", "verify", token)
    assert suspended.exit_code == 1
    assert json.loads(suspended.stdout)["code"] == "SUSPENDED"
    assert run("licenses", "reinstate", license_id).exit_code == 0
    assert run("licenses", "verify", token).exit_code == 0
    revoked = run("licenses", "revoke", license_id, "--json")
    assert json.loads(revoked.stdout)["status"] == "revoked"
    assert json.loads(run("licenses", "verify", token).stdout)["code"] == "REVOKED"
    listed = json.loads(run("licenses", "list", "--json").stdout)
    assert [(item["id"], item["status"]) for item in listed] == [(license_id, "revoked")]
    assert license_id in run("licenses", "list").stdout
    with app.app_context():
        actors = set(get_session().scalars(select(AuditEvent.actor)))
    assert any(actor.startswith("cli:") for actor in actors)
    missing = run("licenses", "revoke", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code != 0 and "no license" in missing.stderr


def test_verify_prints_the_verdict_and_fails_when_invalid(run: Any, app: Flask) -> None:
    run("keys", "generate")
    result = run("licenses", "verify", sign(app, good_claims(app, exp=1767225600)))
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["code"] == "EXPIRED" and body["license"]["expiresAt"] == "2026-01-01T00:00:00Z"
    garbage = run("licenses", "verify", "not-a-license")
    assert garbage.exit_code == 1 and json.loads(garbage.stdout)["code"] == "MALFORMED"


def test_keys_generate_list_retire(run: Any) -> None:
    first = run("keys", "generate")
    assert first.exit_code == 0
    kid = last_line(first)
    second = run("keys", "generate", "--alg", "ES256", "--json")
    record = json.loads(second.stdout)
    assert record["alg"] == "ES256" and record["status"] == "active"
    listed = json.loads(run("keys", "list", "--json").stdout)
    assert {(k["kid"], k["status"]) for k in listed} == {
        (kid, "verify-only"),
        (record["kid"], "active"),
    }
    assert kid in run("keys", "list").stdout
    # "--": a kid (a base64url thumbprint) may start with a dash.
    assert run("keys", "retire", "--", kid).stdout.strip() == f"{kid} retired"
    in_use = run("keys", "retire", "--", record["kid"])
    assert in_use.exit_code != 0 and "generate a new key" in in_use.stderr
    bad = run("keys", "generate", "--alg", "HS256")
    assert bad.exit_code != 0
    for result in (first, second):
        assert "PRIVATE" not in result.output + result.stderr
