"""Installation policies from the command line: locally and as a client of a real server."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from deployserver.config import Config
from deployserver.db import get_session
from deployserver.services import tokens
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.conftest import TEST_ACTOR
from tests.servers import CLI, cli_env, running_server

REPO = ["--chart-url", "https://charts.wandb.ai", "--chart-name", "operator-wandb"]


def test_policy_commands_work_locally(invoke: Invoke) -> None:
    assert invoke("channels", "create", "stable").exit_code == 0
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        assert invoke("publish", "stable", "--version", version, *REPO).exit_code == 0
    issued = invoke("licenses", "issue", "--subject", "acme", "--channel", "stable", "--json")
    license_id = json.loads(issued.stdout[: issued.stdout.rindex("}") + 1])["id"]

    pinned = invoke("licenses", "pin", license_id, "1.0.0", "--reason", "freeze")
    assert pinned.exit_code == 0, pinned.output
    assert pinned.stdout == f"license {license_id} pinned to 1.0.0 (freeze)\n"
    decision = json.loads(invoke("licenses", "decision", license_id, "--json").stdout)
    assert (decision["version"], decision["reason"]) == ("1.0.0", "pin")
    assert invoke("licenses", "unpin", license_id).exit_code == 0
    assert json.loads(invoke("licenses", "decision", license_id, "--json").stdout)["reason"] == (
        "head"
    )
    assert_one_line_error(invoke("licenses", "unpin", license_id), "PIN_NOT_FOUND")
    assert_one_line_error(invoke("licenses", "pin", license_id, "9.9.9"), "NOT_IN_CHANNEL_HISTORY")

    window = invoke(
        "licenses", "window", license_id, "--day", "sat", "--day", "sun",
        "--start", "02:00", "--end", "06:00", "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert window.exit_code == 0, window.output
    assert window.stdout == f"license {license_id} window sat,sun 02:00-06:00 Europe/Berlin\n"
    bad_zone = invoke(
        "licenses", "window", license_id, "--day", "sat",
        "--start", "02:00", "--end", "06:00", "--timezone", "Nowhere/Land",
    )  # fmt: skip
    assert bad_zone.exit_code == 2
    assert_one_line_error(bad_zone, "VALIDATION_FAILED")
    assert invoke("licenses", "unwindow", license_id).exit_code == 0

    required = invoke("releases", "require", "stable", "1.1.0")
    assert required.stdout == "1.1.0 is required on stable\n"
    assert invoke("releases", "require", "stable", "1.1.0", "--off").stdout == (
        "1.1.0 is not required on stable\n"
    )
    urgent = invoke("publish", "stable", "--version", "2.0.1", *REPO, "--urgent", "--json")
    assert urgent.exit_code == 0, urgent.output


@pytest.fixture
def server(app: Flask, config: Config, tmp_path: Path) -> Iterator[str]:
    env = cli_env(
        tmp_path / "server-instance",
        config.database_url,
        DEPLOYSERVER_SECRET_KEY=config.secret_key,
        DEPLOYSERVER_LICENSE_CACHE_SECONDS="0",
    )
    with running_server(env, workers=1) as base:
        yield base


@pytest.mark.slow
def test_policy_commands_as_a_client(server: str, app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        _, secret = tokens.create_token(get_session(), TEST_ACTOR, "ops", "admin")
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
    env.update(DEPLOYSERVER_URL=server, DEPLOYSERVER_TOKEN=secret, HOME=str(tmp_path))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=env, cwd=laptop, capture_output=True, text=True, timeout=60
        )

    def doc(*args: str) -> Any:
        result = cli(*args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert cli("channels", "create", "stable").returncode == 0
    for version in ("1.0.0", "2.0.0"):
        assert cli("publish", "stable", "--version", version, *REPO).returncode == 0
    issued = cli("licenses", "issue", "--subject", "acme", "--channel", "stable", "-o", "json")
    license_id = json.loads(issued.stdout[: issued.stdout.rindex("}") + 1])["id"]
    assert doc("licenses", "pin", license_id, "1.0.0")["version"] == "1.0.0"
    assert doc("licenses", "decision", license_id)["reason"] == "pin"
    refused = cli("licenses", "pin", license_id, "7.0.0")
    assert refused.returncode == 2
    assert "NOT_IN_CHANNEL_HISTORY" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli("licenses", "unpin", license_id).returncode == 0
    assert doc("licenses", "decision", license_id)["version"] == "2.0.0"
    assert not (laptop / "instance").exists()
