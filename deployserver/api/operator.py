"""The endpoint operators poll (API.md section 1): the product's hot path.

Per request: parse Basic auth, verify the license (cached), find the stored bytes of the
channel's head or rollout candidate (cached), note the poll for installation insights (in
memory; written later by a background thread), return the bytes. No schema, no JSON
encoding, no ORM object and no database write here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.openapi import LICENSE_SECURITY
from deployserver.api.schemas import problems
from deployserver.errors import BASIC_CHALLENGE, Unauthorized
from deployserver.extensions import AppState, state
from deployserver.feed.answers import ServedSpec, spec_feed
from deployserver.feed.recorder import EXTRAS_KEY as RECORDER_KEY
from deployserver.feed.recorder import installation_recorder
from deployserver.licensing.credentials import license_from_authorization
from deployserver.licensing.judge import LicenseView
from deployserver.licensing.verifier import license_verifier

blp = Blueprint(
    "operator",
    __name__,
    url_prefix="/api/v1/operator",
    description="Specs for the W&B operator (HTTP Basic `license:<jwt>`, or anonymous)",
)

# Verdict codes that have their own poll error; every other refusal is LICENSE_INVALID.
REFUSALS = {
    "EXPIRED": "LICENSE_EXPIRED",
    "NOT_YET_VALID": "LICENSE_NOT_YET_VALID",
    "REVOKED": "LICENSE_REVOKED",
    "SUSPENDED": "LICENSE_SUSPENDED",
}
CACHE_CONTROL = ("Cache-Control", "private, no-cache")
F = TypeVar("F", bound=Callable[..., Any])
LICENSE_REFUSED = "License missing, invalid, expired, not yet valid, revoked or suspended"
NOT_SERVED = "Channel not found or empty, or the release is not visible to this license"


class OperatorSpecSchema(Schema):
    chart = fields.Dict(required=True, metadata={"description": "Helm chart reference"})
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    values = fields.Dict(required=True, metadata={"description": "Helm values"})


def _refuse(code: str, detail: str) -> Unauthorized:
    return Unauthorized(detail, code, headers={"WWW-Authenticate": BASIC_CHALLENGE})


def caller(app_state: AppState) -> tuple[str, LicenseView | None]:
    """The channel this poll is entitled to, and its verified license (None: anonymous)."""
    config = app_state.config
    header = request.headers.get("Authorization")
    if header is None:
        if not config.allow_anonymous:
            raise _refuse("LICENSE_REQUIRED", "a license is required (HTTP Basic, user license)")
        return config.default_channel, None
    token = license_from_authorization(header)
    verdict = license_verifier(app_state).verify(token)
    if not verdict.valid:
        raise _refuse(REFUSALS.get(verdict.code, "LICENSE_INVALID"), verdict.detail)
    license = verdict.license
    assert license is not None
    return license.channel or config.default_channel, license


def note_poll(
    app_state: AppState, channel: str, license: LicenseView | None, spec: ServedSpec
) -> None:
    """Record the poll for installation insights (a dict update; written later)."""
    recorder = app_state.extras.get(RECORDER_KEY) or installation_recorder(app_state)
    if license is None:
        recorder.anonymous(channel)
        return
    # Straight from the WSGI environ: the header wrappers cost more than the rest of this.
    environ = request.environ
    trusted = app_state.config.trusted_proxies
    recorder.record(
        license.id,
        license.subject,
        channel,
        spec.release_id,
        client_address(environ, trusted) if trusted else environ.get("REMOTE_ADDR"),
        environ.get("HTTP_USER_AGENT"),
    )


def client_address(environ: dict[str, Any], trusted_proxies: int) -> str | None:
    """With ``trusted_proxies`` proxies in front, the ``X-Forwarded-For`` entry the outermost
    trusted proxy added (entries before it are whatever the client sent); else the peer."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded:
        hops = forwarded.split(",")
        if len(hops) >= trusted_proxies:
            return str(hops[-trusted_proxies].strip())
    return environ.get("REMOTE_ADDR")


def spec_response(spec: ServedSpec) -> Response:
    """The stored bytes with a strong ETag; 304 when the caller already has them."""
    condition = request.headers.get("If-None-Match")
    if condition is not None and _etag_matches(condition, spec.etag):
        return Response(status=304, headers=[("ETag", spec.etag), CACHE_CONTROL])
    # Headers as a ready list: no per-request mimetype parsing or header-by-header setting.
    return Response(
        spec.body,
        headers=[("Content-Type", "application/json"), ("ETag", spec.etag), CACHE_CONTROL],
    )


def _etag_matches(condition: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    if condition.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in condition.split(","))


def documentation_only(view: F) -> F:
    """Keep what flask-smorest's decorators documented but drop their runtime wrappers.

    Each doc decorator wraps the view in a call through ``ensure_sync``; on the hot path
    those layers cost more than the rest of the poll's own work.
    """
    original: Any = inspect.unwrap(view)
    original._apidoc = getattr(view, "_apidoc", {})
    return cast(F, original)


# Function views, not MethodViews: a MethodView's dispatch adds a layer to every poll.
@blp.route("/channel", methods=["GET"])
@documentation_only
@blp.alt_response(200, schema=OperatorSpecSchema, success=True, description="The spec")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
@problems(blp, 401, 404, 503, s401=LICENSE_REFUSED, s404=NOT_SERVED)
@blp.doc(security=LICENSE_SECURITY)
def latest_spec() -> Response:
    """The current spec of the channel the caller's license names."""
    app_state = state()
    channel, license = caller(app_state)
    spec = spec_feed(app_state).head(channel, license.id if license is not None else None)
    note_poll(app_state, channel, license, spec)
    return spec_response(spec)


@blp.route("/channel/release/<string:release_id>", methods=["GET"])
@documentation_only
@blp.alt_response(200, schema=OperatorSpecSchema, success=True, description="The spec")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
@problems(blp, 401, 404, 503, s401=LICENSE_REFUSED, s404=NOT_SERVED)
@blp.doc(security=LICENSE_SECURITY)
def pinned_spec(release_id: str) -> Response:
    """The spec of one release the caller's channel serves or has served (pinning)."""
    app_state = state()
    channel, license = caller(app_state)
    spec = spec_feed(app_state).pinned(
        channel, release_id, license.id if license is not None else None
    )
    note_poll(app_state, channel, license, spec)
    return spec_response(spec)
