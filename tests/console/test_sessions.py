"""Console sessions and CSRF with Flask's test client: cookies, refusals, timeouts, roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from deployserver.config import Config
from deployserver.console import sessions
from deployserver.db import get_session, utcnow
from deployserver.models import ApiToken, AuditEvent, ConsoleSession
from deployserver.services import tokens
from deployserver.services.tokens import hash_token
from tests.conftest import TEST_ACTOR
from tests.console.helpers import CSRF_RE, secret_of, sign_in
from tests.operator_client import Seeder

SECRET = "test-secret-key-not-for-production"


def session_rows(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(ConsoleSession)) or 0


def audit_rows(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def seeded(client: FlaskClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.channel("beta")
    first = seed.publish("stable", "1.0.0", {"app": {"tag": "1.0.0"}})
    second = seed.publish("stable", "1.1.0", {"app": {"tag": "1.1.0"}})
    return {"first": first, "second": second}


def head_of(client: FlaskClient, headers: dict[str, str], channel: str) -> str:
    return str(client.get(f"/api/v1/channels/{channel}", headers=headers).get_json()["head"]["id"])


def test_pages_without_a_session_go_to_sign_in(client: FlaskClient) -> None:
    answer = client.get("/console/channels/stable")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/signin?next=/console/channels/stable")


def test_sign_in_sets_a_strict_http_only_cookie_and_stores_only_a_hash(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    page = client.get("/console/signin")
    csrf = CSRF_RE.search(page.get_data(as_text=True))
    assert csrf is not None
    answer = client.post(
        "/console/signin", data={"csrf_token": csrf.group(1), "token": secret_of(admin_headers)}
    )
    assert answer.status_code == 303
    cookie = next(
        c for c in answer.headers.getlist("Set-Cookie") if c.startswith("deployserver_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    session_id = cookie.split(";", 1)[0].split("=", 1)[1]
    with app.app_context():
        stored = get_session().scalars(select(ConsoleSession.id_hash)).all()
    assert len(stored) == 1 and stored[0] != session_id and session_id not in stored[0]
    assert len(stored[0]) == 64


def test_cookie_is_secure_behind_https(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    page = client.get("/console/signin", base_url="https://console.example")
    csrf = CSRF_RE.search(page.get_data(as_text=True))
    assert csrf is not None
    answer = client.post(
        "/console/signin",
        base_url="https://console.example",
        data={"csrf_token": csrf.group(1), "token": secret_of(admin_headers)},
    )
    cookie = next(
        c for c in answer.headers.getlist("Set-Cookie") if c.startswith("deployserver_console=")
    )
    assert "Secure" in cookie


def test_sign_in_refuses_an_unknown_token_and_a_missing_csrf(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    page = client.get("/console/signin")
    csrf = CSRF_RE.search(page.get_data(as_text=True))
    assert csrf is not None
    wrong = client.post("/console/signin", data={"csrf_token": csrf.group(1), "token": "dst_nope"})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.get_data(as_text=True)
    forged = client.post("/console/signin", data={"token": secret_of(admin_headers)})
    assert forged.status_code == 403
    assert session_rows(app) == 0


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], seeded: dict[str, Any]
) -> None:
    csrf = sign_in(client, admin_headers)
    before = audit_rows(app)
    target = {"releaseId": seeded["first"]["id"]}
    missing = client.post("/console/channels/stable/rollback", data=target)
    assert missing.status_code == 403
    assert "CSRF" in missing.get_data(as_text=True)
    forged = client.post(
        "/console/channels/stable/rollback", data={**target, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    assert head_of(client, admin_headers, "stable") == seeded["second"]["id"]
    assert audit_rows(app) == before
    done = client.post("/console/channels/stable/rollback", data={**target, "csrf_token": csrf})
    assert done.status_code == 303
    assert head_of(client, admin_headers, "stable") == seeded["first"]["id"]


def test_another_sessions_csrf_token_is_refused(
    app: Flask, admin_headers: dict[str, str], seeded: dict[str, Any]
) -> None:
    first, second = app.test_client(), app.test_client()
    csrf_first = sign_in(first, admin_headers)
    sign_in(second, admin_headers)
    answer = second.post(
        "/console/channels/stable/rollback",
        data={"releaseId": seeded["first"]["id"], "csrf_token": csrf_first},
    )
    assert answer.status_code == 403


def test_sign_out_ends_the_session_and_a_replayed_form_is_refused(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], seeded: dict[str, Any]
) -> None:
    csrf = sign_in(client, admin_headers)
    cookie = client.get_cookie("deployserver_console", path="/console")
    assert cookie is not None
    out = client.post("/console/signout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert session_rows(app) == 0
    # The browser forgot the cookie; an attacker who kept it gets nothing from it.
    client.set_cookie("deployserver_console", cookie.value, path="/console")
    assert client.get("/console/").status_code == 302
    replay = client.post(
        "/console/channels/stable/rollback",
        data={"releaseId": seeded["first"]["id"], "csrf_token": csrf},
    )
    assert replay.status_code == 403
    assert head_of(client, admin_headers, "stable") == seeded["second"]["id"]


def test_an_idle_session_expires(
    make_config: Callable[..., Config], admin_headers: dict[str, str]
) -> None:
    from deployserver import create_app

    app = create_app(make_config(console_session_minutes=5))
    client = app.test_client()
    sign_in(client, admin_headers)
    with app.app_context():
        session = get_session()
        session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=4)))
        session.commit()
    assert client.get("/console/").status_code == 200  # 4 minutes idle: still open
    with app.app_context():
        session = get_session()
        session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=6)))
        session.commit()
    assert client.get("/console/").status_code == 302
    assert session_rows(app) == 0
    # A session abandoned without sign-out is cleared by the next sign-in of anyone.
    abandoned = app.test_client()
    sign_in(abandoned, admin_headers)
    with app.app_context():
        session = get_session()
        session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=9)))
        session.commit()
    sign_in(client, admin_headers)
    assert session_rows(app) == 1
    app.extensions["deployserver"].engine.dispose()


def test_a_revoked_token_ends_its_sessions(
    app: Flask, client: FlaskClient, make_token: Callable[..., dict[str, str]]
) -> None:
    viewer = make_token("viewer")
    sign_in(client, viewer)
    assert client.get("/console/").status_code == 200
    with app.app_context():
        session = get_session()
        token_id = session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(secret_of(viewer)))
        )
        assert token_id is not None
        tokens.revoke_token(session, TEST_ACTOR, token_id)
    assert client.get("/console/").status_code == 302
    assert session_rows(app) == 0


def test_an_expired_token_ends_its_sessions(
    app: Flask, client: FlaskClient, make_token: Callable[..., dict[str, str]]
) -> None:
    viewer = make_token("viewer")
    sign_in(client, viewer)
    assert client.get("/console/").status_code == 200
    with app.app_context():
        session = get_session()
        token = session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hash_token(secret_of(viewer)))
        )
        assert token is not None
        token.expires_at = datetime(2000, 1, 1, tzinfo=UTC)
        session.commit()
    assert client.get("/console/").status_code == 302
    assert session_rows(app) == 0


def test_viewer_sees_no_action_and_its_posts_are_refused(
    app: Flask,
    client: FlaskClient,
    make_token: Callable[..., dict[str, str]],
    admin_headers: dict[str, str],
    seeded: dict[str, Any],
) -> None:
    csrf = sign_in(client, make_token("viewer"))
    page = client.get("/console/channels/stable").get_data(as_text=True)
    assert "Promote…" not in page and "Roll back" not in page
    assert 'href="/console/licenses"' not in page
    before = audit_rows(app)
    refused = client.post(
        "/console/channels/stable/rollback",
        data={"releaseId": seeded["first"]["id"], "csrf_token": csrf},
    )
    assert refused.status_code == 403
    assert client.get("/console/licenses").status_code == 403
    assert client.get("/console/channels/stable/rollback").status_code == 403
    assert head_of(client, admin_headers, "stable") == seeded["second"]["id"]
    assert audit_rows(app) == before


def test_scoped_publisher_writes_only_its_channels(
    client: FlaskClient,
    make_token: Callable[..., dict[str, str]],
    admin_headers: dict[str, str],
    seeded: dict[str, Any],
) -> None:
    csrf = sign_in(client, make_token("publisher", ["beta"]))
    stable = client.get("/console/channels/stable").get_data(as_text=True)
    beta = client.get("/console/channels/beta").get_data(as_text=True)
    assert "Promote…" not in stable and "Promote…" in beta
    refused = client.post(
        "/console/channels/stable/rollback",
        data={"releaseId": seeded["first"]["id"], "csrf_token": csrf},
    )
    assert refused.status_code == 403
    promoted = client.post(
        "/console/channels/beta/promote",
        data={"releaseId": seeded["first"]["id"], "csrf_token": csrf},
    )
    assert promoted.status_code == 303
    assert head_of(client, admin_headers, "beta") == seeded["first"]["id"]


def test_console_key_is_its_own_hkdf_label() -> None:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"deployserver/console-session/v1"
    ).derive(SECRET.encode())
    seal = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"deployserver/signing-key-seal/v1"
    ).derive(SECRET.encode())
    assert sessions.console_key(SECRET) == derived
    assert derived != seal


def test_console_pages_and_assets_forbid_other_origins(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    sign_in(client, admin_headers)
    for path in ("/console/", "/console/signin", "/console/static/console.css"):
        with client.get(path) as answer:
            policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_the_operator_poll_opens_no_session(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0", {"app": {"tag": "1.0.0"}})
    answer = client.get("/api/v1/operator/channel")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert "Content-Security-Policy" not in answer.headers


def test_sign_in_never_redirects_off_the_console(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    page = client.get("/console/signin?next=https://evil.example/")
    csrf = CSRF_RE.search(page.get_data(as_text=True))
    assert csrf is not None
    answer = client.post(
        "/console/signin",
        data={
            "csrf_token": csrf.group(1),
            "token": secret_of(admin_headers),
            "next": "//evil.example/",
        },
    )
    assert answer.headers["Location"] == "/console/"


def test_cookie_is_secure_when_a_trusted_proxy_says_https(
    make_config: Callable[..., Config], admin_headers: dict[str, str]
) -> None:
    from deployserver import create_app

    app = create_app(make_config(trusted_proxies=1))
    client = app.test_client()
    proxied = {"X-Forwarded-Proto": "https"}
    page = client.get("/console/signin", headers=proxied)
    csrf = CSRF_RE.search(page.get_data(as_text=True))
    assert csrf is not None
    answer = client.post(
        "/console/signin",
        headers=proxied,
        data={"csrf_token": csrf.group(1), "token": secret_of(admin_headers)},
    )
    cookie = next(
        c for c in answer.headers.getlist("Set-Cookie") if c.startswith("deployserver_console=")
    )
    assert "Secure" in cookie
    app.extensions["deployserver"].engine.dispose()


def test_the_sign_in_token_of_another_browser_is_refused(
    app: Flask, admin_headers: dict[str, str]
) -> None:
    theirs, ours = app.test_client(), app.test_client()
    csrf = CSRF_RE.search(theirs.get("/console/signin").get_data(as_text=True))
    assert csrf is not None
    ours.get("/console/signin")
    answer = ours.post(
        "/console/signin", data={"csrf_token": csrf.group(1), "token": secret_of(admin_headers)}
    )
    assert answer.status_code == 403
    assert session_rows(app) == 0
