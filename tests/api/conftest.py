"""Helpers for the release-engineering API tests: channels, publishes, row counts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from deployserver.db import get_session

CHART = {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.83.1"}


def strong_etag(body: str) -> str:
    """The ETag of served bytes, by the rule whose literal tests/specs/test_served.py pins."""
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


def release_body(version: str = "0.83.1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"version": version, "chart": CHART, "values": {"app": {"n": 1}}}
    body.update(extra)
    return body


@pytest.fixture
def count(app: Flask) -> Callable[[Any], int]:
    """Rows of a model now (a fresh transaction each call)."""

    def counter(model: Any) -> int:
        with app.app_context():
            session = get_session()
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return counter


@pytest.fixture
def make_channel(
    client: FlaskClient, admin_headers: dict[str, str]
) -> Callable[..., dict[str, Any]]:
    def factory(name: str = "stable", **extra: Any) -> dict[str, Any]:
        response = client.post(
            "/api/v1/channels", json={"name": name, **extra}, headers=admin_headers
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory


@pytest.fixture
def publish(client: FlaskClient, admin_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def factory(channel: str = "stable", version: str = "0.83.1", **extra: Any) -> dict[str, Any]:
        response = client.post(
            f"/api/v1/channels/{channel}/releases",
            json=release_body(version, **extra),
            headers=admin_headers,
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory
