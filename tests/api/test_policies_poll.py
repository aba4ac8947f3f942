"""Installation policies on the operator's poll: bytes, precedence, dwell across workers,
windows relative to now, persistence across restarts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver import create_app
from deployserver.config import Config
from deployserver.extensions import state
from deployserver.feed.recorder import installation_recorder
from tests.operator_client import Seeder, basic, decode_spec

CHANNEL_URL = "/api/v1/operator/channel"
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(license_cache_seconds=0, required_dwell_seconds=2)


@pytest.fixture
def another_worker(config: Config) -> Iterator[Flask]:
    """A second app on the same database: another gunicorn worker, or a restarted server."""
    other = create_app(config)
    yield other
    installation_recorder(state(other)).stop()
    state(other).engine.dispose()


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


@pytest.fixture
def stable(seed: Seeder) -> dict[str, Any]:
    seed.channel("stable", values={"global": {"region": "eu"}})
    releases = {v: seed.publish("stable", v, {"app": {"tag": v}}) for v in ("1.0.0", "1.1.0")}
    return {"releases": releases, "license": seed.license("stable")}


def poll(client: FlaskClient, token: str) -> tuple[str, bytes]:
    response = client.get(CHANNEL_URL, headers=basic(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(decode_spec(response.data)["metadata"]["version"]), response.data


def window_around(now: datetime, open_: bool) -> dict[str, Any]:
    """A daily UTC window that is open now (an hour either side) or shut for hours."""
    start = now - timedelta(hours=1) if open_ else now + timedelta(hours=6)
    end = now + timedelta(hours=1) if open_ else now + timedelta(hours=7)
    return {
        "days": ALL_DAYS,
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "timezone": "UTC",
    }


def test_a_pinned_license_gets_the_pinned_polls_exact_bytes(
    client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license = stable["license"]
    old = stable["releases"]["1.0.0"]["id"]
    client.put(
        f"/api/v1/licenses/{license['id']}/pin", json={"releaseId": old}, headers=admin_headers
    )
    version, body = poll(client, license["token"])
    pinned = client.get(f"{CHANNEL_URL}/release/{old}", headers=basic(license["token"]))
    assert version == "1.0.0"
    assert body == pinned.data
    # Another license on the channel still gets the head.
    other = Seeder(client, admin_headers).license("stable")
    assert poll(client, other["token"])[0] == "1.1.0"
    client.delete(f"/api/v1/licenses/{license['id']}/pin", headers=admin_headers)
    assert poll(client, license["token"])[0] == "1.1.0"


def test_an_expired_pin_serves_the_head(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], stable: dict[str, Any]
) -> None:
    license = stable["license"]
    until = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"version": "1.0.0", "until": until}
    response = client.put(f"/api/v1/licenses/{license['id']}/pin", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert poll(client, license["token"])[0] == "1.0.0"
    time.sleep(3.1)
    assert poll(client, license["token"])[0] == "1.1.0"


def test_a_required_release_is_served_for_the_dwell_time_on_every_worker(
    app: Flask,
    client: FlaskClient,
    admin_headers: dict[str, str],
    seed: Seeder,
    stable: dict[str, Any],
    another_worker: Flask,
) -> None:
    license = stable["license"]
    token = license["token"]
    releases = stable["releases"]
    # The installation runs 1.0.0 (pinned), 1.1.0 is made required, 2.0.0 published.
    client.put(
        f"/api/v1/licenses/{license['id']}/pin", json={"version": "1.0.0"}, headers=admin_headers
    )
    assert poll(client, token)[0] == "1.0.0"
    client.delete(f"/api/v1/licenses/{license['id']}/pin", headers=admin_headers)
    url = f"/api/v1/channels/stable/releases/{releases['1.1.0']['id']}"
    assert client.patch(url, json={"required": True}, headers=admin_headers).status_code == 200
    seed.publish("stable", "2.0.0", {"app": {"tag": "2.0.0"}})
    installation_recorder(state(app)).flush()

    other_worker = another_worker.test_client()
    assert poll(other_worker, token)[0] == "1.1.0"  # not skipped, whichever worker answers
    assert poll(client, token)[0] == "1.1.0"
    installation_recorder(state(app)).flush()
    assert poll(other_worker, token)[0] == "1.1.0"  # dwelling
    time.sleep(2.2)
    assert poll(other_worker, token)[0] == "2.0.0"
    # An installation never served anything gets the head at once.
    assert poll(client, seed.license("stable")["token"])[0] == "2.0.0"


def test_outside_its_window_a_license_keeps_its_release_until_urgent(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder, stable: dict[str, Any]
) -> None:
    license = stable["license"]
    token = license["token"]
    url = f"/api/v1/licenses/{license['id']}/window"
    now = datetime.now(UTC)
    assert poll(client, token)[0] == "1.1.0"  # served before any window
    shut = client.put(url, json=window_around(now, open_=False), headers=admin_headers)
    assert shut.status_code == 200, shut.get_json()
    seed.publish("stable", "1.2.0", {"app": {"tag": "1.2.0"}})
    assert poll(client, token)[0] == "1.1.0"
    decision = client.get(f"/api/v1/licenses/{license['id']}/decision", headers=admin_headers)
    assert (decision.get_json()["reason"], decision.get_json()["windowOpen"]) == ("window", False)
    # A new installation outside any window gets the head.
    assert poll(client, seed.license("stable")["token"])[0] == "1.2.0"
    # Urgent crosses the closed window.
    seed.publish("stable", "1.2.1", {"app": {"tag": "1.2.1"}}, urgent=True)
    assert poll(client, token)[0] == "1.2.1"


def test_inside_its_window_a_license_moves_on(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder, stable: dict[str, Any]
) -> None:
    license = stable["license"]
    url = f"/api/v1/licenses/{license['id']}/window"
    assert poll(client, license["token"])[0] == "1.1.0"
    client.put(url, json=window_around(datetime.now(UTC), open_=True), headers=admin_headers)
    seed.publish("stable", "1.2.0", {"app": {"tag": "1.2.0"}})
    assert poll(client, license["token"])[0] == "1.2.0"


def test_policies_survive_a_restart(
    client: FlaskClient,
    admin_headers: dict[str, str],
    stable: dict[str, Any],
    another_worker: Flask,
) -> None:
    license = stable["license"]
    client.put(
        f"/api/v1/licenses/{license['id']}/pin", json={"version": "1.0.0"}, headers=admin_headers
    )
    restarted = another_worker.test_client()
    assert poll(restarted, license["token"])[0] == "1.0.0"
