"""One masking policy on every read path (API.md section 3, masking).

Viewers, publishers and admins read secret-looking values as ``***``; an admin asking with
``?reveal=true`` reads them in clear and anyone else asking gets 403; the operator's poll is
never masked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.test_errors import assert_problem

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]

CHART = {"url": "https://charts.example", "name": "app", "version": "1.0.0", "password": "chart-pw"}
BASE = {"db": {"password": "base-pw", "host": "db"}}
OLD = {"apiKey": "old-key", "app": {"replicas": 1}}
NEW = {"apiKey": "new-key", "app": {"replicas": 2}, "authToken": ["t1xyz"]}
SECRETS = ("chart-pw", "base-pw", "old-key", "new-key")


@pytest.fixture
def world(client: FlaskClient, admin_headers: Headers, make_token: Any) -> dict[str, Any]:
    created = client.post(
        "/api/v1/channels", json={"name": "stable", "values": BASE}, headers=admin_headers
    )
    assert created.status_code == 201
    ids = []
    for version, values in (("1.0.0", OLD), ("1.1.0", NEW)):
        body = {"version": version, "chart": CHART, "values": values}
        response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return {
        "ids": ids,
        "viewer": make_token("viewer"),
        "publisher": make_token("publisher"),
        "admin": admin_headers,
    }


def reads(
    client: FlaskClient, world: dict[str, Any], headers: Headers, query: str = ""
) -> dict[str, Any]:
    old, new = world["ids"]
    answers = {
        "release": client.get(f"/api/v1/releases/{new}{query}", headers=headers),
        "channel": client.get(f"/api/v1/channels/stable{query}", headers=headers),
        "channels": client.get(f"/api/v1/channels{query}", headers=headers),
        "channel releases": client.get(f"/api/v1/channels/stable/releases{query}", headers=headers),
        "diff": client.get(f"/api/v1/releases/{old}/diff/{new}{query}", headers=headers),
        "render": client.post(f"/api/v1/channels/stable/render{query}", json={}, headers=headers),
        "audit": client.get(f"/api/v1/audit{query}", headers=headers),
    }
    return answers


@pytest.mark.parametrize("role", ["viewer", "publisher", "admin"])
def test_every_read_path_masks_for_every_role(
    client: FlaskClient, world: dict[str, Any], role: str
) -> None:
    for path, response in reads(client, world, world[role]).items():
        assert response.status_code == 200, (path, response.get_json())
        text = response.get_data(as_text=True)
        for secret in (*SECRETS, "t1xyz"):
            assert secret not in text, (role, path, secret)
    answers = reads(client, world, world[role])
    release = answers["release"].get_json()
    assert release["values"] == {"apiKey": "***", "app": {"replicas": 2}, "authToken": "***"}
    assert release["chart"]["password"] == "***" and release["chart"]["name"] == "app"
    assert answers["channel"].get_json()["values"] == {"db": {"password": "***", "host": "db"}}
    changes = answers["diff"].get_json()["changes"]
    # The change is still shown (a secret changed), only its values are masked.
    assert {"path": "values.apiKey", "op": "change", "from": "***", "to": "***"} in changes
    assert {"path": "values.app.replicas", "op": "change", "from": 1, "to": 2} in changes
    spec = answers["render"].get_json()["spec"]
    assert spec["values"]["db"] == {"password": "***", "host": "db"}


def test_an_admin_reveals_on_every_read_path(client: FlaskClient, world: dict[str, Any]) -> None:
    answers = reads(client, world, world["admin"], "?reveal=true")
    for path, response in answers.items():
        assert response.status_code == 200, (path, response.get_json())
    assert answers["release"].get_json()["values"]["apiKey"] == "new-key"
    assert answers["release"].get_json()["chart"]["password"] == "chart-pw"
    assert answers["channel"].get_json()["values"]["db"]["password"] == "base-pw"
    releases = answers["channel releases"].get_json()["items"]
    assert [item["values"]["apiKey"] for item in releases] == ["new-key", "old-key"]
    changes = answers["diff"].get_json()["changes"]
    assert {"path": "values.apiKey", "op": "change", "from": "old-key", "to": "new-key"} in changes
    assert answers["render"].get_json()["spec"]["values"]["db"]["password"] == "base-pw"


@pytest.mark.parametrize("role", ["viewer", "publisher"])
def test_reveal_is_for_admins_only(client: FlaskClient, world: dict[str, Any], role: str) -> None:
    for path, response in reads(client, world, world[role], "?reveal=true").items():
        if path == "audit":
            continue  # nothing to reveal there: before/after are digests
        assert_problem(response, 403, "FORBIDDEN")


def test_write_answers_mask_too(client: FlaskClient, world: dict[str, Any]) -> None:
    body = {"version": "1.2.0", "chart": CHART, "values": {"clientSecret": "cs", "n": 1}}
    published = client.post(
        "/api/v1/channels/stable/releases", json=body, headers=world["publisher"]
    )
    assert published.status_code == 201
    assert published.get_json()["values"] == {"clientSecret": "***", "n": 1}
    patched = client.patch(
        "/api/v1/channels/stable", json={"values": BASE}, headers=world["publisher"]
    )
    assert patched.get_json()["values"]["db"]["password"] == "***"


def test_the_operator_poll_is_never_masked(client: FlaskClient, world: dict[str, Any]) -> None:
    poll = client.get("/api/v1/operator/channel")
    assert poll.status_code == 200
    spec = json.loads(poll.get_data())
    assert spec["values"]["apiKey"] == "new-key"
    assert spec["values"]["db"]["password"] == "base-pw"
    assert spec["chart"]["password"] == "chart-pw"
