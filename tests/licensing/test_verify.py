"""The verifier: every verdict code, every attack of issue 4 refused, cache and outage rules."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from jwt import PyJWS
from sqlalchemy.orm import Session, sessionmaker

from deployserver import create_app
from deployserver.config import Config
from deployserver.db import create_db_engine, get_session, make_sessionmaker
from deployserver.errors import Unavailable
from deployserver.extensions import state
from deployserver.feed.lkg import LastKnownGood
from deployserver.licensing import judge as v
from deployserver.licensing import trust
from deployserver.licensing.judge import Verdict
from deployserver.licensing.verifier import (
    FORCED_REFRESH_SECONDS,
    LicenseVerifier,
    license_verifier,
)
from deployserver.models import License
from deployserver.services import keys, licenses
from tests.licensing.factories import ACTOR, b64, good_claims, issue, segment, sign, signer
from tests.queries import QueryRecorder, assert_index_walk

DEAD_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def check(app: Flask, token: str) -> Verdict:
    return license_verifier(state(app)).verify(token)


def assert_code(verdict: Verdict, code: str, *, with_license: bool) -> None:
    assert verdict.code == code, verdict
    assert verdict.valid is (code == v.VALID)
    assert (verdict.license is not None) is with_license, verdict
    body = verdict.as_dict()
    assert body["code"] == code
    assert ("license" in body) is with_license


# --- valid licenses -------------------------------------------------------------------------


def test_issued_license_is_valid_with_its_claims(app: Flask) -> None:
    row, token = issue(app, entitlements={"seats": 100, "features": ["sso"]})
    verdict = check(app, token)
    assert_code(verdict, v.VALID, with_license=True)
    assert verdict.license is not None
    assert verdict.license.id == row.id
    assert verdict.license.subject == "acme"
    assert verdict.license.channel == "stable"
    assert verdict.license.entitlements == {"seats": 100, "features": ["sso"]}
    assert verdict.license.expires_at == row.expires_at
    body = verdict.as_dict()["license"]
    assert body["expiresAt"].endswith("Z") and body["issuedAt"].endswith("Z")
    assert set(body) == {
        "id", "subject", "channel", "issuedAt", "notBefore", "expiresAt", "entitlements"
    }  # fmt: skip


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_each_algorithm_verifies(app: Flask, alg: str) -> None:
    with app.app_context():
        keys.generate_key(get_session(), ACTOR, state(app).config.secret_key, alg)
    _, token = issue(app)
    assert jwt.get_unverified_header(token)["alg"] == alg
    assert_code(check(app, token), v.VALID, with_license=True)


def test_perpetual_license_has_no_exp_and_is_valid(app: Flask) -> None:
    row, token = issue(app, perpetual=True)
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    assert row.expires_at is None
    verdict = check(app, token)
    assert_code(verdict, v.VALID, with_license=True)
    assert verdict.as_dict()["license"]["expiresAt"] is None


def test_license_unknown_to_our_table_is_valid(app: Flask) -> None:
    # Signed by a trusted key but never recorded here (issued by another deployment).
    token = sign(app, good_claims(app, channel=None))
    verdict = check(app, token)
    assert_code(verdict, v.VALID, with_license=True)
    assert verdict.license is not None and verdict.license.channel is None


def test_audience_list_containing_ours_is_valid(app: Flask) -> None:
    token = sign(app, good_claims(app, aud=["someone-else", state(app).config.audience]))
    assert_code(check(app, token), v.VALID, with_license=True)


def test_exp_within_leeway_is_still_valid(app: Flask) -> None:
    token = sign(app, good_claims(app, exp=int(time.time()) - 10))
    assert_code(check(app, token), v.VALID, with_license=True)


# --- claims refused after the signature verified (license shown) ----------------------------


def test_wrong_issuer(app: Flask) -> None:
    verdict = check(app, sign(app, good_claims(app, iss="someone-else")))
    assert_code(verdict, v.WRONG_ISSUER, with_license=True)


def test_missing_issuer_is_wrong_issuer(app: Flask) -> None:
    claims = good_claims(app)
    del claims["iss"]
    assert_code(check(app, sign(app, claims)), v.WRONG_ISSUER, with_license=True)


@pytest.mark.parametrize("aud", ["someone-else", ["a", "b"], None])
def test_wrong_audience(app: Flask, aud: Any) -> None:
    claims = good_claims(app, aud=aud)
    assert_code(check(app, sign(app, claims)), v.WRONG_AUDIENCE, with_license=True)


def test_expired(app: Flask) -> None:
    verdict = check(app, sign(app, good_claims(app, exp=1767225600)))
    assert_code(verdict, v.EXPIRED, with_license=True)
    assert verdict.detail == "expired at 2026-01-01T00:00:00Z"
    assert verdict.as_dict()["license"]["expiresAt"] == "2026-01-01T00:00:00Z"


def test_not_yet_valid(app: Flask) -> None:
    later = int(time.time()) + 3600
    verdict = check(app, sign(app, good_claims(app, nbf=later, exp=later + 3600)))
    assert_code(verdict, v.NOT_YET_VALID, with_license=True)


def test_issued_with_future_not_before_is_not_yet_valid(app: Flask) -> None:
    from datetime import UTC, datetime, timedelta

    _, token = issue(app, not_before=datetime.now(UTC) + timedelta(days=1))
    assert_code(check(app, token), v.NOT_YET_VALID, with_license=True)


def test_revoked(app: Flask) -> None:
    row, token = issue(app)
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, row.id)
    assert_code(check(app, token), v.REVOKED, with_license=True)


def test_suspended_then_reinstated(app: Flask, make_config: Callable[..., Config]) -> None:
    quick = create_app(make_config(license_cache_seconds=0))
    row, token = issue(quick)
    with quick.app_context():
        licenses.suspend_license(get_session(), ACTOR, row.id)
    assert_code(check(quick, token), v.SUSPENDED, with_license=True)
    with quick.app_context():
        licenses.reinstate_license(get_session(), ACTOR, row.id)
    assert_code(check(quick, token), v.VALID, with_license=True)
    state(quick).engine.dispose()


# --- structural attacks (no license shown) --------------------------------------------------


@pytest.mark.parametrize(
    "claim", ["exp", "sub", "jti"], ids=["missing-exp", "missing-sub", "missing-jti"]
)
def test_missing_required_claim_is_malformed(app: Flask, claim: str) -> None:
    claims = good_claims(app)
    del claims[claim]
    assert_code(check(app, sign(app, claims)), v.MALFORMED, with_license=False)


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": "tomorrow"},
        {"exp": True},
        {"nbf": 1e300},
        {"sub": ""},
        {"sub": 42},
        {"jti": "x" * 300},
        {"channel": ["stable"]},
        {"entitlements": "all"},
        {"perpetual": "yes", "exp": None},
    ],
)
def test_badly_typed_claims_are_malformed(app: Flask, overrides: dict[str, Any]) -> None:
    claims = good_claims(app, **{k: v for k, v in overrides.items() if v is not None})
    for key, value in overrides.items():
        if value is None:
            del claims[key]
    assert_code(check(app, sign(app, claims)), v.MALFORMED, with_license=False)


def test_alg_none_is_refused(app: Flask) -> None:
    kid = signer(app).kid
    for alg in ("none", "None", "NONE"):
        token = f"{segment({'alg': alg, 'kid': kid, 'typ': 'JWT'})}.{segment(good_claims(app))}."
        assert_code(check(app, token), v.UNSUPPORTED_ALGORITHM, with_license=False)


def test_hs256_signed_with_the_public_key_is_refused(app: Flask) -> None:
    # Key confusion: an attacker HMACs with the public key a naive verifier would use.
    key = signer(app)
    with app.app_context():
        public_pem = get_session().get(keys.SigningKey, key.kid).public_key  # type: ignore[union-attr]
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        head = segment({"alg": alg, "kid": key.kid, "typ": "JWT"})
        body = segment(good_claims(app))
        mac = hmac.new(public_pem.encode(), f"{head}.{body}".encode(), digest).digest()
        token = f"{head}.{body}.{b64(mac)}"
        assert_code(check(app, token), v.UNSUPPORTED_ALGORITHM, with_license=False)


def test_allowed_alg_that_is_not_the_keys_alg_is_refused(app: Flask) -> None:
    key = signer(app)  # EdDSA
    head = segment({"alg": "ES256", "kid": key.kid, "typ": "JWT"})
    token = f"{head}.{segment(good_claims(app))}.{b64(b'x' * 64)}"
    verdict = check(app, token)
    assert_code(verdict, v.UNSUPPORTED_ALGORITHM, with_license=False)
    assert "EdDSA" in verdict.detail


@pytest.mark.parametrize(
    "kid",
    [
        "no-such-key",
        "",
        "k" * 65,
        "k" * 10_000,
        "' OR '1'='1' --",
        "x'; DROP TABLE signing_keys; --",
        "../../../../etc/passwd",
        "..\\..\\secret_key",
        "%00",
        42,
        None,
    ],
    ids=[
        "unknown",
        "empty",
        "long",
        "very-long",
        "sql",
        "sql-drop",
        "path",
        "win-path",
        "nul",
        "int",
        "none",
    ],
)
def test_kid_attacks_are_unknown_key(app: Flask, kid: Any) -> None:
    key = signer(app)
    header: dict[str, Any] = {"typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    head = segment({"alg": key.alg, **header})
    body = segment(good_claims(app))
    signature = b64(key.private_key.sign(f"{head}.{body}".encode()))  # type: ignore[call-arg]
    token = f"{head}.{body}.{signature}"
    verdict = check(app, token)
    if len(token) > v.MAX_TOKEN_LENGTH or len(head) > v.MAX_HEADER_SEGMENT:
        assert_code(verdict, v.MALFORMED, with_license=False)
    else:
        assert_code(verdict, v.UNKNOWN_KEY, with_license=False)
    with app.app_context():
        assert get_session().get(keys.SigningKey, key.kid) is not None


def tamper(token: str, index: int) -> str:
    parts = token.split(".")
    middle = len(parts[index]) // 2
    char = parts[index][middle]
    parts[index] = (
        parts[index][:middle] + ("A" if char != "A" else "B") + parts[index][middle + 1 :]
    )
    return ".".join(parts)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_tampered_signature_is_bad_signature(app: Flask, alg: str) -> None:
    if alg != "EdDSA":
        with app.app_context():
            keys.generate_key(get_session(), ACTOR, state(app).config.secret_key, alg)
    _, token = issue(app)
    assert_code(check(app, tamper(token, 2)), v.BAD_SIGNATURE, with_license=False)
    # A signature of the wrong length is refused the same way, never an error.
    head, body, _ = token.split(".")
    for garbage in (b"x", b"y" * 1000):
        verdict = check(app, f"{head}.{body}.{b64(garbage)}")
        assert_code(verdict, v.BAD_SIGNATURE, with_license=False)


def test_tampered_payload_is_bad_signature(app: Flask) -> None:
    _, token = issue(app)
    head, body, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["entitlements"] = {"seats": 1_000_000}
    forged = f"{head}.{segment(claims)}.{signature}"
    assert_code(check(app, forged), v.BAD_SIGNATURE, with_license=False)
    assert_code(check(app, tamper(token, 1)), v.BAD_SIGNATURE, with_license=False)


def test_tampered_header_is_bad_signature(app: Flask) -> None:
    _, token = issue(app)
    head, body, signature = token.split(".")
    header = json.loads(jwt.utils.base64url_decode(head))
    header["x-extra"] = "1"
    assert_code(
        check(app, f"{segment(header)}.{body}.{signature}"), v.BAD_SIGNATURE, with_license=False
    )


@pytest.mark.parametrize(
    "shape",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "..",
        "!!!.@@@.###",
        "eyJhbGciOiJFZERTQSJ9.%%%.abc",
        "eyJhbGciOiJFZERTQSJ9.abc.",
        f"{b64('not json')}.{b64('{}')}.{b64('sig')}",
        f"{b64('[1,2]')}.{b64('{}')}.{b64('sig')}",
        b64('{"alg": NaN}') + "." + b64("{}") + "." + b64("sig"),
        "é.é.é",
        "\ud800.\udfff.x",
    ],
)
def test_garbage_is_malformed(app: Flask, shape: str) -> None:
    assert_code(check(app, shape), v.MALFORMED, with_license=False)


def test_two_and_four_segments_of_a_real_license_are_malformed(app: Flask) -> None:
    _, token = issue(app)
    head, body, signature = token.split(".")
    assert_code(check(app, f"{head}.{body}"), v.MALFORMED, with_license=False)
    assert_code(check(app, f"{token}.{signature}"), v.MALFORMED, with_license=False)


def test_non_json_payload_signed_by_us_is_malformed(app: Flask) -> None:
    key = signer(app)
    token = PyJWS().encode(b"not json", key.private_key, key.alg, headers={"kid": key.kid})
    assert_code(check(app, token), v.MALFORMED, with_license=False)


@pytest.mark.parametrize(
    "header",
    [{"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}, {"typ": "at+jwt"}, {"typ": 7}],
)
def test_header_extensions_and_other_types_are_malformed(
    app: Flask, header: dict[str, Any]
) -> None:
    token = sign(app, good_claims(app), **header)
    assert_code(check(app, token), v.MALFORMED, with_license=False)


def test_huge_token_is_malformed_before_any_work(app: Flask) -> None:
    _, token = issue(app)
    head, body, signature = token.split(".")
    huge = f"{head}.{body + 'A' * 200_000}.{signature}"
    verifier = license_verifier(state(app))
    verdict = verifier.verify(huge)
    assert_code(verdict, v.MALFORMED, with_license=False)
    assert verifier.cache_size == 0
    assert_code(verifier.verify("A" * 200_000), v.MALFORMED, with_license=False)


# --- keys: rotation and retirement ----------------------------------------------------------


def test_rotation_keeps_old_licenses_valid_until_the_key_is_retired(
    make_config: Callable[..., Config],
) -> None:
    app = create_app(make_config(license_cache_seconds=0))
    _, old_token = issue(app)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    with app.app_context():
        new = keys.generate_key(get_session(), ACTOR, state(app).config.secret_key)
    _, new_token = issue(app)
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old_kid
    assert_code(check(app, old_token), v.VALID, with_license=True)
    with app.app_context():
        keys.retire_key(get_session(), ACTOR, old_kid)
    assert_code(check(app, old_token), v.UNKNOWN_KEY, with_license=False)
    assert_code(check(app, new_token), v.VALID, with_license=True)
    state(app).engine.dispose()


def test_every_code_is_exercised() -> None:
    # Guard for this module: the parametrised tests above produce each code at least once.
    source = Path(__file__).read_text()
    for code in v.CODES:
        assert f"v.{code}" in source, code


# --- the cache ------------------------------------------------------------------------------


class Clock:
    """A wall clock that follows real time plus what the test advanced, and a monotonic
    clock moved by hand only.

    The wall clock keeps running so a license issued after the clock was made (its ``nbf``
    is the issuing second) is never judged from before it was issued.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.mono = 1000.0

    @property
    def wall(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.mono += seconds


def make_verifier(
    app: Flask, clock: Clock, sessions: sessionmaker[Session] | None = None, **overrides: Any
) -> LicenseVerifier:
    config = state(app).config
    settings: dict[str, Any] = {
        "issuer": config.issuer,
        "audience": config.audience,
        "leeway_seconds": 0,
        "cache_seconds": 30,
        "cache_entries": 100,
    }
    settings.update(overrides)
    return LicenseVerifier(
        sessions or make_sessionmaker(state(app).engine),
        LastKnownGood(config.instance_path),
        clock=lambda: clock.wall,
        monotonic=lambda: clock.mono,
        **settings,
    )


def test_cache_hit_needs_no_database(app: Flask) -> None:
    _, token = issue(app)
    clock = Clock()
    sessions = make_sessionmaker(state(app).engine)
    verifier = make_verifier(app, clock, sessions)
    first = verifier.verify(token)
    assert first.valid
    # Point the verifier at a dead database: a hit must not notice.
    dead = create_db_engine(Config(database_url=DEAD_DATABASE).sqlalchemy_url)
    sessions.configure(bind=dead)
    assert verifier.verify(token) is first
    dead.dispose()


def test_cached_valid_verdict_never_outlives_exp(app: Flask) -> None:
    clock = Clock()
    token = sign(app, good_claims(app, exp=int(clock.wall) + 5))
    verifier = make_verifier(app, clock)
    assert verifier.verify(token).valid
    clock.advance(6)  # past exp, well inside the 30 s bound
    assert verifier.verify(token).code == v.EXPIRED


def test_cached_not_yet_valid_verdict_ends_at_nbf(app: Flask) -> None:
    clock = Clock()
    start = int(clock.wall) + 5
    token = sign(app, good_claims(app, nbf=start, exp=start + 3600))
    verifier = make_verifier(app, clock)
    assert verifier.verify(token).code == v.NOT_YET_VALID
    clock.advance(6)
    assert verifier.verify(token).code == v.VALID


def test_cache_is_bounded_in_entries(app: Flask) -> None:
    clock = Clock()
    verifier = make_verifier(app, clock, cache_entries=3)
    tokens = [issue(app, subject=f"s{i}")[1] for i in range(5)]
    for token in tokens:
        assert verifier.verify(token).valid
        assert verifier.cache_size <= 3
    assert verifier.cache_size == 3


def test_revocation_reaches_a_warm_cache_after_the_bound(app: Flask) -> None:
    clock = Clock()
    verifier = make_verifier(app, clock, cache_seconds=30)
    row, token = issue(app)
    assert verifier.verify(token).valid
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, row.id)
    clock.advance(31)
    assert verifier.verify(token).code == v.REVOKED


