"""The CLI as a client: every client-mode command against a real ``deployserver serve``.

The commands run as subprocesses from an empty folder with no database, no secret and no
server settings: only DEPLOYSERVER_URL and DEPLOYSERVER_TOKEN (or a saved login). The server
shares the test database, so each backend is exercised.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from deployserver.config import Config
from deployserver.db import get_session
from deployserver.models import Release
from deployserver.services import tokens
from tests.conftest import TEST_ACTOR
from tests.servers import CLI, cli_env, running_server

pytestmark = pytest.mark.slow
REPO = ["--chart-url", "https://charts.wandb.ai", "--chart-name", "operator-wandb"]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def server(app: Flask, config: Config, tmp_path: Path) -> Iterator[str]:
    env = cli_env(
        tmp_path / "server-instance",
        config.database_url,
        DEPLOYSERVER_SECRET_KEY=config.secret_key,
        # A suspension shows in the next verdict (not after the cache bound).
        DEPLOYSERVER_LICENSE_CACHE_SECONDS="0",
    )
    with running_server(env, workers=1) as base:
        yield base


@pytest.fixture
def admin_secret(app: Flask) -> str:
    with app.app_context():
        _, secret = tokens.create_token(get_session(), TEST_ACTOR, "release-admin", "admin")
    return secret


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "laptop"
    folder.mkdir()
    return folder


@pytest.fixture
def run(workdir: Path, tmp_path: Path) -> Run:
    """Run the CLI in ``workdir`` with no DEPLOYSERVER_* setting but those given."""

    def runner(*args: str, stdin: str | None = None, **env: str) -> Any:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        clean.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"), **env)
        return subprocess.run(
            [*CLI, *args],
            env=clean,
            cwd=workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return runner


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert result.returncode == code, (result.args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_every_command_through_the_api(
    server: str, admin_secret: str, run: Run, workdir: Path, app: Flask
) -> None:
    remote = {"DEPLOYSERVER_URL": server, "DEPLOYSERVER_TOKEN": admin_secret}

    def cli(*args: str, **extra: Any) -> subprocess.CompletedProcess[str]:
        return run(*args, **{**remote, **extra})

    def doc(*args: str) -> Any:
        return json.loads(ok(cli(*args, "-o", "json")))

    assert doc("whoami") == {
        "id": doc("whoami")["id"],
        "name": "release-admin",
        "role": "admin",
        "channels": None,
    }

    # Tokens over REST: a publisher for CI, listed with a header, never its secret.
    created = ok(cli("tokens", "create", "--name", "ci", "--role", "publisher"))
    publisher = created.strip().splitlines()[-1]
    assert publisher.startswith("dst_")
    listing = ok(cli("tokens", "list"))
    assert listing.splitlines()[0].split()[:3] == ["ID", "NAME", "ROLE"]
    assert "ci" in listing and publisher not in listing

    # Channels, base values from files and --set.
    (workdir / "base.yaml").write_text("global: {region: us-east-1, size: 1}\n")
    ok(cli("channels", "create", "stable", "--values", "base.yaml", "--set", "global.size=3"))
    ok(cli("channels", "create", "beta", "--description", "Early"))
    ok(cli("channels", "create", "scratch"))
    assert doc("channels", "show", "stable")["values"] == {
        "global": {"region": "us-east-1", "size": 3}
    }
    table = ok(cli("channels", "list"))
    assert table.splitlines()[0].split() == ["NAME", "HEAD", "ROLLOUT", "UPDATED", "DESCRIPTION"]
    ok(cli("channels", "set-values", "stable", "--set", "global.region=eu-west-1"))
    assert doc("channels", "show", "stable")["values"] == {"global": {"region": "eu-west-1"}}

    # Publish with several values files (later wins) and --set; then a kind change warns.
    (workdir / "a.yaml").write_text("app: {tag: a, n: 1}\n")
    (workdir / "b.yaml").write_text("app: {tag: b}\n")
    first = json.loads(
        ok(
            cli(
                "publish",
                "stable",
                "--version",
                "1.0.0",
                *REPO,
                "--values",
                "a.yaml",
                "--values",
                "b.yaml",
                "--set",
                "app.extra=true",
                "-o",
                "json",
            )
        )
    )
    assert first["values"] == {"app": {"tag": "b", "n": 1, "extra": True}}
    second = cli("publish", "stable", "--version", "1.1.0", *REPO, "--set", "app.n=one")
    assert ok(second).startswith("published 1.1.0 on stable")
    assert "warning: KIND_CHANGED app.n: number -> string" in second.stderr
    assert "warning: KEY_REMOVED app.tag" in second.stderr
    warned = json.loads(ok(cli("promote", "beta", "1.1.0", "-o", "json")))
    assert warned["warnings"] == []
    again = json.loads(
        ok(cli("publish", "stable", "--version", "1.1.0", *REPO, "--set", "app.n=one", "--json"))
    )
    assert again["id"] == doc("releases", "show", "1.1.0")["id"]

    # Heads by version, history with versions, releases.
    assert ok(cli("rollback", "stable")).strip().startswith("stable head: 1.1.0 -> 1.0.0")
    assert ok(cli("rollback", "stable", "1.1.0")).startswith("stable head: 1.0.0 -> 1.1.0")
    history = yaml.safe_load(ok(cli("history", "stable", "-o", "yaml")))
    assert [(h["action"], h["version"], h["previousVersion"]) for h in history] == [
        ("rollback", "1.1.0", "1.0.0"),
        ("rollback", "1.0.0", "1.1.0"),
        ("publish", "1.1.0", "1.0.0"),
        ("publish", "1.0.0", None),
    ]
    releases_table = ok(cli("releases", "list", "stable"))
    assert releases_table.splitlines()[0].startswith("VERSION")
    assert [line.split()[0] for line in releases_table.splitlines()[1:]] == ["1.1.0", "1.0.0"]
    assert doc("releases", "show", first["id"])["version"] == "1.0.0"

    # Rollouts.
    ok(cli("publish", "beta", "--version", "2.0.0", *REPO))
    assert "10% of licenses" in ok(cli("rollout", "start", "stable", "2.0.0", "--percent", "10"))
    assert ok(cli("rollout", "set", "stable", "30")).startswith("stable: 2.0.0 rolled out to 30%")
    assert "no rollout in progress; head 1.1.0" in ok(cli("rollout", "abort", "stable"))
    ok(cli("rollout", "start", "stable", "2.0.0", "--percent", "50"))
    assert doc("rollout", "complete", "stable")["head"]["version"] == "2.0.0"

    # Previews.
    rendered = yaml.safe_load(ok(cli("render", "stable", "--release", "1.0.0")))
    assert rendered["metadata"]["version"] == "1.0.0"
    assert rendered["values"]["global"]["region"] == "eu-west-1"
    changes = doc("diff", "1.0.0", "1.1.0")["changes"]
    assert {"path": "values.app.tag", "op": "remove", "from": "b"} in changes

    # Keys and licenses.
    kid = ok(cli("keys", "generate")).strip()
    assert kid in ok(cli("keys", "list"))
    issued = ok(
        cli(
            "licenses",
            "issue",
            "--subject",
            "acme",
            "--channel",
            "stable",
            "--entitlement",
            "seats=10",
        )
    )
    jwt = issued.strip().splitlines()[-1]
    license_id = issued.split()[1]
    assert doc("licenses", "show", license_id)["entitlements"] == {"seats": 10}
    assert license_id in ok(cli("licenses", "list", "--subject", "acme"))
    assert json.loads(ok(cli("licenses", "verify", jwt)))["code"] == "VALID"
    assert ok(cli("licenses", "suspend", license_id)).strip() == f"{license_id} suspended"
    assert cli("licenses", "verify", jwt).returncode == 1
    ok(cli("licenses", "reinstate", license_id))
    ok(cli("licenses", "revoke", license_id))

    # Insights and the audit log (the writes above name the admin token).
    audit = ok(cli("audit"))
    assert audit.splitlines()[0].split()[:4] == ["AT", "ACTOR", "ACTION", "TARGET"]
    assert "token:release-admin" in audit
    assert ok(cli("installations", "list")).splitlines()[0].startswith("LICENSE")
    assert doc("adoption", "stable")["channel"] == "stable"

    # Channels as code, run by the server on the uploaded folder, with the publisher token.
    channels = workdir / "channels"
    (channels / "values").mkdir(parents=True)
    (channels / "values" / "3.0.0.yaml").write_text("app: {n: 3}\n")
    (channels / "stable.yaml").write_text(
        'name: stable\nreleases:\n  - version: "3.0.0"\n    chart: {url: '
        "https://charts.wandb.ai, name: operator-wandb}\n    valuesFile: values/3.0.0.yaml\n"
    )
    as_ci = {"DEPLOYSERVER_TOKEN": publisher}
    planned = ok(cli("channels", "sync", "channels", "--dry-run", **as_ci))
    assert planned.splitlines() == [
        "update channel stable (values)",
        # 2.0.0 became head through REST (the rollout above): the plan says it moves away.
        "drift stable 2.0.0: made head outside the files (rollout-complete by "
        "token:release-admin); this sync moves the head away from it",
        "publish stable 3.0.0",
        "dry run: 2 change(s) planned, nothing written",
    ]
    assert doc("channels", "show", "stable")["head"]["version"] == "2.0.0"
    assert ok(cli("channels", "sync", "channels", **as_ci)).endswith("2 change(s) applied\n")
    assert "no changes" in ok(cli("channels", "sync", "channels", **as_ci))
    with app.app_context():
        releases_before = get_session().query(Release).count()
    (channels / "values" / "3.0.0.yaml").write_text("app: {n: 4}\n")
    refused(cli("channels", "sync", "channels", **as_ci), 2, "VERSION_EXISTS", "stable.yaml:3")
    (channels / "edge.yaml").write_text("name: edge\n")
    refused(cli("channels", "sync", "channels", "--dry-run", **as_ci), 2, "FORBIDDEN", "admin")
    with app.app_context():
        assert get_session().query(Release).count() == releases_before

    ok(cli("channels", "delete", "scratch"))
    refused(cli("channels", "show", "scratch"), 2, "CHANNEL_NOT_FOUND")
    token_id = doc("whoami")["id"]
    ci_id = next(token["id"] for token in doc("tokens", "list") if token["name"] == "ci")
    ok(cli("tokens", "revoke", ci_id))
    refused(cli("whoami", **as_ci), 2, "TOKEN_INVALID")
    assert doc("whoami")["id"] == token_id

    # Nothing local was opened or created: no instance folder, no database, no secret.
    assert sorted(path.name for path in workdir.iterdir()) == [
        "a.yaml",
        "b.yaml",
        "base.yaml",
        "channels",
    ]


def test_login_logout_and_refusals(
    server: str, admin_secret: str, run: Run, workdir: Path, tmp_path: Path, app: Flask
) -> None:
    # No server, no instance here: one line naming the instance folder, nothing created.
    line = refused(run("channels", "list"), 2, "no deployserver instance", str(workdir))
    assert "db upgrade" in line
    assert list(workdir.iterdir()) == []
    refused(run("whoami", DEPLOYSERVER_URL="http://127.0.0.1:9"), 1, "cannot reach")
    refused(
        run("whoami", DEPLOYSERVER_URL=server, DEPLOYSERVER_TOKEN="dst_nope"), 2, "TOKEN_INVALID"
    )
    refused(run("login", server, stdin="dst_nope\n"), 2, "TOKEN_INVALID")

    said = ok(run("login", server, stdin=admin_secret + "\n"))
    assert "release-admin (admin, every channel)" in said
    saved = tmp_path / "xdg" / "deployserver" / "config.toml"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert admin_secret in saved.read_text()
    assert json.loads(ok(run("whoami", "--json")))["name"] == "release-admin"
    # A flag or the environment wins over the saved login; its token stays with its server.
    refused(run("--server", "http://127.0.0.1:9", "whoami"), 1, "cannot reach")
    with app.app_context():
        _, viewer = tokens.create_token(get_session(), TEST_ACTOR, "watcher", "viewer")
    assert (
        json.loads(ok(run("whoami", "-o", "json", DEPLOYSERVER_TOKEN=viewer)))["role"] == "viewer"
    )
    refused(
        run("publish", "stable", "--version", "1.0.0", *REPO, DEPLOYSERVER_TOKEN=viewer),
        2,
        "FORBIDDEN",
    )
    refused(run("channels", "create", "Bad_Name"), 2, "VALIDATION_FAILED", "name")
    refused(
        run("publish", "nope", "--version", "1.0.0", "--chart-url", "https://x"), 2, "--chart-name"
    )
    refused(
        run("publish", "nope", "--version", "1.0.0", *REPO, "--values", "missing.yaml"),
        2,
        "missing.yaml",
    )
    assert ok(run("logout")).startswith("removed")
    assert not saved.exists()
    refused(run("whoami"), 2, "no deployserver instance")
    assert sorted(p.name for p in workdir.iterdir()) == []
