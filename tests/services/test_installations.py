"""Installation listing: keyset pages walk the (last_seen, license_id) index at any depth."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from deployserver.extensions import state
from deployserver.models import Installation
from deployserver.services import installations
from tests.queries import QueryRecorder, assert_index_walk


def test_deep_page_walks_the_last_seen_index(app: Flask, session: Any) -> None:
    # One last_seen for all: the license id breaks the tie inside the keyset.
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ids = [f"license-{n}" for n in range(5)]
    session.add_all(
        Installation(license_id=i, channel="stable", first_seen=moment, last_seen=moment)
        for i in ids
    )
    session.commit()
    engine = state(app).engine
    seen: list[str] = []
    cursor = None
    with QueryRecorder(engine) as recorder:
        while True:
            page = installations.list_installations(session, limit=2, cursor=cursor)
            seen += [view.license_id for view in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == ["license-4", "license-3", "license-2", "license-1", "license-0"]
    deep, parameters = recorder.touching("installations")[-1]
    # The leading range every backend walks on the index, not an OR alone.
    assert "installations.last_seen <=" in deep
    assert_index_walk(engine, deep, parameters, "ix_installations_last_seen_license_id")