@pytest.mark.parametrize("change", ["revoke", "suspend", "retire"])
def test_status_changes_take_effect_within_cache_seconds(
    make_config: Callable[..., Config], change: str
) -> None:
    app = create_app(make_config(license_cache_seconds=1))
    row, token = issue(app)
    verifier = license_verifier(state(app))
    assert verifier.verify(token).valid
    with app.app_context():
        session = get_session()
        if change == "retire":
            keys.generate_key(session, ACTOR, state(app).config.secret_key)
            keys.retire_key(session, ACTOR, row.kid)
        else:
            getattr(licenses, f"{change}_license")(session, ACTOR, row.id)
    time.sleep(1.2)
    expected = {"revoke": v.REVOKED, "suspend": v.SUSPENDED, "retire": v.UNKNOWN_KEY}[change]
    assert verifier.verify(token).code == expected
    state(app).engine.dispose()


# --- database outage ------------------------------------------------------------------------


def test_outage_keeps_the_in_memory_snapshot_and_recovers(app: Flask) -> None:
    clock = Clock()
    sessions = make_sessionmaker(state(app).engine)
    verifier = make_verifier(app, clock, sessions)
    revoked_row, revoked = issue(app, subject="gone")
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, revoked_row.id)
    row, token = issue(app)
    _, other = issue(app, subject="other")
    assert verifier.verify(token).valid

    dead = create_db_engine(Config(database_url=DEAD_DATABASE).sqlalchemy_url)
    live = state(app).engine
    sessions.configure(bind=dead)
    clock.advance(31)
    assert verifier.verify(token).valid
    assert verifier.verify(other).valid  # never seen before: judged by the kept snapshot
    assert verifier.verify(revoked).code == v.REVOKED

    # The database returns and a revocation happened meanwhile: the next refresh sees it.
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, row.id)
    sessions.configure(bind=live)
    clock.advance(31)
    assert verifier.verify(token).code == v.REVOKED
    dead.dispose()


