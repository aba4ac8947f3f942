"""The poll (API.md section 1), answered at the WSGI level: the product's hot path.

Per request: parse Basic auth, verify the license (cached), find the stored bytes of the
channel's head or rollout candidate (cached), note the poll for installation insights (in
memory; written later by a background thread), return the bytes. No schema, no JSON
encoding, no ORM object and no database write here.

:func:`answer_poll` holds the poll's rules, once. :class:`PollRoutes` sits in front of
Flask's dispatch and answers ``GET`` on the two operator routes with it directly: routing,
request and response objects and the request context cost more than the poll's own work.
Everything else (other methods, other paths) goes to Flask, where the documented views of
``api/operator.py`` answer with the same function.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sqlalchemy.exc import DBAPIError

from deployserver import metrics
from deployserver.clients import client_address
from deployserver.errors import (
    BASIC_CHALLENGE,
    PROBLEM_JSON,
    DeployServerError,
    Unauthorized,
    database_outage,
    problem_document,
)
from deployserver.extensions import AppState
from deployserver.feed.answers import ServedSpec, spec_feed
from deployserver.feed.recorder import EXTRAS_KEY as RECORDER_KEY
from deployserver.feed.recorder import installation_recorder
from deployserver.licensing.credentials import license_from_authorization
from deployserver.licensing.judge import LicenseView
from deployserver.licensing.verifier import license_verifier
from deployserver.ratelimit import license_failure
from deployserver.request_id import ENVIRON_KEY as REQUEST_ID_KEY

log = logging.getLogger(__name__)

CHANNEL_PATH = "/api/v1/operator/channel"
PIN_PREFIX = CHANNEL_PATH + "/release/"

# Verdict codes that have their own poll error; every other refusal is LICENSE_INVALID.
REFUSALS = {
    "EXPIRED": "LICENSE_EXPIRED",
    "NOT_YET_VALID": "LICENSE_NOT_YET_VALID",
    "REVOKED": "LICENSE_REVOKED",
    "SUSPENDED": "LICENSE_SUSPENDED",
}
CACHE_CONTROL = ("Cache-Control", "private, no-cache")
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class Outcome(enum.Enum):
    """How a poll ended; every answer names one (the place to count polls)."""

    SERVED = "served"
    NOT_MODIFIED = "not_modified"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


_OUTCOME_BY_STATUS = {
    401: Outcome.REFUSED,
    429: Outcome.REFUSED,
    404: Outcome.NOT_FOUND,
    503: Outcome.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class PollAnswer:
    """A complete answer: status, headers (a fresh list: middleware may add to it), body."""

    outcome: Outcome
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        return _STATUS_LINES[self.status]


def answer_poll(app_state: AppState, environ: dict[str, Any], release_id: str | None) -> PollAnswer:
    """Answer a poll of the channel (``release_id`` None) or of one pinned release."""
    started = time.perf_counter()
    answered: list[str] = []
    answer = _answer(app_state, environ, release_id, answered)
    # Every poll, on either path, ends here with its outcome: the one place to count them.
    metrics.poll(
        answered[0] if answered else "", answer.outcome.value, time.perf_counter() - started
    )
    return answer


def _answer(
    app_state: AppState, environ: dict[str, Any], release_id: str | None, answered: list[str]
) -> PollAnswer:
    try:
        try:
            channel, license = caller(app_state, environ)
        except Unauthorized:
            # Counted against the caller's address: past the limit, 429 instead.
            license_failure(app_state, environ)
            raise
        answered.append(channel)
        license_id = license.id if license is not None else None
        feed = spec_feed(app_state)
        if release_id is None:
            spec = feed.head(channel, license_id)
        else:
            spec = feed.pinned(channel, release_id, license_id)
        note_poll(app_state, environ, channel, license, spec)
        return spec_answer(spec, environ.get("HTTP_IF_NONE_MATCH"))
    except DeployServerError as exc:
        outcome = _OUTCOME_BY_STATUS.get(exc.status, Outcome.FAILED)
        return _problem(environ, outcome, exc.status, exc.code, exc.title, exc.detail, exc.headers)
    except DBAPIError as exc:
        outage = database_outage(exc)
        if outage is None:
            return _failed(environ)
        return _problem(
            environ, Outcome.UNAVAILABLE, outage.status, outage.code, outage.title, outage.detail
        )
    except Exception:
        return _failed(environ)


def caller(app_state: AppState, environ: dict[str, Any]) -> tuple[str, LicenseView | None]:
    """The channel this poll is entitled to, and its verified license (None: anonymous)."""
    config = app_state.config
    header = environ.get("HTTP_AUTHORIZATION")
    if header is None:
        if not config.allow_anonymous:
            raise _refuse("LICENSE_REQUIRED", "a license is required (HTTP Basic, user license)")
        return config.default_channel, None
    token = license_from_authorization(header)
    verdict = license_verifier(app_state).verify(token)
    metrics.verdict(verdict.code)
    if not verdict.valid:
        raise _refuse(REFUSALS.get(verdict.code, "LICENSE_INVALID"), verdict.detail)
    license = verdict.license
    assert license is not None
    return license.channel or config.default_channel, license


def note_poll(
    app_state: AppState,
    environ: dict[str, Any],
    channel: str,
    license: LicenseView | None,
    spec: ServedSpec,
) -> None:
    """Record the poll for installation insights (a dict update; written later)."""
    recorder = app_state.extras.get(RECORDER_KEY) or installation_recorder(app_state)
    if license is None:
        recorder.anonymous(channel)
        return
    trusted = app_state.config.trusted_proxies
    recorder.record(
        license.id,
        license.subject,
        channel,
        spec.release_id,
        client_address(environ, trusted) if trusted else environ.get("REMOTE_ADDR"),
        environ.get("HTTP_USER_AGENT"),
    )


def spec_answer(spec: ServedSpec, condition: str | None) -> PollAnswer:
    """The stored bytes with a strong ETag; 304 when the caller already has them."""
    if condition is not None and _etag_matches(condition, spec.etag):
        return PollAnswer(Outcome.NOT_MODIFIED, 304, [("ETag", spec.etag), CACHE_CONTROL], b"")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(spec.body))),
        ("ETag", spec.etag),
        CACHE_CONTROL,
    ]
    return PollAnswer(Outcome.SERVED, 200, headers, spec.body)


def _etag_matches(condition: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    if condition.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in condition.split(","))


def _refuse(code: str, detail: str) -> Unauthorized:
    return Unauthorized(detail, code, headers={"WWW-Authenticate": BASIC_CHALLENGE})


def _problem(
    environ: dict[str, Any],
    outcome: Outcome,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra_headers: dict[str, str] | None = None,
) -> PollAnswer:
    body = problem_document(status, code, title, detail, request_id=environ.get(REQUEST_ID_KEY))
    headers = [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body)))]
    headers.extend((extra_headers or {}).items())
    return PollAnswer(outcome, status, headers, body)


def _failed(environ: dict[str, Any]) -> PollAnswer:
    log.exception("unhandled error")
    return _problem(
        environ,
        Outcome.FAILED,
        500,
        "INTERNAL_ERROR",
        "Internal server error",
        "An unexpected error occurred.",
    )


def poll_route(path: str) -> tuple[bool, str | None]:
    """Whether ``path`` is a poll route, and the release id it pins (None: the channel)."""
    if path == CHANNEL_PATH:
        return True, None
    if path.startswith(PIN_PREFIX):
        release_id = path[len(PIN_PREFIX) :]
        if release_id and "/" not in release_id:
            return True, release_id
    return False, None


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PollRoutes:
    """WSGI middleware answering ``GET`` on the operator routes ahead of Flask."""

    def __init__(self, wsgi_app: WSGIApp, app_state: AppState) -> None:
        self.wsgi_app = wsgi_app
        self.app_state = app_state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "GET":
            is_poll, release_id = poll_route(environ.get("PATH_INFO", ""))
            if is_poll:
                answer = answer_poll(self.app_state, environ, release_id)
                start_response(answer.status_line, answer.headers)
                return (answer.body,)
        return self.wsgi_app(environ, start_response)
