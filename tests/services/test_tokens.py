"""Token creation refuses names and channel lists that no backend or audit row can hold."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.services.tokens import MAX_TOKEN_NAME, create_token
from tests.conftest import TEST_ACTOR


def test_longest_token_name_still_fits_the_audit_actor(app: Flask, client: FlaskClient) -> None:
    # Writes are audited as "token:NAME" in a 255-character column (a 500 on PostgreSQL).
    with app.app_context():
        _, secret = create_token(get_session(), TEST_ACTOR, "n" * MAX_TOKEN_NAME, "admin")
        with pytest.raises(Invalid) as refused:
            create_token(get_session(), TEST_ACTOR, "n" * (MAX_TOKEN_NAME + 1), "admin")
    assert list(refused.value.errors or {}) == ["name"]
    response = client.post(
        "/api/v1/channels", json={"name": "beta"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    ("name", "channels", "field"),
    [("a\x00b", None, "name"), ("\ud800", None, "name"), ("ok", ["be\x00ta"], "channels")],
)
def test_unstorable_token_fields_are_422(app: Flask, name: str, channels: Any, field: str) -> None:
    with app.app_context(), pytest.raises(Invalid) as refused:
        create_token(get_session(), TEST_ACTOR, name, "publisher", channels)
    assert refused.value.status == 422
    assert list(refused.value.errors or {}) == [field]