def test_cold_start_during_outage_uses_the_stored_snapshot(
    app: Flask, make_config: Callable[..., Config]
) -> None:
    revoked_row, revoked = issue(app, subject="gone")
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, revoked_row.id)
    _, token = issue(app)
    assert check(app, token).valid  # the first refresh writes trust.json

    stored = (state(app).config.instance_path / "lkg" / "trust.json").read_text()
    assert "PRIVATE" not in stored and "private" not in stored
    assert revoked_row.id in json.loads(stored)["licenses"]

    down = create_app(make_config(database_url=DEAD_DATABASE))
    assert check(down, token).valid
    assert check(down, revoked).code == v.REVOKED
    assert check(down, "a.b").code == v.MALFORMED
    state(down).engine.dispose()


def test_outage_with_nothing_known_is_unavailable(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    down = create_app(make_config(database_url=DEAD_DATABASE, instance_path=tmp_path / "empty"))
    with pytest.raises(Unavailable):
        check(down, "eyJhbGciOiJFZERTQSJ9.e30.c2ln")
    state(down).engine.dispose()


def test_unchanged_snapshot_is_not_rewritten(app: Flask) -> None:
    clock = Clock()
    _, token = issue(app)
    verifier = make_verifier(app, clock, cache_seconds=1)
    verifier.verify(token)
    path = state(app).config.instance_path / "lkg" / "trust.json"
    first = path.stat().st_mtime_ns
    path.write_text(path.read_text())  # same content, new mtime
    touched = path.stat().st_mtime_ns
    clock.advance(2)
    verifier.verify(token)
    assert path.stat().st_mtime_ns == touched
    assert touched >= first


# --- refresh cost (make bench-scale: flat as licenses grow) -----------------------------------


def _license_reads(recorder: QueryRecorder) -> list[str]:
    return [sql for sql, _ in recorder.touching("licenses")]


def test_first_refresh_reads_non_active_ids_through_the_status_index(app: Flask) -> None:
    row, _ = issue(app)
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, row.id)
    verifier = make_verifier(app, Clock())
    engine = state(app).engine
    with QueryRecorder(engine) as recorder:
        snapshot = verifier.trust()
    assert snapshot.license_statuses == {row.id: "revoked"}
    assert recorder.count <= 3  # keys, non-active ids, newest status change
    (by_status,) = [sql for sql in _license_reads(recorder) if "status IN" in sql]
    statement, parameters = next(s for s in recorder.statements if s[0] == by_status)
    assert_index_walk(engine, statement, parameters, "ix_licenses_status")


