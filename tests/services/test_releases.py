"""Release services: concurrency on one channel, and what they return and store."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import Channel, ChannelEvent, ChannelRelease
from deployserver.services import channels, releases
from deployserver.services.audit import Actor
from tests.api.conftest import CHART

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
        view = channels.update_channel(session, ACTOR, "stable", values={"x": 2})
        assert view.values == {"x": 2} and view.head is not None and view.head.version == "1.1.0"
        bodies = session.scalars(select(ChannelRelease.body)).all()
        assert len(bodies) == 2 and all('"x":2' in body for body in bodies)
