"""Signing in to the console with Flask's test client."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client: FlaskClient, headers: dict[str, str]) -> str:
    """Sign in through the form; returns the CSRF token of the new session's pages."""
    page = client.get("/console/signin")
    token = CSRF_RE.search(page.get_data(as_text=True))
    assert token is not None
    answer = client.post(
        "/console/signin", data={"csrf_token": token.group(1), "token": secret_of(headers)}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    channels = client.get("/console/")
    assert channels.status_code == 200
    match = CSRF_RE.search(channels.get_data(as_text=True))
    assert match is not None
    return match.group(1)