def test_later_refreshes_read_only_recent_status_changes(app: Flask) -> None:
    clock = Clock()
    revoked_row, _ = issue(app, subject="gone")
    row, token = issue(app)
    with app.app_context():
        licenses.revoke_license(get_session(), ACTOR, revoked_row.id)
    verifier = make_verifier(app, clock)
    first = verifier.trust()
    engine = state(app).engine

    clock.advance(31)
    with QueryRecorder(engine) as recorder:
        assert verifier.trust() is first  # nothing changed: the same snapshot, no copy
    assert recorder.count <= 2  # keys, licenses changed since the last read
    (changed,) = _license_reads(recorder)
    assert "status_changed_at >=" in changed and "status IN" not in changed
    statement, parameters = recorder.touching("licenses")[0]
    assert_index_walk(engine, statement, parameters, "ix_licenses_status_changed_at")

    # Each change still reaches the verdict within one refresh, a reinstatement included.
    with app.app_context():
        licenses.suspend_license(get_session(), ACTOR, row.id)
    clock.advance(31)
    assert verifier.verify(token).code == v.SUSPENDED
    with app.app_context():
        licenses.reinstate_license(get_session(), ACTOR, row.id)
    clock.advance(31)
    assert verifier.verify(token).valid
    assert verifier.trust().license_statuses == {revoked_row.id: "revoked"}


