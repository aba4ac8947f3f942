"""Installation policies in the console (Flask's test client): the license page's decision,
pin and window forms, refusals shown on the form, role and scope checks, the required
toggle and urgent promotes, each checked over REST."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.db import get_session
from deployserver.models import AuditEvent, Channel, ChannelRelease, LicensePin, MaintenanceWindow
from tests.console.helpers import sign_in
from tests.operator_client import Seeder


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


@pytest.fixture
def stable(seed: Seeder) -> dict[str, Any]:
    """stable carries 1.0.0 and head 1.1.0; beta exists; one stable license."""
    seed.channel("stable")
    seed.channel("beta")
    releases = {v: seed.publish("stable", v) for v in ("1.0.0", "1.1.0")}
    return {"releases": releases, "license": seed.license("stable")}


def rest(client: FlaskClient, headers: dict[str, str], path: str) -> Any:
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return get_session().query(model).count()


def test_pin_set_and_removed_from_the_license_page(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license_id = stable["license"]["id"]
    old = stable["releases"]["1.0.0"]
    csrf = sign_in(client, admin_headers)
    page = client.get(f"/console/licenses/{license_id}").get_data(as_text=True)
    assert "Next poll" in page and 'id="decision-reason">head<' in page
    assert "1.1.0" in page and "Not pinned" in page

    done = client.post(
        f"/console/licenses/{license_id}/pin",
        data={
            "csrf_token": csrf,
            "release": "1.0.0",
            "until": "2999-01-02T03:04",
            "reason": "waits for a DB migration",
        },
    )
    assert done.status_code == 303
    pin = rest(client, admin_headers, f"/api/v1/licenses/{license_id}/policies")["pin"]
    assert pin["releaseId"] == old["id"] and pin["version"] == "1.0.0"
    assert pin["until"] == "2999-01-02T03:04:00Z" and pin["reason"] == "waits for a DB migration"
    decision = rest(client, admin_headers, f"/api/v1/licenses/{license_id}/decision")
    assert decision["reason"] == "pin" and decision["version"] == "1.0.0"
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="decision-reason">pin<' in page and "Pinned:" in page
    assert "waits for a DB migration" in page and "Remove pin" in page

    # By id, replacing the pin.
    new = stable["releases"]["1.1.0"]["id"]
    again = client.post(
        f"/console/licenses/{license_id}/pin", data={"csrf_token": csrf, "release": new}
    )
    assert again.status_code == 303
    pin = rest(client, admin_headers, f"/api/v1/licenses/{license_id}/policies")["pin"]
    assert pin["releaseId"] == new and pin["until"] is None

    removed = client.post(f"/console/licenses/{license_id}/unpin", data={"csrf_token": csrf})
    assert removed.status_code == 303
    assert rest(client, admin_headers, f"/api/v1/licenses/{license_id}/policies")["pin"] is None
    # Removing it twice: the 404 is shown on the page, next to the pin form.
    twice = client.post(f"/console/licenses/{license_id}/unpin", data={"csrf_token": csrf})
    assert twice.status_code == 404
    assert "PIN_NOT_FOUND" in twice.get_data(as_text=True)


def test_a_pin_outside_the_channel_history_is_refused_on_the_form(
    app: Flask,
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    seed: Seeder,
) -> None:
    seed.publish("beta", "9.0.0")
    license_id = stable["license"]["id"]
    csrf = sign_in(client, admin_headers)
    audits = count(app, AuditEvent)
    for form, code in (
        ({"release": "9.0.0"}, "NOT_IN_CHANNEL_HISTORY"),
        ({"release": "1.0.0", "until": "2001-01-01T00:00"}, "must be in the future"),
        ({"release": "1.0.0", "until": "tomorrow"}, "YYYY-MM-DDTHH:MM"),
        ({"release": ""}, "name a release by version or id"),
    ):
        answer = client.post(
            f"/console/licenses/{license_id}/pin", data={"csrf_token": csrf, **form}
        )
        assert answer.status_code == 422, form
        body = answer.get_data(as_text=True)
        assert code in body and 'role="alert"' in body
        # What was typed stays in the form.
        assert f'value="{form["release"]}"' in body
    assert count(app, LicensePin) == 0 and count(app, AuditEvent) == audits


def test_a_window_is_set_and_a_bad_time_zone_refused(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license_id = stable["license"]["id"]
    csrf = sign_in(client, admin_headers)
    bad = client.post(
        f"/console/licenses/{license_id}/window",
        data={
            "csrf_token": csrf,
            "days": ["sat", "sun"],
            "start": "02:00",
            "end": "06:00",
            "timezone": "Mars/Olympus",
        },
    )
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "<code>timezone</code>" in body and "IANA time zone" in body
    assert 'value="Mars/Olympus"' in body and 'value="sat" checked' in body
    assert count(app, MaintenanceWindow) == 0

    good = client.post(
        f"/console/licenses/{license_id}/window",
        data={
            "csrf_token": csrf,
            "days": ["sun", "sat"],
            "start": "22:00",
            "end": "04:00",
            "timezone": "Europe/Berlin",
        },
    )
    assert good.status_code == 303
    window = rest(client, admin_headers, f"/api/v1/licenses/{license_id}/policies")["window"]
    assert window == {
        "days": ["sat", "sun"],
        "start": "22:00",
        "end": "04:00",
        "timezone": "Europe/Berlin",
    }
    page = client.get(f"/console/licenses/{license_id}").get_data(as_text=True)
    assert "sat, sun, from 22:00 to 04:00" in page and "(overnight)" in page
    assert "open now" in page or "closed now" in page

    gone = client.post(f"/console/licenses/{license_id}/unwindow", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert rest(client, admin_headers, f"/api/v1/licenses/{license_id}/policies")["window"] is None


def test_a_viewer_sees_the_decision_but_no_forms_and_a_forged_post_is_403(
    app: Flask,
    client: FlaskClient,
    make_token: Any,
    stable: dict[str, Any],
) -> None:
    license_id = stable["license"]["id"]
    csrf = sign_in(client, make_token("viewer"))
    page = client.get(f"/console/licenses/{license_id}").get_data(as_text=True)
    assert 'id="decision-reason">head<' in page
    assert "/pin" not in page and "/window" not in page and "Remove" not in page
    channel = client.get("/console/channels/stable").get_data(as_text=True)
    assert "/required" not in channel
    for path, form in (
        ("pin", {"release": "1.0.0"}),
        ("window", {"days": "sat", "start": "02:00", "end": "06:00", "timezone": "UTC"}),
    ):
        answer = client.post(
            f"/console/licenses/{license_id}/{path}", data={"csrf_token": csrf, **form}
        )
        assert answer.status_code == 403
    release = stable["releases"]["1.0.0"]["id"]
    answer = client.post(
        f"/console/channels/stable/releases/{release}/required",
        data={"csrf_token": csrf, "required": "true"},
    )
    assert answer.status_code == 403
    assert count(app, LicensePin) == 0 and count(app, MaintenanceWindow) == 0
    with app.app_context():
        assert not get_session().query(ChannelRelease).filter_by(required=True).count()


def test_a_publisher_of_another_channel_is_refused(
    app: Flask,
    client: FlaskClient,
    make_token: Any,
    stable: dict[str, Any],
) -> None:
    license_id = stable["license"]["id"]
    csrf = sign_in(client, make_token("publisher", ["beta"]))
    page = client.get(f"/console/licenses/{license_id}").get_data(as_text=True)
    assert "Next poll" in page and 'name="release"' not in page
    answer = client.post(
        f"/console/licenses/{license_id}/pin", data={"csrf_token": csrf, "release": "1.0.0"}
    )
    assert answer.status_code == 403 and "may not steer" in answer.get_data(as_text=True)
    assert count(app, LicensePin) == 0


def test_a_publisher_of_the_channel_pins_and_marks_required(
    client: FlaskClient,
    make_token: Any,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
) -> None:
    license_id = stable["license"]["id"]
    csrf = sign_in(client, make_token("publisher", ["stable"]))
    page = client.get(f"/console/licenses/{license_id}").get_data(as_text=True)
    assert 'name="release"' in page and 'name="timezone"' in page
    pinned = client.post(
        f"/console/licenses/{license_id}/pin", data={"csrf_token": csrf, "release": "1.0.0"}
    )
    assert pinned.status_code == 303

    release = stable["releases"]["1.0.0"]["id"]
    channel = client.get("/console/channels/stable").get_data(as_text=True)
    assert "Mark 1.0.0 as required" in channel and "badge-required" not in channel
    marked = client.post(
        f"/console/channels/stable/releases/{release}/required",
        data={"csrf_token": csrf, "required": "true"},
    )
    assert marked.status_code == 303
    channel = client.get(marked.headers["Location"]).get_data(as_text=True)
    assert "Marked required" in channel and "Unmark 1.0.0 as required" in channel
    assert channel.count('class="badge badge-required"') == 1
    unmarked = client.post(
        f"/console/channels/stable/releases/{release}/required",
        data={"csrf_token": csrf, "required": "false"},
    )
    assert unmarked.status_code == 303
    assert "badge-required" not in client.get("/console/channels/stable").get_data(as_text=True)


def test_promote_passes_urgent_through(
    app: Flask,
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    seed: Seeder,
) -> None:
    csrf = sign_in(client, admin_headers)
    old = stable["releases"]["1.0.0"]["id"]
    beta = seed.publish("beta", "2.0.0")["id"]
    confirm = client.get(f"/console/channels/stable/promote?release={beta}")
    assert 'name="urgent"' in confirm.get_data(as_text=True)
    urgent = client.post(
        "/console/channels/stable/promote",
        data={"csrf_token": csrf, "releaseId": beta, "urgent": "on"},
    )
    assert urgent.status_code == 303
    plain = client.post("/console/channels/stable/rollback", data={"csrf_token": csrf})
    assert plain.status_code == 303
    with app.app_context():
        rows = (
            get_session()
            .query(ChannelRelease)
            .join(Channel, Channel.id == ChannelRelease.channel_id)
            .filter(Channel.name == "stable")
        )
        flags = {row.release_id: row.urgent for row in rows}
    assert flags[beta] is True and flags[old] is False


def test_a_license_of_an_empty_channel_says_so(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("empty")
    license_id = seed.license("empty")["id"]
    sign_in(client, admin_headers)
    answer = client.get(f"/console/licenses/{license_id}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "has no release yet" in page and "decision-reason" not in page
    assert client.get("/console/licenses/not-a-license").status_code == 404
