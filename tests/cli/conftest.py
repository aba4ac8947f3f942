"""Run ``deployserver`` commands in-process against the test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from deployserver.cli import cli
from deployserver.config import Config

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(app: Flask, config: Config, tmp_path: Path) -> Invoke:
    """``invoke("channels", "sync", ...)``: the command's result (stdout and stderr apart).

    It asks for ``app`` so that the tables are emptied after the test.
    """
    env = {
        "DEPLOYSERVER_DATABASE_URL": config.database_url,
        "DEPLOYSERVER_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "DEPLOYSERVER_SECRET_KEY": config.secret_key,
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


def assert_one_line_error(result: Result, *words: str) -> None:
    """A user error: non-zero exit, nothing on stdout, one line on stderr, no traceback."""
    assert result.exit_code != 0, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
