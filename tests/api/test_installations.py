"""Installation insights: polls recorded off the hot path, listed, counted per release, pruned."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from deployserver import create_app
from deployserver.config import Config
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.feed.recorder import InstallationRecorder, installation_recorder
from deployserver.models import AnonymousPolls, AuditEvent, Installation
from deployserver.services.installations import prune_installations
from tests.conftest import TEST_ACTOR
from tests.operator_client import Seeder, basic

CHANNEL_URL = "/api/v1/operator/channel"
INSTALLATIONS_URL = "/api/v1/installations"


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(license_cache_seconds=0)


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def recorder(app: Flask) -> InstallationRecorder:
    return installation_recorder(state(app))


def rows(app: Flask) -> dict[str, Installation]:
    with app.app_context():
        session = get_session()
        found = {row.license_id: row for row in session.scalars(select(Installation))}
        session.expunge_all()
        return found


def set_last_seen(app: Flask, license_id: str, moment: datetime) -> None:
    with app.app_context():
        session = get_session()
        session.execute(
            update(Installation)
            .where(Installation.license_id == license_id)
            .values(last_seen=moment, first_seen=moment)
        )
        session.commit()


def test_polls_are_recorded_per_license(app: Flask, client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    release = seed.publish("stable", "1.0.0")
    issued = seed.license("stable", subject="acme")
    headers = {**basic(issued["token"]), "User-Agent": "wandb-operator/1.2 " + "x" * 2000}
    for _ in range(3):
        assert client.get(CHANNEL_URL, headers=headers).status_code == 200
    assert client.get(f"{CHANNEL_URL}/release/{release['id']}", headers=headers).status_code == 200
    # Nothing is written by the polls themselves.
    assert rows(app) == {}
    assert recorder(app).flush() == 1
    row = rows(app)[issued["id"]]
    assert (row.subject, row.channel, row.poll_count) == ("acme", "stable", 4)
    assert row.last_release_id == release["id"]
    assert row.last_address == "127.0.0.1"
    assert row.last_user_agent is not None and row.last_user_agent.startswith("wandb-operator/1.2")
    assert len(row.last_user_agent) == 512
    assert row.first_seen <= row.last_seen


def test_forwarded_for_only_from_trusted_proxies(
    make_config: Callable[..., Config], admin_headers: dict[str, str], app: Flask
) -> None:
    for proxies, expected in ((0, "127.0.0.1"), (1, "10.0.0.2"), (2, "203.0.113.9")):
        other = create_app(make_config(license_cache_seconds=0, trusted_proxies=proxies))
        client = other.test_client()
        seed = Seeder(client, admin_headers)
        if proxies == 0:
            seed.channel("stable")
            seed.publish("stable", "1.0.0")
        issued = seed.license("stable")
        forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.2"}
        client.get(CHANNEL_URL, headers={**basic(issued["token"]), **forwarded})
        recorder(other).flush()
        assert rows(other)[issued["id"]].last_address == expected
        recorder(other).stop()
        state(other).engine.dispose()


def test_anonymous_polls_are_counted_per_channel(
    app: Flask, client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    for _ in range(5):
        assert client.get(CHANNEL_URL).status_code == 200
    recorder(app).flush()
    with app.app_context():
        assert get_session().scalar(select(func.sum(AnonymousPolls.poll_count))) == 5
    assert rows(app) == {}
    adoption = client.get("/api/v1/channels/stable/adoption", headers=admin_headers).get_json()
    assert adoption["anonymousPolls"] == 5


def test_a_held_batch_writer_never_holds_a_poll(
    app: Flask, client: FlaskClient, seed: Seeder, backend: str
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    issued = seed.license("stable")
    headers = basic(issued["token"])
    client.get(CHANNEL_URL, headers=headers)
    recorder(app).flush()
    client.get(CHANNEL_URL, headers=headers)
    # Hold the database write the next flush needs: the whole database on SQLite, the
    # installation's row elsewhere.
    blocker = state(app).engine.connect()
    if backend == "sqlite":
        blocker = blocker.execution_options(sqlite_immediate=True)
        blocker.begin()
    else:
        blocker.begin()
        blocker.execute(
            select(Installation).where(Installation.license_id == issued["id"]).with_for_update()
        ).all()
    writer = threading.Thread(target=recorder(app).flush)
    try:
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive(), "the flush should be waiting on the held write"
        for _ in range(20):
            response = client.get(CHANNEL_URL, headers=headers)
            assert response.status_code == 200
        assert writer.is_alive()
    finally:
        blocker.rollback()
        blocker.close()
        writer.join(timeout=30)
    assert not writer.is_alive()
    recorder(app).flush()
    assert rows(app)[issued["id"]].poll_count == 22


def test_two_workers_add_up_on_one_license(app: Flask, seed: Seeder) -> None:
    seed.channel("stable")
    first_release = seed.publish("stable", "1.0.0")
    second_release = seed.publish("stable", "1.1.0")
    issued = seed.license("stable")
    one, two = InstallationRecorder(state(app)), InstallationRecorder(state(app))
    for _ in range(3):
        one.record(issued["id"], "acme", "stable", first_release["id"], "10.0.0.1", "a")
    time.sleep(0.01)
    for _ in range(4):
        two.record(issued["id"], "acme", "stable", second_release["id"], "10.0.0.2", "b")
    # The later poll's worker writes first: its "last" fields must survive the older batch.
    two.flush()
    one.flush()
    row = rows(app)[issued["id"]]
    assert row.poll_count == 7
    assert (row.last_release_id, row.last_address, row.last_user_agent) == (
        second_release["id"],
        "10.0.0.2",
        "b",
    )
    assert row.first_seen < row.last_seen
    one.record(issued["id"], "acme", "stable", first_release["id"], "10.0.0.3", "c")
    one.flush()
    row = rows(app)[issued["id"]]
    assert (row.poll_count, row.last_release_id, row.last_address) == (
        8,
        first_release["id"],
        "10.0.0.3",
    )


def test_outage_keeps_the_batch(app: Flask, make_config: Callable[..., Config]) -> None:
    down = create_app(make_config(database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        dead = InstallationRecorder(state(down))
        dead.record("lic-1", "acme", "stable", "r1", None, None)
        dead.anonymous("stable")
        assert dead.flush() == 0
        assert dead.pending == 1 and dead.stats.failed_flushes == 1
        dead.record("lic-1", "acme", "stable", "r2", None, None)
        assert dead.flush() == 0
        assert dead.pending == 1
        # At exit the batch cannot be written either; it is kept, never raised.
        dead.stop()
        assert dead.pending == 1
    finally:
        state(down).engine.dispose()


def test_buffer_is_bounded(make_config: Callable[..., Config], app: Flask) -> None:
    small = create_app(make_config(installation_buffer_entries=2))
    try:
        bounded = InstallationRecorder(state(small))
        for n in range(4):
            bounded.record(f"lic-{n}", "acme", "stable", "r", None, None)
        bounded.record("lic-0", "acme", "stable", "r", None, None)
        assert (bounded.pending, bounded.stats.dropped) == (2, 2)
        bounded.stop()
    finally:
        state(small).engine.dispose()


def test_background_thread_writes_without_being_asked(
    make_config: Callable[..., Config], admin_headers: dict[str, str], app: Flask
) -> None:
    quick = create_app(make_config(installation_flush_seconds=1))
    client = quick.test_client()
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    issued = seed.license("stable")
    client.get(CHANNEL_URL, headers=basic(issued["token"]))
    deadline = time.monotonic() + 10
    while issued["id"] not in rows(quick) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows(quick)[issued["id"]].poll_count == 1
    recorder(quick).stop()
    state(quick).engine.dispose()


def poll_as(client: FlaskClient, token: str, times: int = 1) -> None:
    for _ in range(times):
        assert client.get(CHANNEL_URL, headers=basic(token)).status_code == 200


def test_list_filters_and_pages(
    app: Flask, client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    seed.channel("stable")
    seed.channel("beta")
    stable = seed.publish("stable", "1.0.0")
    beta = seed.publish("beta", "2.0.0")
    acme = seed.license("stable", subject="acme")
    globex = seed.license("beta", subject="globex")
    initech = seed.license("stable", subject="initech")
    for issued in (acme, globex, initech):
        poll_as(client, issued["token"])
    recorder(app).flush()
    set_last_seen(app, initech["id"], datetime.now(UTC) - timedelta(days=3))
    viewer = {"Authorization": admin_headers["Authorization"]}

    def listed(query: str = "") -> list[str]:
        response = client.get(f"{INSTALLATIONS_URL}{query}", headers=viewer)
        assert response.status_code == 200, response.get_json()
        return [item["subject"] for item in response.get_json()["items"]]

    assert sorted(listed()) == ["acme", "globex", "initech"]
    assert listed()[-1] == "initech"  # most recently seen first
    assert sorted(listed("?channel=stable")) == ["acme", "initech"]
    assert listed(f"?release={beta['id']}") == ["globex"]
    assert sorted(listed(f"?release={stable['id']}")) == ["acme", "initech"]
    assert listed("?subject=acme") == ["acme"]
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sorted(listed(f"?seenSince={since}")) == ["acme", "globex"]
    assert client.get(f"{INSTALLATIONS_URL}?seenSince=yesterday", headers=viewer).status_code == 422
    for name in ("channel", "release", "subject"):  # NUL: a database error on PostgreSQL
        refused = client.get(f"{INSTALLATIONS_URL}?{name}=a%00", headers=viewer)
        assert refused.status_code == 422 and list(refused.get_json()["errors"]) == [name]
    item = client.get(f"{INSTALLATIONS_URL}?subject=acme", headers=viewer).get_json()["items"][0]
    assert item["licenseId"] == acme["id"]
    assert item["pollCount"] == 1
    assert item["lastReleaseId"] == stable["id"] and item["lastReleaseVersion"] == "1.0.0"
    assert set(item) >= {"firstSeen", "lastSeen", "lastAddress", "lastUserAgent", "channel"}
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"{INSTALLATIONS_URL}?limit=1{cursor}", headers=viewer).get_json()
        seen += [entry["subject"] for entry in page["items"]]
        if page["nextCursor"] is None:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert seen == listed()
    assert client.get(INSTALLATIONS_URL).status_code == 401


def test_adoption_counts_active_and_stale_per_release(
    app: Flask,
    client: FlaskClient,
    seed: Seeder,
    admin_headers: dict[str, str],
    make_token: Callable[..., dict[str, str]],
) -> None:
    seed.channel("stable")
    old = seed.publish("stable", "1.0.0", {"reconcileFrequency": "10m"})
    licenses = [seed.license("stable") for _ in range(4)]
    for issued in licenses:
        poll_as(client, issued["token"])
    new = seed.publish("stable", "1.1.0", {"reconcileFrequency": "10m"})
    poll_as(client, licenses[0]["token"], 2)
    recorder(app).flush()
    set_last_seen(app, licenses[3]["id"], datetime.now(UTC) - timedelta(hours=30))
    viewer = make_token("viewer")
    response = client.get("/api/v1/channels/stable/adoption", headers=viewer)
    assert response.status_code == 200
    adoption = response.get_json()
    assert adoption["windowHours"] == 24
    assert adoption["reconcileFrequency"] == "10m"
    assert adoption["reconcileFrequencySource"] == "channel"
    assert adoption["head"]["id"] == new["id"] and adoption["rollout"] is None
    by_version = {item["version"]: item for item in adoption["releases"]}
    assert [item["version"] for item in adoption["releases"]] == ["1.1.0", "1.0.0"]
    assert (by_version["1.1.0"]["active"], by_version["1.1.0"]["stale"]) == (1, 0)
    assert (by_version["1.0.0"]["active"], by_version["1.0.0"]["stale"]) == (2, 1)
    assert by_version["1.1.0"]["head"] and not by_version["1.0.0"]["head"]
    assert (adoption["active"], adoption["stale"]) == (3, 1)
    wide = client.get("/api/v1/channels/stable/adoption?windowHours=48", headers=viewer)
    assert {i["version"]: i["stale"] for i in wide.get_json()["releases"]} == {
        "1.1.0": 0,
        "1.0.0": 0,
    }
    assert old["id"] in {item["releaseId"] for item in adoption["releases"]}
    for bad in ("0", "abc", "100000"):
        query = f"/api/v1/channels/stable/adoption?windowHours={bad}"
        assert client.get(query, headers=viewer).status_code == 422
    missing = client.get("/api/v1/channels/nope/adoption", headers=viewer)
    assert missing.get_json()["code"] == "CHANNEL_NOT_FOUND"


def test_adoption_without_reconcile_frequency_states_operator_default(
    client: FlaskClient, seed: Seeder, admin_headers: dict[str, str]
) -> None:
    seed.channel("stable")
    head = seed.publish("stable", "1.0.0")
    candidate = seed.publish("stable", "1.1.0", rollout={"percent": 10})
    adoption = client.get("/api/v1/channels/stable/adoption", headers=admin_headers).get_json()
    assert adoption["reconcileFrequency"] == "1h"
    assert adoption["reconcileFrequencySource"] == "operator-default"
    assert adoption["rollout"]["releaseId"] == candidate["id"]
    flags = {item["releaseId"]: (item["head"], item["candidate"]) for item in adoption["releases"]}
    assert flags == {head["id"]: (True, False), candidate["id"]: (False, True)}


def test_retention_prunes_old_installations(app: Flask, client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    fresh, old = seed.license("stable"), seed.license("stable")
    poll_as(client, fresh["token"])
    poll_as(client, old["token"])
    client.get(CHANNEL_URL)
    recorder(app).flush()
    set_last_seen(app, old["id"], datetime.now(UTC) - timedelta(days=200))
    with app.app_context():
        session = get_session()
        session.execute(update(AnonymousPolls).values(hour=datetime.now(UTC) - timedelta(days=200)))
        session.commit()
        assert prune_installations(get_session(), TEST_ACTOR, 180) == (1, 1)
        assert prune_installations(get_session(), TEST_ACTOR, 180) == (0, 0)
        actions = get_session().scalars(
            select(AuditEvent.action).where(AuditEvent.action == "installations.prune")
        )
        assert list(actions) == ["installations.prune"]
    assert set(rows(app)) == {fresh["id"]}


def test_openapi_documents_rollouts_and_installations(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    paths = document["paths"]
    for path in (
        "/api/v1/installations",
        "/api/v1/channels/{name}/adoption",
        "/api/v1/channels/{name}/rollout",
        "/api/v1/channels/{name}/rollout/complete",
        "/api/v1/channels/{name}/rollout/abort",
    ):
        operations = paths[path]
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            assert operation.get("summary"), path
            assert {"401", "403"} <= set(operation["responses"]), path
    schemas = document["components"]["schemas"]
    assert {"Adoption", "Installation", "Rollout", "RolloutArgs"} <= set(schemas)
    assert "rollout" in schemas["Channel"]["properties"]
    assert "rollout" in schemas["Publish"]["properties"]
    query = {p["name"] for p in paths["/api/v1/installations"]["get"]["parameters"]}
    assert {"channel", "release", "subject", "seenSince", "limit", "cursor"} <= query


def test_stop_writes_what_is_left(app: Flask, seed: Seeder) -> None:
    seed.channel("stable")
    fresh = InstallationRecorder(state(app))
    for n in range(1000):
        fresh.record(f"lic-{n % 10}", "acme", "stable", "r", None, None)
    # Aggregated in memory per license until written.
    assert fresh.pending == 10
    assert rows(app) == {}
    fresh.stop()
    assert fresh.pending == 0
    assert sum(row.poll_count for row in rows(app).values()) == 1000


def test_license_ids_differing_only_in_case_are_two_installations(app: Flask, seed: Seeder) -> None:
    # Licenses signed elsewhere carry ids of their own: compared exactly on every backend.
    seed.channel("stable")
    release = seed.publish("stable", "1.0.0")
    recorder_ = InstallationRecorder(state(app))
    recorder_.record("Customer-A", "a", "stable", release["id"], "10.0.0.1", "x")
    recorder_.record("customer-a", "b", "stable", release["id"], "10.0.0.2", "y")
    recorder_.flush()
    found = rows(app)
    assert found["Customer-A"].subject == "a" and found["customer-a"].subject == "b"
    assert found["Customer-A"].poll_count == found["customer-a"].poll_count == 1
