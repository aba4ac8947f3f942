"""``GET /metrics`` (API.md section 9) in one process: access, format and values moving.

Counters belong to the process, so each test compares values before and after its polls.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from deployserver import create_app
from deployserver.config import Config
from deployserver.extensions import state
from deployserver.feed.recorder import installation_recorder
from tests.operator_client import Seeder, basic

CHANNEL_URL = "/api/v1/operator/channel"


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def samples(client: FlaskClient, headers: dict[str, str]) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_a_bearer_token_of_any_role(
    client: FlaskClient, make_token: Callable[..., dict[str, str]]
) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.get_json()["code"] == "TOKEN_REQUIRED"
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers=make_token("viewer")).status_code == 200


def test_metrics_can_be_public(make_config: Callable[..., Config]) -> None:
    app = create_app(make_config(metrics_public=True))
    assert app.test_client().get("/metrics").status_code == 200
    state(app).engine.dispose()


def test_poll_counters_move(
    app: Flask, client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    good = basic(seed.license("stable")["token"])
    before = samples(client, admin_headers)
    served = client.get(CHANNEL_URL, headers=good)
    assert served.status_code == 200
    etag = served.headers["ETag"]
    assert client.get(CHANNEL_URL, headers={**good, "If-None-Match": etag}).status_code == 304
    assert client.get(CHANNEL_URL, headers=basic("a.b.c")).status_code == 401
    assert client.get(f"{CHANNEL_URL}/release/{'0' * 8}", headers=good).status_code == 404
    after = samples(client, admin_headers)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("deployserver_polls_total", channel="stable", outcome="served") == 1
    assert moved("deployserver_polls_total", channel="stable", outcome="not_modified") == 1
    assert moved("deployserver_polls_total", channel="", outcome="refused") == 1
    assert moved("deployserver_polls_total", channel="stable", outcome="not_found") == 1
    assert moved("deployserver_poll_duration_seconds_count") == 4
    assert moved("deployserver_poll_duration_seconds_sum") > 0
    assert moved("deployserver_license_verdicts_total", code="VALID") == 3
    assert moved("deployserver_license_verdicts_total", code="MALFORMED") == 1
    # The first valid poll and the malformed license miss the verdict cache; the others hit.
    assert moved("deployserver_cache_lookups_total", cache="license", result="miss") == 2
    assert moved("deployserver_cache_lookups_total", cache="license", result="hit") == 2
    assert moved("deployserver_cache_lookups_total", cache="channel", result="hit") >= 1
    assert moved("deployserver_writes_total", action="license.issue") == 0
    # Database state, read at scrape.
    assert value(after, "deployserver_channel_head_info", channel="stable", version="1.0.0") == 1


def test_writes_and_installations_are_counted(
    app: Flask, client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    before = samples(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    seed.publish("stable", "1.0.1")
    good = basic(seed.license("stable")["token"])
    assert client.get(CHANNEL_URL, headers=good).status_code == 200
    installation_recorder(state(app)).flush()
    after = samples(client, admin_headers)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("deployserver_writes_total", action="channel.create") == 1
    assert moved("deployserver_writes_total", action="channel.publish") == 2
    assert moved("deployserver_writes_total", action="release.create") == 2
    assert moved("deployserver_writes_total", action="license.issue") == 1
    assert value(after, "deployserver_channel_head_info", channel="stable", version="1.0.1") == 1
    assert value(after, "deployserver_channel_head_info", channel="stable", version="1.0.0") == 0
    assert value(after, "deployserver_installations", channel="stable", state="active") == 1
    assert value(after, "deployserver_installations", channel="stable", state="stale") == 0
