"""Cursors are opaque to clients: a forged or damaged one is a 422 naming ``cursor``."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from deployserver.pagination import encode_cursor


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ("/api/v1/audit", {"id": "abc"}),
        ("/api/v1/audit", {"id": True}),
        ("/api/v1/channels/stable/history", {"id": "1; drop"}),
        ("/api/v1/channels/stable/releases", {"arrivedAt": "2026-01-01T00:00:00", "id": "x"}),
        ("/api/v1/channels/stable/releases", {"arrivedAt": 5, "id": "x"}),
        ("/api/v1/licenses", {"at": "yesterday", "id": "x"}),
        ("/api/v1/keys", {"at": "2026-01-01T00:00:00", "kid": "x"}),
        ("/api/v1/keys", {"at": "2026-01-01T00:00:00Z", "kid": 7}),
        ("/api/v1/channels", {"name": ["stable"]}),
        # Past the 32-bit id columns (a database error on PostgreSQL) or negative.
        ("/api/v1/audit", {"id": 2**31}),
        ("/api/v1/audit", {"id": 10**30}),
        ("/api/v1/channels/stable/history", {"id": 2**40}),
        ("/api/v1/channels/stable/history", {"id": -1}),
        # In UTC these fall outside what datetime holds (OverflowError converting them).
        ("/api/v1/channels/stable/releases", {"arrivedAt": "9999-12-31T23:59:59-14:00", "id": "x"}),
        ("/api/v1/channels/stable/releases", {"arrivedAt": "0001-01-01T00:00:00+14:00", "id": "x"}),
        ("/api/v1/licenses", {"at": "9999-12-31T23:59:59-14:00", "id": "x"}),
        ("/api/v1/keys", {"at": "0001-01-01T00:00:00+14:00", "kid": "x"}),
        ("/api/v1/installations", {"lastSeen": "9999-12-31T23:59:59-14:00", "id": "x"}),
        ("/api/v1/installations", {"lastSeen": "2026-01-01T00:00:00Z", "id": 5}),
        # Text no column can hold (NUL is a database error on PostgreSQL).
        ("/api/v1/channels", {"name": "st\x00able"}),
        ("/api/v1/installations", {"lastSeen": "2026-01-01T00:00:00Z", "id": "a\x00"}),
        ("/api/v1/channels/stable/releases", {"arrivedAt": "2026-01-01T00:00:00Z", "id": "\x00"}),
    ],
)
def test_forged_cursor_is_422(
    client: FlaskClient, admin_headers: dict[str, str], path: str, position: dict[str, Any]
) -> None:
    assert (
        client.post("/api/v1/channels", json={"name": "stable"}, headers=admin_headers).status_code
        == 201
    )
    response = client.get(
        path, query_string={"cursor": encode_cursor(position)}, headers=admin_headers
    )
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "INVALID_CURSOR"
    assert "cursor" in body["errors"]


@pytest.mark.parametrize("cursor", ["not base64!", "e30", "W10"])  # garbage, {}, []
def test_damaged_cursor_is_422(
    client: FlaskClient, admin_headers: dict[str, str], cursor: str
) -> None:
    response = client.get("/api/v1/audit", query_string={"cursor": cursor}, headers=admin_headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == "INVALID_CURSOR"
