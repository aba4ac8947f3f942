"""``deployserver serve`` runs gunicorn after migrating; bad configuration is one clear line."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from pathlib import Path

import pytest
from gunicorn.config import Config as GunicornConfig

from tests.servers import cli_env, run_cli, running_server

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_serve_on_embedded_default_answers_probes(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "instance")
    with running_server(env) as base:
        assert get(base + "/healthz") == (200, {"status": "ok"})
        status, ready = get(base + "/readyz")
        assert status == 200, ready
        status, spec = get(base + "/openapi.json")
        assert status == 200 and "paths" in spec
        if "control_socket" in GunicornConfig().settings:
            # gunicorn's control socket stays with the instance, not in the home folder.
            # (it is opened after the workers boot, so allow it a moment).
            control = tmp_path / "instance" / "gunicorn.ctl"
            deadline = time.monotonic() + 10
            while not control.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert control.exists()
    assert (tmp_path / "instance" / "deployserver.db").exists()
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not-a-url", "is not a database URL"),
        ("postgresql://someone:pw@127.0.0.1:1/db", "is unreachable"),
    ],
)
def test_bad_database_url_is_one_line(tmp_path: Path, url: str, message: str) -> None:
    result = run_cli("serve", env=cli_env(tmp_path, url))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert ":pw@" not in result.stderr


def test_unwritable_instance_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("serve", env=cli_env(blocker / "instance"))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not writable" in result.stderr


def test_db_check_agrees_on_fresh_database(tmp_path: Path) -> None:
    result = run_cli("db", "check", env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "agree" in result.stdout


def test_db_check_fails_when_schema_and_models_disagree(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("db", "upgrade", env=env).returncode == 0
    # A schema that drifted from the models (an index dropped by hand).
    database = tmp_path / "deployserver.db"
    with sqlite3.connect(database) as connection:
        connection.execute("DROP INDEX ix_licenses_subject")
    result = run_cli("db", "check", env=env)
    assert result.returncode != 0
    assert "models and migrations disagree" in result.stderr
    assert "ix_licenses_subject" in result.stderr
