"""Indexes that keep costs flat as tables grow (make bench-scale), as the migrations build them."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import inspect

from deployserver.extensions import state


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        # A release's channels (every publish, promote and release view) by release id.
        ("channel_releases", ["release_id"]),
        # A channel's release listing, newest first, keyset-paged without a sort.
        ("channel_releases", ["channel_id", "arrived_at", "release_id"]),
        # The license listing, newest first, keyset-paged without a sort.
        ("licenses", ["issued_at", "id"]),
        # Trust refreshes read only the licenses whose status changed lately.
        ("licenses", ["status_changed_at"]),
        # ... and all non-active ones on a full read.
        ("licenses", ["status"]),
        # History and audit pages walk these.
        ("channel_events", ["channel_id", "id"]),
        ("audit_events", ["target", "id"]),
    ],
)
def test_index_exists(app: Flask, table: str, columns: list[str]) -> None:
    indexes = inspect(state(app).engine).get_indexes(table)
    assert columns in [index["column_names"] for index in indexes], indexes
