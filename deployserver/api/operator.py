"""The operator routes as documented views (docs/api.md, operator polling).

``GET`` never reaches these views: :class:`deployserver.api.poll.PollRoutes` answers it in
front of Flask's dispatch. They stay for the OpenAPI document and for the requests Flask
still routes here (``HEAD``), and answer with the same :func:`~deployserver.api.poll.answer_poll`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.openapi import LICENSE_SECURITY
from deployserver.api.poll import answer_poll
from deployserver.api.schemas import problems
from deployserver.extensions import state

blp = Blueprint(
    "operator",
    __name__,
    url_prefix="/api/v1/operator",
    description="Specs for the W&B operator (HTTP Basic `license:<jwt>`, or anonymous)",
)

F = TypeVar("F", bound=Callable[..., Any])
LICENSE_REFUSED = "License missing, invalid, expired, not yet valid, revoked or suspended"
NOT_SERVED = "Channel not found or empty, or the release is not visible to this license"


class OperatorSpecSchema(Schema):
    chart = fields.Dict(required=True, metadata={"description": "Helm chart reference"})
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    values = fields.Dict(required=True, metadata={"description": "Helm values"})


def documentation_only(view: F) -> F:
    """Keep what flask-smorest's decorators documented but drop their runtime wrappers."""
    original: Any = inspect.unwrap(view)
    original._apidoc = getattr(view, "_apidoc", {})
    return cast(F, original)


def _respond(release_id: str | None) -> Response:
    answer = answer_poll(state(), request.environ, release_id)
    return Response(answer.body, status=answer.status, headers=answer.headers)


@blp.route("/channel", methods=["GET"])
@documentation_only
@blp.alt_response(200, schema=OperatorSpecSchema, success=True, description="The spec")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
@problems(blp, 401, 404, 503, s401=LICENSE_REFUSED, s404=NOT_SERVED)
@blp.doc(security=LICENSE_SECURITY)
def latest_spec() -> Response:
    """The current spec of the channel the caller's license names."""
    return _respond(None)


@blp.route("/channel/release/<string:release_id>", methods=["GET"])
@documentation_only
@blp.alt_response(200, schema=OperatorSpecSchema, success=True, description="The spec")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
@problems(blp, 401, 404, 503, s401=LICENSE_REFUSED, s404=NOT_SERVED)
@blp.doc(security=LICENSE_SECURITY)
def pinned_spec(release_id: str) -> Response:
    """The spec of one release the caller's channel serves or has served (pinning)."""
    return _respond(release_id)
