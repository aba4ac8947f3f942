"""Render: preview the spec the operator would apply on a channel."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import JsonObject, StorableText
from deployserver.api.reveal import RevealArgsSchema, reveal_allowed
from deployserver.api.schemas import problems
from deployserver.auth import require
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.models import Role
from deployserver.services import render

blp = Blueprint(
    "render",
    __name__,
    url_prefix="/api/v1/channels",
    description="The spec an operator would apply on a channel, built from its layers",
)


class RenderCRSchema(Schema):
    chart = JsonObject(metadata={"description": "spec.chart of the custom resource"})
    values = JsonObject(metadata={"description": "spec.values of the custom resource"})


class RenderSchema(Schema):
    release_id = StorableText(
        data_key="releaseId",
        metadata={"description": "A release that is or was head of the channel (default: head)"},
    )
    user_input = JsonObject(
        data_key="userInput",
        metadata={"description": "User input values; a _releaseId in them pins the release"},
    )
    cr = fields.Nested(RenderCRSchema)


class RenderedSpecSchema(Schema):
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    chart = fields.Dict(required=True)
    values = fields.Dict(required=True)


class RenderWarningSchema(Schema):
    code = fields.String(required=True, metadata={"enum": ["CHART_IGNORED", "PIN_IGNORED"]})
    path = fields.String(required=True)
    detail = fields.String(required=True)


class RenderedSchema(Schema):
    spec = fields.Nested(RenderedSpecSchema, required=True)
    warnings = fields.List(
        fields.Nested(RenderWarningSchema),
        required=True,
        metadata={"description": "Where the operator reads the given layers differently"},
    )


@blp.route("/<channel:name>/render")
class Render(MethodView):
    @blp.response(200, RenderedSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        413,
        422,
        s403="The token lacks the viewer role, or reveal=true without the admin role (FORBIDDEN)",
        s404="No such channel (CHANNEL_NOT_FOUND), or it has no release yet (CHANNEL_EMPTY)",
        s422="Validation failed; where the operator's reconcile fails too, a kind clash between "
        "layers or a null meeting a value (MERGE_CONFLICT, the path in errors); a release never "
        "head of the channel (NOT_IN_CHANNEL_HISTORY)",
    )
    @require(Role.VIEWER)
    @blp.arguments(RenderSchema, required=False)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], name: str, reveal: bool) -> dict[str, Any]:
        """Preview the spec the operator would apply: CR > user input > release > defaults."""
        reveal = reveal_allowed(reveal)
        rendered = render.render_spec(
            get_session(),
            name,
            render.RenderRequest(**data),
            state().config.operator_namespace,
            reveal=reveal,
        )
        return {"spec": rendered.spec, "warnings": rendered.warnings}
