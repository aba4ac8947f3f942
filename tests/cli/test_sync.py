"""``deployserver channels sync``: the shipped folder, dry runs, JSON, one-line refusals."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.channel_folders import channel_file, promote_entry, publish_entry, write_folder
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.servers import cli_env, free_port, run_cli, serving
from tests.snapshots import database_snapshot

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED_PLAN = [
    "create channel beta",
    "create channel stable",
    "publish beta 0.84.0",
    "publish stable 0.83.1",
    "promote stable 0.84.0",
]


def test_shipped_channels_sync_cleanly_and_once(
    invoke: Invoke, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    folder = str(ROOT / "channels")
    result = invoke("channels", "sync", folder)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [*SHIPPED_PLAN, "5 change(s) applied"]
    stable = client.get("/api/v1/channels/stable", headers=admin_headers).get_json()
    assert stable["head"]["version"] == "0.84.0"
    assert stable["values"] == {"reconcileFrequency": "1h"}
    history = client.get("/api/v1/channels/stable/history", headers=admin_headers).get_json()
    assert [item["action"] for item in history["items"]] == ["promote", "publish"]
    again = invoke("channels", "sync", folder)
    assert again.exit_code == 0
    assert again.stdout.splitlines() == [f"no changes: the server matches {folder}"]


def test_dry_run_prints_the_plan_and_writes_nothing(invoke: Invoke, app: Flask) -> None:
    before = database_snapshot(app)
    dry = invoke("channels", "sync", str(ROOT / "channels"), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        *SHIPPED_PLAN,
        "dry run: 5 change(s) planned, nothing written",
    ]
    assert database_snapshot(app) == before
    real = invoke("channels", "sync", str(ROOT / "channels"))
    assert real.stdout.splitlines()[:-1] == dry.stdout.splitlines()[:-1]
    assert database_snapshot(app) != before


def test_json_output(invoke: Invoke, tmp_path: Path) -> None:
    entries = (publish_entry("1.0.0"), publish_entry("1.1.0"))
    folder = write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries)})
    invoke("channels", "sync", str(folder))
    write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries, head="1.0.0")})
    result = invoke("channels", "sync", str(folder), "--json", "--dry-run")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    assert document == {"plan": ["move head stable 1.1.0 -> 1.0.0 (rollback)"], "applied": False}


def test_default_folder_is_channels(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_folder(tmp_path / "channels", {"edge.yaml": channel_file("edge", publish_entry("1.0.0"))})
    monkeypatch.chdir(tmp_path)
    result = invoke("channels", "sync", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["create channel edge", "publish edge 1.0.0"]


def test_bad_yaml_is_one_line_with_line_and_column(
    invoke: Invoke, app: Flask, tmp_path: Path
) -> None:
    write_folder(tmp_path, {"stable.yaml": "name: stable\nreleases:\n  - version: [\n"})
    before = database_snapshot(app)
    assert_one_line_error(
        invoke("channels", "sync", str(tmp_path)), "stable.yaml: line 4, column 1:"
    )
    assert database_snapshot(app) == before


def test_refusal_while_applying_is_one_line_and_changes_nothing(
    invoke: Invoke, app: Flask, tmp_path: Path
) -> None:
    folder = write_folder(
        tmp_path,
        {
            "beta.yaml": channel_file("beta", publish_entry("1.0.0")),
            "stable.yaml": channel_file("stable", promote_entry("1.0.0"), promote_entry("2.0.0")),
        },
    )
    before = database_snapshot(app)
    result = invoke("channels", "sync", str(folder))
    assert_one_line_error(result, "stable.yaml:4: releases[1] (promote 2.0.0)", "no release 2.0.0")
    assert database_snapshot(app) == before


def test_missing_folder_is_one_line(invoke: Invoke, tmp_path: Path) -> None:
    assert_one_line_error(
        invoke("channels", "sync", str(tmp_path / "nope")), "not a folder of channel files"
    )


@pytest.mark.slow
def test_fresh_make_run_serves_the_shipped_stable_channel(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "instance")
    port = free_port()
    command = ["make", "--no-print-directory", "run", f"PORT={port}", "WORKERS=1"]
    with serving(command, port, env, cwd=ROOT) as base:
        created = run_cli("tokens", "create", "--name", "probe", "--role", "viewer", env=env)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        request = urllib.request.Request(
            base + "/api/v1/channels/stable", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            stable = json.loads(response.read())
    assert stable["head"]["version"] == "0.84.0"
