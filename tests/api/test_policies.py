"""Installation policies over REST: pins, windows, required releases, the decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.config import Config
from deployserver.extensions import state
from deployserver.feed.recorder import installation_recorder
from deployserver.models import AuditEvent, LicensePin, MaintenanceWindow
from tests.operator_client import Seeder, basic

BERLIN_WEEKEND = {
    "days": ["sat", "sun"],
    "start": "02:00",
    "end": "06:00",
    "timezone": "Europe/Berlin",
}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(license_cache_seconds=0, required_dwell_seconds=600)


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


@pytest.fixture
def stable(seed: Seeder) -> dict[str, Any]:
    """stable carries 1.0.0, 1.1.0 and head 2.0.0; beta carries 3.0.0; one stable license."""
    seed.channel("stable")
    seed.channel("beta")
    releases = {v: seed.publish("stable", v) for v in ("1.0.0", "1.1.0", "2.0.0")}
    releases["3.0.0"] = seed.publish("beta", "3.0.0")
    return {"releases": releases, "license": seed.license("stable")}


def pin_url(license_id: str) -> str:
    return f"/api/v1/licenses/{license_id}/pin"


def decision(client: FlaskClient, headers: dict[str, str], license_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/licenses/{license_id}/decision", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_pin_by_version_is_kept_and_decides(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license_id = stable["license"]["id"]
    response = client.put(
        pin_url(license_id),
        json={"version": "1.0.0", "reason": "customer freeze", "until": "2099-01-01T00:00:00Z"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.get_json()
    pin = response.get_json()
    assert pin["releaseId"] == stable["releases"]["1.0.0"]["id"]
    assert pin["version"] == "1.0.0"
    assert pin["until"] == "2099-01-01T00:00:00Z"
    assert pin["reason"] == "customer freeze"
    answer = decision(client, admin_headers, license_id)
    assert (answer["version"], answer["reason"]) == ("1.0.0", "pin")
    shown = client.get(f"/api/v1/licenses/{license_id}/policies", headers=admin_headers)
    assert shown.get_json()["pin"]["version"] == "1.0.0"


def test_unpinned_decision_is_the_head(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    answer = decision(client, admin_headers, stable["license"]["id"])
    assert (answer["version"], answer["reason"]) == ("2.0.0", "head")
    assert answer["lastServedReleaseId"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"version": "3.0.0"}, 422, "version"),  # another channel's release
        ({"version": "9.9.9"}, 422, "version"),
        ({"releaseId": "00000000-0000-4000-8000-000000000000"}, 422, "releaseId"),
        ({}, 422, "releaseId"),
        ({"version": "1.0.0", "releaseId": "x"}, 422, "releaseId"),
        ({"version": "1.0.0", "until": "2000-01-01T00:00:00Z"}, 422, "until"),
        ({"version": "1.0.0", "until": "2099-01-01T00:00:00"}, 422, "until"),
        ({"version": "1.0.0", "reason": "x" * 1001}, 422, "reason"),
        ({"version": "1.0.0", "other": 1}, 422, "other"),
    ],
)
def test_pin_refusals_store_nothing(
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    count: Callable[[Any], int],
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    audits = count(AuditEvent)
    response = client.put(pin_url(stable["license"]["id"]), json=body, headers=admin_headers)
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["errors"]
    assert count(LicensePin) == 0
    assert count(AuditEvent) == audits


def test_pins_of_unknown_licenses_are_404(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    for license_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = client.put(pin_url(license_id), json={"version": "1.0.0"}, headers=admin_headers)
        assert response.status_code == 404
        assert response.get_json()["code"] == "LICENSE_NOT_FOUND"


def test_only_admins_and_the_channels_publishers_steer_a_license(
    client: FlaskClient,
    make_token: Callable[..., dict[str, str]],
    stable: dict[str, Any],
    count: Callable[[Any], int],
) -> None:
    license_id = stable["license"]["id"]
    body = {"version": "1.0.0"}
    viewer = client.put(pin_url(license_id), json=body, headers=make_token("viewer"))
    assert viewer.status_code == 403
    other = client.put(pin_url(license_id), json=body, headers=make_token("publisher", ["beta"]))
    assert other.status_code == 403
    assert count(LicensePin) == 0
    own = make_token("publisher", ["stable"])
    assert client.put(pin_url(license_id), json=body, headers=own).status_code == 200
    assert client.delete(pin_url(license_id), headers=own).status_code == 204
    assert count(LicensePin) == 0
    assert client.delete(pin_url(license_id), headers=own).get_json()["code"] == "PIN_NOT_FOUND"


def test_windows_are_set_replaced_and_removed_with_audit(
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    count: Callable[[Any], int],
) -> None:
    license_id = stable["license"]["id"]
    url = f"/api/v1/licenses/{license_id}/window"
    audits = count(AuditEvent)
    first = client.put(url, json=BERLIN_WEEKEND, headers=admin_headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == BERLIN_WEEKEND
    replaced = {**BERLIN_WEEKEND, "days": ["sun", "mon"], "timezone": "Asia/Tokyo"}
    second = client.put(url, json=replaced, headers=admin_headers)
    assert second.get_json()["days"] == ["mon", "sun"]
    assert count(MaintenanceWindow) == 1
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert count(MaintenanceWindow) == 0
    assert count(AuditEvent) == audits + 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"days": ["someday"]}, "days"),
        ({"days": []}, "days"),
        ({"start": "25:00"}, "start"),
        ({"end": "02:00"}, "end"),
    ],
)
def test_window_refusals_store_nothing(
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    count: Callable[[Any], int],
    change: dict[str, Any],
    field: str,
) -> None:
    url = f"/api/v1/licenses/{stable['license']['id']}/window"
    response = client.put(url, json={**BERLIN_WEEKEND, **change}, headers=admin_headers)
    assert response.status_code == 422
    assert field in str(response.get_json()["errors"])
    assert count(MaintenanceWindow) == 0


def test_required_releases_decide_until_dwelled(
    app: Flask,
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    make_token: Callable[..., dict[str, str]],
) -> None:
    releases = stable["releases"]
    license = stable["license"]
    url = f"/api/v1/channels/stable/releases/{releases['1.1.0']['id']}"
    assert (
        client.patch(url, json={"required": True}, headers=make_token("viewer")).status_code == 403
    )
    marked = client.patch(url, json={"required": True}, headers=admin_headers)
    assert marked.status_code == 200, marked.get_json()
    assert marked.get_json() == {
        "channel": "stable",
        "releaseId": releases["1.1.0"]["id"],
        "version": "1.1.0",
        "required": True,
    }
    # Never served: the head.
    assert decision(client, admin_headers, license["id"])["reason"] == "head"
    # Served 1.0.0 (a pin, then unpinned): the required 1.1.0 comes next.
    client.put(pin_url(license["id"]), json={"version": "1.0.0"}, headers=admin_headers)
    assert (
        client.get("/api/v1/operator/channel", headers=basic(license["token"])).status_code == 200
    )
    installation_recorder(state(app)).flush()
    client.delete(pin_url(license["id"]), headers=admin_headers)
    answer = decision(client, admin_headers, license["id"])
    assert (answer["version"], answer["reason"]) == ("1.1.0", "required")
    assert answer["lastServedReleaseId"] == releases["1.0.0"]["id"]


def test_required_refuses_a_release_outside_the_channel(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    url = f"/api/v1/channels/stable/releases/{stable['releases']['3.0.0']['id']}"
    response = client.patch(url, json={"required": True}, headers=admin_headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == "NOT_IN_CHANNEL_HISTORY"
    bad = client.patch(url, json={"required": "yes please"}, headers=admin_headers)
    assert bad.status_code == 422


def test_a_pin_shows_in_the_license_and_its_installation(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license = stable["license"]
    shown = client.get(f"/api/v1/licenses/{license['id']}", headers=admin_headers).get_json()
    assert shown["pin"] is None
    body = {"version": "1.1.0", "reason": "freeze", "until": "2099-01-01T00:00:00Z"}
    assert client.put(pin_url(license["id"]), json=body, headers=admin_headers).status_code == 200
    expected = {
        "releaseId": stable["releases"]["1.1.0"]["id"],
        "version": "1.1.0",
        "until": "2099-01-01T00:00:00Z",
        "reason": "freeze",
    }
    shown = client.get(f"/api/v1/licenses/{license['id']}", headers=admin_headers).get_json()
    assert shown["pin"] == expected
    listed = client.get("/api/v1/licenses?subject=acme", headers=admin_headers).get_json()
    assert [item["pin"] for item in listed["items"]] == [expected]
    assert (
        client.get("/api/v1/operator/channel", headers=basic(license["token"])).status_code == 200
    )
    installation_recorder(state(app)).flush()
    installations = client.get("/api/v1/installations", headers=admin_headers).get_json()
    assert [(item["licenseId"], item["pin"]) for item in installations["items"]] == [
        (license["id"], expected)
    ]