def test_a_change_stamped_before_the_newest_seen_is_still_read(app: Flask) -> None:
    # A revocation stamped by a host whose clock lags, or committed after a later change was
    # already read, is older than the newest change seen: the overlap still reads it.
    clock = Clock()
    early_row, early = issue(app, subject="early")
    late_row, _ = issue(app, subject="late")
    with app.app_context():
        licenses.suspend_license(get_session(), ACTOR, late_row.id)
    verifier = make_verifier(app, clock)
    assert verifier.verify(early).valid
    with app.app_context():
        session = get_session()
        licenses.revoke_license(session, ACTOR, early_row.id)
        stored, late = session.get(License, early_row.id), session.get(License, late_row.id)
        assert stored is not None and late is not None and late.status_changed_at is not None
        stored.status_changed_at = late.status_changed_at - trust.STATUS_CHANGE_OVERLAP / 2
        session.commit()
    clock.advance(31)
    assert verifier.verify(early).code == v.REVOKED


def test_full_reread_is_periodic(app: Flask) -> None:
    clock = Clock()
    verifier = make_verifier(app, clock)
    verifier.trust()
    clock.advance(trust.FULL_RELOAD_SECONDS + 1)
    with QueryRecorder(state(app).engine) as recorder:
        verifier.trust()
    assert any("status IN" in sql for sql in _license_reads(recorder))


