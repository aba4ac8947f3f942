"""``deployserver render`` and ``deployserver diff``: YAML or JSON out, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from flask import Flask

from deployserver.cli import cli
from deployserver.config import Config
from deployserver.db import get_session
from deployserver.services import channels, releases
from tests.api.conftest import CHART
from tests.conftest import TEST_ACTOR

Invoke = Callable[..., Result]
OPERATOR = {"apiVersion": "apps.wandb.com/v1", "namespace": "wandb"}


@pytest.fixture
def invoke(config: Config, tmp_path: Path) -> Invoke:
    env = {
        "DEPLOYSERVER_DATABASE_URL": config.database_url,
        "DEPLOYSERVER_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "DEPLOYSERVER_SECRET_KEY": config.secret_key,
        "DEPLOYSERVER_OPERATOR_NAMESPACE": "",
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def two_releases(app: Flask) -> tuple[str, str]:
    with app.app_context():
        session = get_session()
        channels.create_channel(session, TEST_ACTOR, "stable", values={"l": ["base"]})
        old = releases.publish_release(
            session,
            TEST_ACTOR,
            "stable",
            "0.1.0",
            CHART,
            values={"l": ["old"], "global": {"license": "secret-jwt"}, "n": 1},
        )
        new = releases.publish_release(
            session, TEST_ACTOR, "stable", "0.2.0", {**CHART, "version": "0.84.0"}, values={"n": 2}
        )
        return old.release.id, new.release.id


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_render_prints_the_head_as_yaml(invoke: Invoke, two_releases: tuple[str, str]) -> None:
    _, new = two_releases
    result = invoke("render", "stable")
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)
    assert spec["metadata"]["releaseId"] == new
    assert spec["chart"]["version"] == "0.84.0"
    assert spec["values"] == {"n": 2, "l": ["base"], "global": {"operator": OPERATOR}}


def test_render_layers_from_files_with_pin_and_masking(
    invoke: Invoke, two_releases: tuple[str, str], tmp_path: Path
) -> None:
    old, _ = two_releases
    user = write(tmp_path, "user.yaml", {"_releaseId": old, "l": ["user"]})
    resource = {
        "apiVersion": "apps.wandb.com/v1",
        "kind": "WeightsAndBiases",
        "metadata": {"name": "wandb"},
        "spec": {"values": {"l": ["cr"], "n": 9}},
    }
    cr = write(tmp_path, "cr.yaml", resource)
    result = invoke("render", "stable", "--user-input", user, "--cr", cr, "--json")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert spec["metadata"]["version"] == "0.1.0"
    assert spec["values"] == {
        "_releaseId": old,
        "l": ["cr", "user", "old", "base"],
        "n": 9,
        "global": {"license": "***", "operator": OPERATOR},
    }
    revealed = invoke("render", "stable", "--release", "0.1.0", "--reveal", "--json")
    assert json.loads(revealed.stdout)["values"]["global"]["license"] == "secret-jwt"


def test_render_warnings_go_to_stderr(
    invoke: Invoke, two_releases: tuple[str, str], tmp_path: Path
) -> None:
    _, new = two_releases
    user = write(tmp_path, "user.yaml", {"_releaseId": 5})
    cr = write(tmp_path, "cr.yaml", {"chart": {"url": "oci://r.example/Charts/op"}})
    result = invoke("render", "stable", "--user-input", user, "--cr", cr, "--json")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert spec["metadata"]["releaseId"] == new and spec["chart"]["version"] == "0.84.0"
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["warning", "warning"]
    assert "CHART_IGNORED cr.chart" in lines[0] and "PIN_IGNORED userInput._releaseId" in lines[1]


def test_render_release_by_id_or_version(invoke: Invoke, two_releases: tuple[str, str]) -> None:
    old, _ = two_releases
    for ref in (old, "0.1.0"):
        result = invoke("render", "stable", "--release", ref, "--json")
        assert json.loads(result.stdout)["metadata"]["releaseId"] == old


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (["render", "nope"], {}, "no channel 'nope'"),
        (["render", "stable", "--release", "9.9.9"], {}, "no release with id or version"),
        (["render", "stable", "--user-input", "{u}"], {"u": {"n": {"x": 1}}}, "values.n: "),
        (["render", "stable", "--user-input", "{u}"], {"u": {"n": None}}, "values.n: null"),
        (["render", "stable", "--cr", "{u}"], {"u": {"chart": {}, "spec": 1}}, "--cr: holds spec"),
        (["render", "stable", "--user-input", "{u}"], {"u": "- [unclosed"}, "--user-input: line"),
        (["diff", "0.1.0", "nope"], {}, "no release with id or version 'nope'"),
        # YAML keys that are not strings, and NaN: tracebacks or NaN printed before.
        (["render", "stable", "--cr", "{u}"], {"u": "1: x\na: y\n"}, "--cr: holds 1, a"),
        (["render", "stable", "--cr", "{u}"], {"u": "values: {1: x}\n"}, "cr.values: key 1"),
        (
            ["render", "stable", "--cr", "{u}"],
            {"u": "chart: {1: x, path: /c}\n"},
            "cr.chart: key 1",
        ),
        (["render", "stable", "--cr", "{u}"], {"u": "values: {a: .inf}\n"}, "cr.values.a: NaN"),
        (["render", "stable", "--user-input", "{u}"], {"u": "1: x\n"}, "userInput: key 1"),
        (["render", "stable", "--user-input", "{u}"], {"u": "a: [.nan]\n"}, "userInput.a[0]: NaN"),
        (["render", "stable", "--user-input", "{u}"], {"u": 'a: "\\ud800"\n'}, "userInput.a: "),
    ],
)
def test_errors_are_one_line_and_non_zero(
    invoke: Invoke,
    two_releases: tuple[str, str],
    tmp_path: Path,
    args: list[str],
    files: dict[str, object],
    message: str,
) -> None:
    paths = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        paths[name] = str(path)
    result = invoke(*[arg.format(**paths) for arg in args])
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_diff_by_version_prints_changes(invoke: Invoke, two_releases: tuple[str, str]) -> None:
    old, new = two_releases
    result = invoke("diff", "0.1.0", "0.2.0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        '~ chart.version: "0.83.1" -> "0.84.0"',
        '- values.global: {"license": "secret-jwt"}',
        '- values.l: ["old"]',
        "~ values.n: 1 -> 2",
    ]
    as_json = json.loads(invoke("diff", old, new, "--json").stdout)
    assert as_json["changes"][0] == {
        "path": "chart.version",
        "op": "change",
        "from": "0.83.1",
        "to": "0.84.0",
    }
    assert [c["op"] for c in as_json["changes"]] == ["change", "remove", "remove", "change"]
    assert invoke("diff", old, old).stdout == "no changes\n"
