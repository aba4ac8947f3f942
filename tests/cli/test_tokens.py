"""``deployserver tokens``: create prints the token last, list never shows it, revoke works."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver.cli import cli
from deployserver.config import Config
from deployserver.db import get_session
from deployserver.models import ApiToken, AuditEvent
from deployserver.services import channels
from deployserver.services.tokens import hash_token
from tests.conftest import TEST_ACTOR

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(config: Config, tmp_path: Path) -> Invoke:
    env = {
        "DEPLOYSERVER_DATABASE_URL": config.database_url,
        "DEPLOYSERVER_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "DEPLOYSERVER_SECRET_KEY": config.secret_key,
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


def test_create_prints_token_last_and_stores_only_its_hash(
    invoke: Invoke, app: Flask, client: FlaskClient
) -> None:
    result = invoke("tokens", "create", "--name", "ci", "--role", "admin")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("dst_") and " " not in secret
    with app.app_context():
        token = get_session().scalar(select(ApiToken).where(ApiToken.name == "ci"))
        assert token is not None and token.token_hash == hash_token(secret)
        assert secret not in json.dumps([token.id, token.name, token.token_hash])
        event = get_session().scalar(select(AuditEvent).where(AuditEvent.action == "token.create"))
        assert event is not None and event.actor == f"cli:{getpass.getuser()}"
    response = client.get("/api/v1/channels", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


def test_publisher_limited_to_channels(invoke: Invoke, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        channels.create_channel(get_session(), TEST_ACTOR, "beta")
        channels.create_channel(get_session(), TEST_ACTOR, "stable")
    result = invoke("tokens", "create", "--name", "rel", "--role", "publisher", "--channel", "beta")
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {result.stdout.strip().splitlines()[-1]}"}
    patch = {"json": {"description": "x"}, "headers": headers}
    assert client.patch("/api/v1/channels/beta", **patch).status_code == 200
    assert client.patch("/api/v1/channels/stable", **patch).status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--role", "root"], "Invalid value for '--role'"),
        (["--name", "x", "--role", "publisher", "--channel", "nope"], "unknown channel 'nope'"),
        (["--name", "x", "--role", "viewer", "--channel", "beta"], "only a publisher"),
        (["--name", " ", "--role", "viewer"], "name"),
    ],
)
def test_create_refusals_are_one_line(
    invoke: Invoke, app: Flask, args: list[str], message: str
) -> None:
    with app.app_context():
        channels.create_channel(get_session(), TEST_ACTOR, "beta")
    result = invoke("tokens", "create", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    with app.app_context():
        assert get_session().scalars(select(ApiToken)).all() == []


def test_list_and_revoke(invoke: Invoke, client: FlaskClient) -> None:
    created = invoke("tokens", "create", "--name", "ops", "--role", "viewer")
    secret = created.stdout.strip().splitlines()[-1]
    listed = invoke("tokens", "list", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["revoked"]) for r in rows] == [("ops", "viewer", False)]
    assert secret not in listed.stdout
    table = invoke("tokens", "list")
    assert "ops" in table.stdout and secret not in table.stdout
    revoked = invoke("tokens", "revoke", rows[0]["id"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(invoke("tokens", "list", "--json").stdout)[0]["revoked"] is True
    response = client.get("/api/v1/channels", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    missing = invoke("tokens", "revoke", "00000000-0000-0000-0000-000000000000")
    assert missing.exit_code != 0 and "no token" in missing.stderr