# --- keys that appear, and refreshes racing a judgement --------------------------------------


def test_license_signed_by_a_brand_new_key_verifies_at_once(app: Flask) -> None:
    clock = Clock()
    verifier = make_verifier(app, clock, cache_seconds=30)
    _, old = issue(app)
    assert verifier.verify(old).valid  # the snapshot is fresh for 30 s from here
    with app.app_context():
        keys.generate_key(get_session(), ACTOR, state(app).config.secret_key, "ES256")
    _, new = issue(app, subject="new")
    assert verifier.verify(new).valid  # no wait for the bound: an unknown kid re-reads keys
    assert verifier.verify(old).valid  # the old key still verifies


def test_made_up_kids_reread_keys_at_most_once_per_interval(app: Flask) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    clock = Clock()
    verifier = make_verifier(app, clock, cache_seconds=30)
    _, token = issue(app)
    assert verifier.verify(token).valid

    def forged(kid: str) -> str:
        return jwt.encode(good_claims(app), Ed25519PrivateKey.generate(), "EdDSA", {"kid": kid})

    with QueryRecorder(state(app).engine) as recorder:
        assert verifier.verify(forged("made-up-1")).code == v.UNKNOWN_KEY
    assert recorder.touching("signing_keys")  # the first one looks again
    with QueryRecorder(state(app).engine) as recorder:
        for number in range(2, 20):
            assert verifier.verify(forged(f"made-up-{number}")).code == v.UNKNOWN_KEY
    assert recorder.count == 0  # the rest, within the interval, cost no query
    assert verifier.verify(token).valid  # and the good license stayed cached
    clock.advance(FORCED_REFRESH_SECONDS + 0.1)
    with QueryRecorder(state(app).engine) as recorder:
        assert verifier.verify(forged("made-up-later")).code == v.UNKNOWN_KEY
    assert recorder.touching("signing_keys")


def test_a_refresh_racing_a_judgement_does_not_extend_the_stale_verdict(app: Flask) -> None:
    row, token = issue(app)
    sessions = make_sessionmaker(state(app).engine)
    monotonic = [1000.0]
    raced: list[bool] = []
    verifier: LicenseVerifier

    def wall() -> float:
        # While the token is judged by the snapshot taken before it, another thread revokes
        # the license and refreshes the snapshot.
        if not raced:
            raced.append(True)
            with app.app_context():
                licenses.revoke_license(get_session(), ACTOR, row.id)
            monotonic[0] += 31
            verifier.trust()
        return time.time()

    config = state(app).config
    verifier = LicenseVerifier(
        sessions,
        LastKnownGood(config.instance_path),
        issuer=config.issuer,
        audience=config.audience,
        leeway_seconds=0,
        cache_seconds=30,
        cache_entries=100,
        clock=wall,
        monotonic=lambda: monotonic[0],
    )
    verifier.trust()
    verifier.verify(token)  # judged by the old snapshot: whatever it says, not cached
    assert verifier.trust().license_statuses.get(row.id) == "revoked"
    assert verifier.verify(token).code == v.REVOKED
