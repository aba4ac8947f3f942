"""Console sign-in: server-side sessions, their cookie, and CSRF tokens.

The cookie carries a random session id; the database keeps only its HMAC under the console
key, so neither a leaked table nor a leaked log line opens a session. The console key is
derived from the server secret by HKDF with its own label: it is not the key that seals
signing keys (licensing/keys.py), and knowing one says nothing about the other.

CSRF tokens are HMACs of the session id under the same key (a different message), so a
form carries a token only this session could have been given. The sign-in form, which has
no session yet, is bound the same way to a short-lived pre-session cookie.

Only the console's own blueprint calls into here: the operator's poll opens no session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from deployserver.db import utcnow, write_transaction
from deployserver.extensions import state
from deployserver.models import ApiToken, ConsoleSession
from deployserver.services.tokens import Principal, principal_of, resolve_token, token_usable

# Domain separation: this derived key signs console sessions and CSRF tokens, nothing else.
CONSOLE_KEY_INFO = b"deployserver/console-session/v1"
COOKIE = "deployserver_console"
SIGNIN_COOKIE = "deployserver_console_signin"
COOKIE_PATH = "/console"
SIGNIN_SECONDS = 15 * 60
# last_seen_at only needs minute precision for an idle timeout counted in minutes.
TOUCH_RESOLUTION = timedelta(seconds=60)
MAX_COOKIE = 128


def console_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CONSOLE_KEY_INFO).derive(
        secret.encode("utf-8")
    )


def _mac(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _key() -> bytes:
    app_state = state()
    key = app_state.extras.get("console_key")
    if key is None:
        key = app_state.extras["console_key"] = console_key(app_state.config.secret_key)
    return bytes(key)


def session_hash(session_id: str) -> str:
    """What the database stores for a session id."""
    return _mac(_key(), "session", session_id)


def csrf_token(session_id: str) -> str:
    return _mac(_key(), "csrf", session_id)


def csrf_ok(session_id: str | None, presented: str | None) -> bool:
    if not session_id or not presented:
        return False
    return hmac.compare_digest(csrf_token(session_id), presented)


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in release engineer: the token's principal and this session's id."""

    principal: Principal
    session_id: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id)


def _cookie_value(name: str) -> str | None:
    value = request.cookies.get(name)
    if not value or len(value) > MAX_COOKIE:
        return None
    return value


def behind_https() -> bool:
    """Served over HTTPS, directly or (with trusted proxies) as the outermost proxy says."""
    if request.is_secure:
        return True
    trusted = state().config.trusted_proxies
    if trusted <= 0:
        return False
    hops = request.headers.get("X-Forwarded-Proto", "").split(",")
    return len(hops) >= trusted and hops[-trusted].strip().lower() == "https"


def _set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=behind_https(),
    )


def _clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=behind_https()
    )


def signin_nonce() -> str:
    """The pre-session nonce of this browser, or a new one (set by :func:`keep_signin_nonce`)."""
    return _cookie_value(SIGNIN_COOKIE) or secrets.token_urlsafe(32)


def signin_csrf(nonce: str) -> str:
    return _mac(_key(), "signin", nonce)


def keep_signin_nonce(response: Response, nonce: str) -> None:
    _set_cookie(response, SIGNIN_COOKIE, nonce, SIGNIN_SECONDS)


def signin_csrf_ok(presented: str | None) -> bool:
    nonce = _cookie_value(SIGNIN_COOKIE)
    if nonce is None or not presented:
        return False
    return hmac.compare_digest(signin_csrf(nonce), presented)


def sign_in(session: Session, secret: str, response: Response) -> Principal | None:
    """Open a session for a valid token and set its cookie; None when unknown or revoked."""
    principal = resolve_token(session, secret)
    if principal is None:
        return None
    session_id = secrets.token_urlsafe(32)
    idle = timedelta(minutes=state().config.console_session_minutes)
    with write_transaction(session):
        # Sessions abandoned without sign-out would otherwise stay forever: each sign-in
        # clears those already past the idle timeout (the table stays small).
        session.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < utcnow() - idle))
        session.add(ConsoleSession(id_hash=session_hash(session_id), token_id=principal.token_id))
    _set_cookie(response, COOKIE, session_id, None)
    _clear_cookie(response, SIGNIN_COOKIE)
    return principal


def current_user(session: Session) -> ConsoleUser | None:
    """The session of this request, or None (no cookie, unknown, idle too long, its token
    revoked or expired).

    An idle or revoked session is deleted on sight, so the cookie cannot come back to it.
    """
    session_id = _cookie_value(COOKIE)
    if session_id is None:
        return None
    id_hash = session_hash(session_id)
    row = session.execute(
        select(ConsoleSession, ApiToken)
        .join(ApiToken, ApiToken.id == ConsoleSession.token_id)
        .where(ConsoleSession.id_hash == id_hash)
    ).first()
    now = utcnow()
    if row is None:
        session.rollback()
        return None
    console_session, token = row
    idle = timedelta(minutes=state().config.console_session_minutes)
    if not token_usable(token, now) or now - console_session.last_seen_at > idle:
        session.rollback()
        end_session(session, session_id)
        return None
    principal = principal_of(token)
    stale = now - console_session.last_seen_at > TOUCH_RESOLUTION
    session.rollback()
    if stale:
        with write_transaction(session):
            session.execute(
                update(ConsoleSession)
                .where(ConsoleSession.id_hash == id_hash)
                .values(last_seen_at=now)
            )
    return ConsoleUser(principal, session_id)


def end_session(session: Session, session_id: str) -> None:
    with write_transaction(session):
        session.execute(
            delete(ConsoleSession).where(ConsoleSession.id_hash == session_hash(session_id))
        )


def forget_cookie(response: Response) -> None:
    _clear_cookie(response, COOKIE)
