"""Release services: concurrency on one channel, and what they return and store."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.models import Channel, ChannelEvent, ChannelRelease
from deployserver.services import audit, channels, releases
from deployserver.services.audit import Actor
from tests.api.conftest import CHART
from tests.queries import QueryRecorder, assert_index_walk

ACTOR = Actor(name="cli:test")


def test_concurrent_publishes_leave_one_unbroken_chain(app: Flask) -> None:
    with app.app_context():
        channels.create_channel(get_session(), ACTOR, "stable", values={"global": {"r": "us"}})
    workers = 16
    barrier = threading.Barrier(workers)
    outcomes: list[Any] = [None] * workers

    def publish(index: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes[index] = releases.publish_release(
                    get_session(),
                    Actor(name=f"worker-{index}"),
                    "stable",
                    f"1.{index}.0",
                    CHART,
                    values={"app": {"index": index}},
                )
            except Exception as exc:  # reported below with the others
                outcomes[index] = exc

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(o, releases.Published) and o.changed for o in outcomes), outcomes

    with app.app_context():
        session = get_session()
        channel = session.scalar(select(Channel).where(Channel.name == "stable"))
        assert channel is not None
        events = session.scalars(
            select(ChannelEvent)
            .where(ChannelEvent.channel_id == channel.id)
            .order_by(ChannelEvent.id)
        ).all()
        assert len(events) == workers
        assert events[0].previous_release_id is None
        for earlier, later in itertools.pairwise(events):
            assert later.previous_release_id == earlier.release_id
        assert channel.head_release_id == events[-1].release_id
        published = {o.release.id for o in outcomes}
        assert {e.release_id for e in events} == published
        served = session.scalars(select(ChannelRelease.release_id)).all()
        assert set(served) == published
    history = releases.channel_history
    with app.app_context():
        page = history(get_session(), "stable", 500, None)
        assert [entry.id for entry in page.items] == sorted((e.id for e in events), reverse=True)


def test_publish_service_reports_idempotent_repeat(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        channels.create_channel(session, ACTOR, "stable")
        first = releases.publish_release(
            session, ACTOR, "stable", "1.0.0", CHART, values_yaml="a: [1, 2]\n"
        )
        again = releases.publish_release(
            session, ACTOR, "stable", "1.0.0", CHART, values={"a": [1, 2]}
        )
        assert first.changed and not again.changed
        assert again.release == first.release
        assert first.release.created_by == "cli:test"


def test_update_channel_rebuilds_every_served_body_in_one_transaction(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        channels.create_channel(session, ACTOR, "stable", values={"x": 1})
        releases.publish_release(session, ACTOR, "stable", "1.0.0", CHART, values={"a": 1})
        releases.publish_release(session, ACTOR, "stable", "1.1.0", CHART, values={"a": 2})
        view = channels.update_channel(session, ACTOR, "stable", values={"x": 2}).channel
        assert view.values == {"x": 2} and view.head is not None and view.head.version == "1.1.0"
        bodies = session.scalars(select(ChannelRelease.body)).all()
        assert len(bodies) == 2 and all('"x":2' in body for body in bodies)


def _publish_some(app: Flask, count: int) -> None:
    with app.app_context():
        session = get_session()
        channels.create_channel(session, ACTOR, "stable")
        for n in range(count):
            releases.publish_release(session, ACTOR, "stable", f"1.0.{n}", CHART, values={})


def test_release_listing_deep_page_walks_the_index(app: Flask) -> None:
    _publish_some(app, 5)
    engine = state(app).engine
    seen: list[str] = []
    cursor = None
    with app.app_context(), QueryRecorder(engine) as recorder:
        while True:
            page = releases.list_channel_releases(get_session(), "stable", 2, cursor)
            seen += [view.version for view in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == [f"1.0.{n}" for n in reversed(range(5))]
    assert recorder.count <= 3 * 3  # channel, page rows, their channels: per page, any depth
    deep, parameters = recorder.touching("channel_releases")[-2]
    assert "channel_releases.arrived_at <=" in deep
    assert_index_walk(
        engine, deep, parameters, "ix_channel_releases_channel_id_arrived_at_release_id"
    )


def test_history_and_audit_deep_pages_are_keyset_queries(app: Flask) -> None:
    _publish_some(app, 5)
    engine = state(app).engine
    with app.app_context():
        session = get_session()
        history = releases.channel_history(session, "stable", 2, None)
        events = audit.list_events(session, 2, None)
        session.rollback()
        with QueryRecorder(engine) as recorder:
            releases.channel_history(session, "stable", 2, history.next_cursor)
        assert recorder.count <= 2  # the channel, the page
        deep, parameters = recorder.statements[-1]
        assert "channel_events.id <" in deep
        assert_index_walk(engine, deep, parameters, "ix_channel_events_channel_id_id")
        session.rollback()
        with QueryRecorder(engine) as recorder:
            audit.list_events(session, 2, events.next_cursor)
        assert recorder.count == 1
        assert "audit_events.id <" in recorder.statements[0][0]


def test_a_releases_channels_are_found_through_the_release_id_index(app: Flask) -> None:
    # Every publish, promote and release view asks which channels carry a release.
    _publish_some(app, 2)
    engine = state(app).engine
    with app.app_context():
        session = get_session()
        release = releases.get_release_by_version(session, "1.0.1")
        session.rollback()
        with QueryRecorder(engine) as recorder:
            releases.get_release(session, release.id)
    statement, parameters = recorder.touching("channel_releases")[0]
    assert_index_walk(engine, statement, parameters, "ix_channel_releases_release_id", sorts=True)
