"""Render: preview the spec the operator would apply on a channel."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import problems
from deployserver.auth import require, require_role_for
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
    chart = fields.Dict(metadata={"description": "spec.chart of the custom resource"})
    values = fields.Dict(metadata={"description": "spec.values of the custom resource"})


class RenderSchema(Schema):
    release_id = fields.String(
        data_key="releaseId",
        metadata={"description": "A release that is or was head of the channel (default: head)"},
    )
    user_input = fields.Dict(
        data_key="userInput",
        metadata={"description": "User input values; a _releaseId in them pins the release"},
    )
    cr = fields.Nested(RenderCRSchema)


class RenderArgsSchema(Schema):
    reveal = fields.Boolean(
        load_default=False, metadata={"description": "Show secrets-looking values (admin only)"}
    )


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


@blp.route("/<name>/render")
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
    @blp.arguments(RenderArgsSchema, location="query")
    @blp.arguments(RenderSchema, required=False)
    def post(self, args: dict[str, Any], data: dict[str, Any], name: str) -> dict[str, Any]:
        """Preview the spec the operator would apply: CR > user input > release > defaults."""
        if args["reveal"]:
            require_role_for(Role.ADMIN, "reveal=true")
        rendered = render.render_spec(
            get_session(),
            name,
            render.RenderRequest(**data),
            state().config.operator_namespace,
            reveal=args["reveal"],
        )
        return {"spec": rendered.spec, "warnings": rendered.warnings}
