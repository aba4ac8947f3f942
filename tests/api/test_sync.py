"""``POST /api/v1/sync``: the channel-files sync run by the server on uploaded files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import AuditEvent
from tests.snapshots import database_snapshot as whole_snapshot

CHART = "{url: https://charts.wandb.ai, name: operator-wandb}"
STABLE = f"""name: stable
releases:
  - version: "1.0.0"
    chart: {CHART}
    valuesFile: values/1.0.0.yaml
  - version: "1.1.0"
    chart: {CHART}
    values: {{app: {{n: 2}}}}
"""
BETA = 'name: beta\nreleases:\n  - promote: "1.1.0"\n'
FILES = {"stable.yaml": STABLE, "beta.yaml": BETA, "values/1.0.0.yaml": "app: {n: 1}\n"}


def database_snapshot(app: Flask) -> dict[str, Any]:
    """Every table but the tokens (whose last use a request refreshes)."""
    snapshot = whole_snapshot(app)
    del snapshot["api_tokens"]
    return snapshot


def sync(client: FlaskClient, headers: dict[str, str], files: Any, dry_run: bool = False) -> Any:
    return client.post("/api/v1/sync", json={"files": files, "dryRun": dry_run}, headers=headers)


def test_dry_run_then_apply_then_nothing(
    client: FlaskClient, admin_headers: dict[str, str], app: Flask
) -> None:
    before = database_snapshot(app)
    planned = sync(client, admin_headers, FILES, dry_run=True)
    assert planned.status_code == 200, planned.get_json()
    expected = [
        "create channel beta",
        "create channel stable",
        "publish stable 1.0.0",
        "publish stable 1.1.0",
        "promote beta 1.1.0",
    ]
    assert planned.get_json()["plan"][:5] == expected
    assert planned.get_json()["applied"] is False
    assert database_snapshot(app) == before
    applied = sync(client, admin_headers, FILES).get_json()
    assert applied["applied"] is True
    assert applied["plan"] == planned.get_json()["plan"]
    again = sync(client, admin_headers, FILES).get_json()
    assert again == {"plan": [], "applied": True}
    with app.app_context():
        actors = set(get_session().scalars(select(AuditEvent.actor)))
    assert any(actor.startswith("token:") for actor in actors)


@pytest.mark.parametrize(
    "path", ["../stable.yaml", "/etc/stable.yaml", "values/../../x.yaml", "a//b.yaml", "c:x.yaml"]
)
def test_unsafe_paths_are_refused(
    client: FlaskClient, admin_headers: dict[str, str], app: Flask, path: str
) -> None:
    before = database_snapshot(app)
    answer = sync(client, admin_headers, {**FILES, path: BETA})
    assert answer.status_code == 422, answer.get_json()
    assert any(field.startswith("files.") for field in answer.get_json()["errors"])
    assert database_snapshot(app) == before


def test_values_file_outside_the_upload_is_refused(
    client: FlaskClient, admin_headers: dict[str, str], app: Flask
) -> None:
    before = database_snapshot(app)
    files = {"stable.yaml": STABLE.replace("values/1.0.0.yaml", "../1.0.0.yaml")}
    answer = sync(client, admin_headers, files)
    assert answer.status_code == 422
    assert answer.get_json()["detail"].startswith(
        "stable.yaml:3: releases[0] (publish 1.0.0): valuesFile: ../1.0.0.yaml is outside"
    )
    assert database_snapshot(app) == before


def test_refusal_names_file_line_and_entry_and_writes_nothing(
    client: FlaskClient, admin_headers: dict[str, str], app: Flask
) -> None:
    sync(client, admin_headers, FILES)
    before = database_snapshot(app)
    changed = {**FILES, "values/1.0.0.yaml": "app: {n: 9}\n"}
    answer = sync(client, admin_headers, changed)
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["code"] == "VERSION_EXISTS"
    assert answer.get_json()["detail"].startswith("stable.yaml:3: releases[0] (publish 1.0.0)")
    assert database_snapshot(app) == before


def test_rights_publisher_scope_and_admin_to_create(
    client: FlaskClient,
    admin_headers: dict[str, str],
    make_token: Callable[..., dict[str, str]],
    app: Flask,
) -> None:
    viewer = make_token("viewer")
    assert sync(client, viewer, FILES).status_code == 403
    publisher = make_token("publisher")
    before = database_snapshot(app)
    answer = sync(client, publisher, FILES, dry_run=True)
    assert answer.status_code == 403
    assert "admin" in answer.get_json()["detail"]
    assert database_snapshot(app) == before
    client.post("/api/v1/channels", json={"name": "stable"}, headers=admin_headers)
    client.post("/api/v1/channels", json={"name": "beta"}, headers=admin_headers)
    only_stable = make_token("publisher", channels=["stable"])
    refused = sync(client, only_stable, FILES)
    assert refused.status_code == 403 and "beta" in refused.get_json()["detail"]
    without_beta = {k: v for k, v in FILES.items() if k != "beta.yaml"}
    assert sync(client, only_stable, without_beta).status_code == 200
    assert sync(client, publisher, FILES).status_code == 200


def test_body_limit_is_its_own(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    # Over the general 1 MiB limit, under the sync one (16 MiB): read, then refused as
    # YAML, not as too large.
    padding = "# " + "x" * (2 * 1024 * 1024) + "\n"
    answer = sync(client, admin_headers, {"stable.yaml": padding + STABLE})
    assert answer.status_code != 413, answer.get_json()
    huge = "# " + "x" * (17 * 1024 * 1024) + "\n"
    assert sync(client, admin_headers, {"stable.yaml": huge}).status_code == 413
