"""What a committed write invalidates: in the writing process at once, and in every other
worker through Redis (a private redis-server), within 1 s; Redis outages and recovery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver import create_app
from deployserver.config import Config
from deployserver.db import make_sessionmaker
from deployserver.errors import Conflict, NotFound
from deployserver.extensions import state
from deployserver.feed.recorder import stop_all
from deployserver.fleet.bus import start_listener
from deployserver.fleet.changes import Change, change_of, track_changes
from deployserver.services.channels import create_channel
from deployserver.services.licenses import revoke_license
from deployserver.services.releases import publish_release
from tests.conftest import TEST_ACTOR
from tests.operator_client import Seeder, basic
from tests.private_redis import PrivateRedis, private_redis

CHANNEL_URL = "/api/v1/operator/channel"
LONG = 3600


@pytest.mark.parametrize(
    ("action", "target", "expected"),
    [
        ("channel.publish", "channel:stable", Change("channel", "stable")),
        ("channel.rollout-advance", "channel:beta", Change("channel", "beta")),
        ("channel.update", "channel:stable", Change("channel", "stable")),
        ("license.revoke", "license:abc", Change("license", "abc", "revoked")),
        ("license.suspend", "license:abc", Change("license", "abc", "suspended")),
        ("license.reinstate", "license:abc", Change("license", "abc", "active")),
        ("key.retire", "key:k1", Change("key", "k1", "retired")),
        ("key.generate", "key:k2", Change("key", "k2", "")),
        ("license.pin", "license:abc", Change("policy", "abc")),
        ("license.unwindow", "license:abc", Change("policy", "abc")),
        ("release.require", "channel:stable/release:r1", Change("channel", "stable")),
        ("license.issue", "license:abc", None),
        ("release.create", "release:r1", None),
        ("token.revoke", "token:3", None),
    ],
)
def test_audit_actions_map_to_changes(action: str, target: str, expected: Change | None) -> None:
    assert change_of(action, target) == expected


def test_messages_round_trip_and_strangers_are_ignored() -> None:
    change = Change("license", "abc", "revoked")
    assert change.to_message() == '{"kind":"license","name":"abc","status":"revoked","v":1}'
    assert Change.from_message(change.to_message().encode()) == change
    for stranger in [b"", b"[]", b'{"v":1}', b'{"v":2,"kind":"channel"}', b'{"v":1,"kind":"x"}']:
        assert Change.from_message(stranger) is None
    assert Change.from_message(b'{"v":1,"kind":"channel","name":"' + b"a" * 5000 + b'"}') is None


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(license_cache_seconds=LONG)


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


def served_version(client: FlaskClient, headers: dict[str, str] | None = None) -> Any:
    response = client.get(CHANNEL_URL, headers=headers or {})
    if response.status_code != 200:
        return response.get_json()["code"]
    return response.get_json()["metadata"]["version"]


def test_the_writing_process_serves_its_change_at_once(client: FlaskClient, seed: Seeder) -> None:
    seed.channel("stable")
    first = seed.publish("stable", "1.0.0")
    license = seed.license("stable")
    assert served_version(client) == "1.0.0"
    assert served_version(client, basic(license["token"])) == "1.0.0"
    seed.publish("stable", "1.0.1")
    assert served_version(client) == "1.0.1"
    seed._post("/api/v1/channels/stable/rollback", {"releaseId": first["id"]}, 200)
    assert served_version(client) == "1.0.0"
    seed.license_action(license["id"], "suspend")
    assert served_version(client, basic(license["token"])) == "LICENSE_SUSPENDED"
    seed.license_action(license["id"], "reinstate")
    assert served_version(client, basic(license["token"])) == "1.0.0"


def test_only_committed_writes_are_delivered(app: Flask) -> None:
    delivered: list[Change] = []
    sessions = make_sessionmaker(state(app).engine)
    track_changes(sessions, delivered.extend)
    chart = {"url": "https://charts.example.com", "name": "app", "version": "1"}
    with sessions() as session:
        create_channel(session, TEST_ACTOR, "stable")
        publish_release(session, TEST_ACTOR, "stable", "1.0.0", chart)
        assert delivered == [Change("channel", "stable"), Change("channel", "stable")]
        delivered.clear()
        with pytest.raises(Conflict):
            # Same version, other content: refused and rolled back.
            publish_release(session, TEST_ACTOR, "stable", "1.0.0", {**chart, "version": "2"})
        with pytest.raises(NotFound):
            revoke_license(session, TEST_ACTOR, str(uuid.uuid4()))
    assert delivered == []


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def replica(
    make_config: Callable[..., Config], tmp_path: Path, redis_server: PrivateRedis
) -> Iterator[Callable[[str], FlaskClient]]:
    """Apps on one database and one Redis, each with its own instance folder and listener."""
    apps: list[Flask] = []

    def factory(name: str) -> FlaskClient:
        app = create_app(
            make_config(
                instance_path=tmp_path / name,
                license_cache_seconds=LONG,
                redis_url=redis_server.url,
                redis_prefix=f"test-{redis_server.port}",
            )
        )
        listener = start_listener(state(app))
        assert listener is not None and listener.subscribed.wait(5)
        apps.append(app)
        return app.test_client()

    yield factory
    # Their installation recorders write once more when stopped: before the engines go.
    stop_all()
    for app in apps:
        state(app).extras["fleet_listener"].stop()
        state(app).engine.dispose()


def wait_for(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check`` held; fails past ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not propagated in time"
        time.sleep(0.01)
    return time.monotonic() - started


def test_another_worker_drops_exactly_what_changed_within_a_second(
    app: Flask, client: FlaskClient, seed: Seeder, replica: Callable[[str], FlaskClient]
) -> None:
    seed.channel("stable")
    seed.channel("beta")
    seed.publish("stable", "1.0.0")
    seed.publish("beta", "2.0.0")
    license = seed.license("stable")
    other = replica("other")
    writer = replica("writer")
    writer_seed = Seeder(writer, seed.admin)
    assert served_version(other) == "1.0.0"
    assert served_version(other, basic(license["token"])) == "1.0.0"
    other_state = state(other.application)
    feed = other_state.extras["spec_feed"]
    feed.head("beta")
    writer_seed.publish("stable", "1.0.1")
    assert wait_for(lambda: "stable" not in feed._heads, 1.0) < 1.0
    # Exactly the channel concerned: beta's answer stays cached.
    assert "beta" in feed._heads
    assert served_version(other) == "1.0.1"
    writer_seed.license_action(license["id"], "revoke")
    wait_for(lambda: served_version(other, basic(license["token"])) == "LICENSE_REVOKED", 1.0)


def test_redis_outage_keeps_writes_going_and_recovery_drops_everything(
    seed: Seeder, replica: Callable[[str], FlaskClient], redis_server: PrivateRedis
) -> None:
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    other = replica("other")
    writer = Seeder(replica("writer"), seed.admin)
    assert served_version(other) == "1.0.0"
    listener = state(other.application).extras["fleet_listener"]
    redis_server.stop()
    wait_for(lambda: not listener.subscribed.is_set(), 5.0)
    started = time.monotonic()
    writer.publish("stable", "1.0.1")
    # The write neither failed nor waited for Redis.
    assert time.monotonic() - started < 1.0
    # The message was lost: the other worker still has its cached answer (the time bound
    # is what covers an outage)...
    assert served_version(other) == "1.0.0"
    redis_server.start()
    # ...until it is subscribed again and drops everything it cached meanwhile.
    wait_for(lambda: served_version(other) == "1.0.1", 5.0)
    # And invalidation works again.
    writer.publish("stable", "1.0.2")
    wait_for(lambda: served_version(other) == "1.0.2", 1.0)
