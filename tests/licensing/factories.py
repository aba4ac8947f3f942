"""Building blocks for license tests: channels, issued licenses, hand-made tokens."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.models import Channel, License
from deployserver.services import keys, licenses
from deployserver.services.audit import Actor

ACTOR = Actor(name="test")


def add_channel(session: Session, name: str = "stable") -> None:
    session.add(Channel(name=name))
    session.commit()


def issue(app: Flask, **kwargs: Any) -> tuple[License, str]:
    """Issue a license on ``stable`` (created when missing) through the service."""
    kwargs.setdefault("subject", "acme")
    kwargs.setdefault("channel", "stable")
    with app.app_context():
        session = get_session()
        if session.scalar(select(Channel).where(Channel.name == kwargs["channel"])) is None:
            add_channel(session, kwargs["channel"])
        session.rollback()
        return licenses.issue_license(session, ACTOR, state(app).config, **kwargs)


def signer(app: Flask) -> keys.Signer:
    """The current signing key (generated when there is none)."""
    with app.app_context():
        session = get_session()
        config = state(app).config
        found = keys.current_signer(session, config.secret_key)
        if found is None:
            keys.ensure_key_in(session, ACTOR, config.secret_key)
            found = keys.current_signer(session, config.secret_key)
        session.rollback()
        assert found is not None
        return found


def good_claims(app: Flask, **overrides: Any) -> dict[str, Any]:
    config = state(app).config
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": "acme",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "channel": "stable",
        "entitlements": {"seats": 5},
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def sign(app: Flask, claims: dict[str, Any], **header: Any) -> str:
    """A token signed by the server's own signing key, with chosen claims and header."""
    key = signer(app)
    headers = {"kid": key.kid, "typ": "JWT", **header}
    return jwt.encode(claims, key.private_key, algorithm=key.alg, headers=headers)


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")))
