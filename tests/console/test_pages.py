"""Console pages with Flask's test client: pagination, masking, refusals shown as pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.db import get_session
from deployserver.services import channels, licenses
from tests.conftest import TEST_ACTOR
from tests.console.helpers import sign_in
from tests.operator_client import Seeder

NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next"')


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_channel_list_paginates(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    with app.app_context():
        for index in range(55):
            channels.create_channel(get_session(), TEST_ACTOR, f"ch-{index:02d}")
    sign_in(client, admin_headers)
    first = text(client, "/console/")
    assert first.count('<th scope="row">') == 50
    assert "ch-00" in first and "ch-49" in first and "ch-50" not in first
    link = NEXT_RE.search(first)
    assert link is not None
    second = text(client, link.group(1).replace("&amp;", "&"))
    assert second.count('<th scope="row">') == 5
    assert "ch-50" in second and "ch-54" in second and "ch-49" not in second
    assert NEXT_RE.search(second) is None


def test_the_release_page_masks_as_the_api_masks(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    chart = {
        "url": "https://charts.example",
        "name": "app",
        "version": "1.0.0",
        "username": "robot",
        "password": "chart-pass-1",
    }
    values = {
        "db": {"dbPassword": "db-pass-2", "host": "db.internal"},
        "licenseSecret": {"name": "s"},
    }
    seed._post(
        "/api/v1/channels/stable/releases",
        {"version": "1.0.0", "chart": chart, "values": values, "notes": "Ships <b>bold</b>"},
    )
    sign_in(client, admin_headers)
    page = text(client, "/console/releases/1.0.0")
    assert "chart-pass-1" not in page and "db-pass-2" not in page
    assert "password: &#39;***&#39;" in page and "dbPassword: &#39;***&#39;" in page
    assert "host: db.internal" in page and "name: s" in page and "username: robot" in page
    assert "Ships &lt;b&gt;bold&lt;/b&gt;" in page  # notes are text, never markup


def test_an_unknown_release_is_a_404_page(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    sign_in(client, admin_headers)
    page = text(client, "/console/releases/9.9.9", 404)
    assert "RELEASE_NOT_FOUND" in page and "<h1>" in page


def test_a_strict_channel_warns_on_the_confirmation_and_refuses(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.channel("strict")
    client.patch("/api/v1/channels/strict", json={"strictValues": True}, headers=admin_headers)
    old = seed.publish("strict", "1.0.0", {"app": {"replicas": 2}})
    new = seed.publish("stable", "2.0.0", {"app": {"replicas": {"min": 1}}})
    csrf = sign_in(client, admin_headers)
    confirm = text(client, "/console/channels/strict/promote?release=2.0.0")
    assert confirm.index("KIND_CHANGED") < confirm.index('type="submit" class="danger"')
    assert "strict values: the server will refuse it" in confirm
    refused = client.post(
        "/console/channels/strict/promote", data={"releaseId": new["id"], "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "UNSAFE_VALUES_CHANGE" in refused.get_data(as_text=True)
    head = client.get("/api/v1/channels/strict", headers=admin_headers).get_json()["head"]
    assert head["id"] == old["id"]


def test_a_bad_percentage_is_refused_naming_the_field(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {})
    seed.publish("stable", "1.1.0", {})
    csrf = sign_in(client, admin_headers)
    page = text(client, "/console/channels/stable/promote?release=1.0.0&percent=100", 422)
    assert "percent" in page and "from 1 to 99" in page
    posted = client.post(
        "/console/channels/stable/promote",
        data={"releaseId": "x", "percent": "abc", "csrf_token": csrf},
    )
    assert posted.status_code == 422


def test_render_shows_refusals_on_the_form(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {"app": {"tag": "1.0.0"}, "db": {"password": "pw-3"}})
    csrf = sign_in(client, admin_headers)
    clash = client.post(
        "/console/channels/stable/render",
        data={"csrf_token": csrf, "userInput": "app: just-a-string\n", "crValues": ""},
    ).get_data(as_text=True)
    assert "MERGE_CONFLICT" in clash and "values.app" in clash
    broken = client.post(
        "/console/channels/stable/render",
        data={"csrf_token": csrf, "userInput": "app: [unclosed\n", "crValues": ""},
    ).get_data(as_text=True)
    assert "Refused" in broken and "line" in broken and "app: [unclosed" in broken
    revealed = client.post(
        "/console/channels/stable/render",
        data={"csrf_token": csrf, "userInput": "", "crValues": "", "reveal": "on"},
    ).get_data(as_text=True)
    assert "pw-3" in revealed  # an admin may reveal
    ignored = client.post(
        "/console/channels/stable/render",
        data={"csrf_token": csrf, "userInput": "_releaseId: 5\n", "crValues": ""},
    ).get_data(as_text=True)
    assert "PIN_IGNORED" in ignored and "userInput._releaseId" in ignored


def test_a_viewer_cannot_reveal(
    client: FlaskClient, make_token: Any, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {"db": {"password": "pw-4"}})
    csrf = sign_in(client, make_token("viewer"))
    page = client.post(
        "/console/channels/stable/render",
        data={"csrf_token": csrf, "userInput": "", "crValues": "", "reveal": "on"},
    ).get_data(as_text=True)
    assert "pw-4" not in page and "&#39;***&#39;" in page
    assert 'name="reveal"' not in page


def test_audit_filters_by_actor_action_and_target(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.channel("beta")
    seed.publish("stable", "1.0.0", {})
    sign_in(client, admin_headers)
    by_action = text(client, "/console/audit?action=channel.create")
    assert by_action.count("<tr>") - 1 == 2  # two rows under the header row
    by_target = text(client, "/console/audit?target=channel:beta")
    assert by_target.count("<tr>") - 1 == 1
    nobody = text(client, "/console/audit?actor=token:nobody")
    assert "No events match." in nobody


def test_revoking_a_license_takes_a_confirmation(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    issued = seed.license("stable")
    csrf = sign_in(client, admin_headers)
    listing = text(client, "/console/licenses")
    assert f"/console/licenses/{issued['id']}/revoke" in listing
    confirm = text(client, f"/console/licenses/{issued['id']}/revoke")
    assert "cannot be undone" in confirm
    done = client.post(f"/console/licenses/{issued['id']}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 303
    with app.app_context():
        assert licenses.get_license(get_session(), issued["id"]).status == "revoked"
