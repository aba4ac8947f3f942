"""``deployserver publish``, ``promote``, ``rollback``: what they print, store and refuse."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import AuditEvent, Release
from deployserver.services import channels
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.conftest import TEST_ACTOR
from tests.snapshots import database_snapshot

REPO = ["--chart-url", "https://charts.wandb.ai", "--chart-name", "operator-wandb"]


@pytest.fixture
def stable(app: Flask) -> str:
    with app.app_context():
        channels.create_channel(get_session(), TEST_ACTOR, "stable", values={"global": {"r": 1}})
        channels.create_channel(get_session(), TEST_ACTOR, "beta")
    return "stable"


@pytest.fixture
def values_file(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text("app:\n  image:\n    tag: '0.84.0'\n")
    return path


def publish(invoke: Invoke, version: str, values: Path, *extra: str) -> dict[str, object]:
    result = invoke(
        "publish", "stable", "--version", version, *REPO, "--values", str(values), "--json", *extra
    )
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_publish_prints_the_release(
    invoke: Invoke, app: Flask, stable: str, values_file: Path
) -> None:
    args = ["--chart-version", "0.84.0", "--values", str(values_file)]
    args += ["--notes", "GA", "--metadata", "team=infra", "--metadata", "ticket=REL-1"]
    result = invoke("publish", stable, "--version", "0.84.0", *REPO, *args)
    assert result.exit_code == 0, result.output
    with app.app_context():
        release = get_session().scalar(select(Release))
        assert release is not None
        assert release.chart == {
            "url": "https://charts.wandb.ai",
            "name": "operator-wandb",
            "version": "0.84.0",
        }
        assert release.values == {"app": {"image": {"tag": "0.84.0"}}}
        assert release.meta == {"team": "infra", "ticket": "REL-1"}
        assert release.notes == "GA"
        actors = get_session().scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "release.create")
        )
        assert list(actors) == [f"cli:{getpass.getuser()}"]
    assert result.stdout.strip() == (
        f"published 0.84.0 on stable (release {release.id}, digest {release.digest})"
    )
    again = invoke("publish", stable, "--version", "0.84.0", *REPO, *args)
    assert again.exit_code == 0
    assert "nothing changed" in again.stdout


def test_publish_json_is_the_rest_document(invoke: Invoke, stable: str, values_file: Path) -> None:
    document = publish(invoke, "1.0.0", values_file)
    assert document["version"] == "1.0.0"
    assert document["channels"] == ["stable"]
    assert set(document) >= {"id", "chart", "values", "metadata", "digest", "createdAt"}


@pytest.mark.parametrize(
    ("chart_args", "chart"),
    [
        (
            ["--chart-url", "oci://ghcr.io/wandb/charts/operator-wandb", "--chart-version", "1"],
            {"url": "oci://ghcr.io/wandb/charts/operator-wandb", "version": "1"},
        ),
        (["--chart-path", "/charts/operator-wandb"], {"path": "/charts/operator-wandb"}),
    ],
)
def test_publish_oci_and_local_charts(
    invoke: Invoke, stable: str, chart_args: list[str], chart: dict[str, str]
) -> None:
    result = invoke("publish", stable, "--version", "1.0.0", *chart_args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chart"] == chart


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["stable", "--version", "1.0.0", *REPO, "--values", "missing.yaml"], ["no such file"]),
        (["stable", "--version", "1.0.0", *REPO, "--values", "{bad}"], ["bad: line 3, column 1"]),
        (["nope", "--version", "1.0.0", *REPO, "--values", "{good}"], ["no channel 'nope'"]),
        (["stable", "--version", "v1", *REPO, "--values", "{good}"], ["version: must be a SemVer"]),
        (
            ["stable", "--version", "1.0.0", *REPO, "--values", "{clash}"],
            ["values.global: clashes"],
        ),
        (["stable", "--version", "1.0.0", "--chart-url", "https://c.io"], ["--chart-name is"]),
        (["stable", "--version", "1.0.0", "--chart-url", "oci://r/c", *REPO[2:]], ["oci://"]),
        (["stable", "--version", "1.0.0"], ["--chart-url", "--chart-path"]),
        (["stable", "--version", "1.0.0", *REPO, "--metadata", "team"], ["key=value"]),
        (["stable", "--version", "1.0.0", *REPO, "--metadata", "channel=x"], ["reserved"]),
    ],
)
def test_publish_refusals_are_one_line(
    invoke: Invoke, app: Flask, stable: str, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    files = {"{bad}": "app:\n  - [x\n", "{good}": "app: {n: 1}\n", "{clash}": "global: [1]\n"}
    for placeholder, text in files.items():
        (tmp_path / placeholder.strip("{}")).write_text(text)
    args = [str(tmp_path / a.strip("{}")) if a in files else a for a in args]
    args = [str(tmp_path / a) if a == "missing.yaml" else a for a in args]
    before = database_snapshot(app)
    assert_one_line_error(invoke("publish", *args), *words)
    assert database_snapshot(app) == before


def test_promote_by_version_or_id(invoke: Invoke, stable: str, values_file: Path) -> None:
    release = publish(invoke, "1.0.0", values_file)
    by_version = invoke("promote", "beta", "1.0.0")
    assert by_version.exit_code == 0, by_version.output
    assert by_version.stdout.startswith(f"promoted 1.0.0 on beta (release {release['id']}")
    by_id = invoke("promote", "beta", str(release["id"]), "--json")
    assert json.loads(by_id.stdout)["channels"] == ["beta", "stable"]
    assert_one_line_error(
        invoke("promote", "beta", "9.9.9"), "RELEASE_NOT_FOUND", "no release with version '9.9.9'"
    )
    assert_one_line_error(invoke("promote", "nope", "1.0.0"), "no channel 'nope'")


def test_rollback_prints_the_head(invoke: Invoke, stable: str, values_file: Path) -> None:
    assert_one_line_error(invoke("rollback", "stable"), "no earlier head")
    first = publish(invoke, "1.0.0", values_file)
    publish(invoke, "1.1.0", values_file)
    back = invoke("rollback", "stable")
    assert back.exit_code == 0, back.output
    assert back.stdout.strip() == f"stable head: 1.1.0 -> 1.0.0 (release {first['id']})"
    forward = invoke("rollback", "stable", "1.1.0", "--json")
    assert json.loads(forward.stdout)["head"]["version"] == "1.1.0"
    same = invoke("rollback", "stable", "1.1.0")
    assert same.stdout.strip() == "stable head stays at 1.1.0; nothing changed"
    assert_one_line_error(invoke("rollback", "beta", "1.0.0"), "never been head")
