"""The audit trail of every write."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import StorableText
from deployserver.api.schemas import Timestamp, page_schema, problems
from deployserver.auth import require
from deployserver.db import get_session
from deployserver.models import Role
from deployserver.pagination import Page, PageArgsSchema
from deployserver.services import audit

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit trail")


class AuditArgsSchema(PageArgsSchema):
    target = StorableText(metadata={"description": "Only events of this target"})


class AuditEventSchema(Schema):
    actor = fields.String(required=True)
    action = fields.String(required=True)
    target = fields.String(required=True, metadata={"description": "e.g. channel:stable"})
    before = fields.String(allow_none=True, required=True)
    after = fields.String(allow_none=True, required=True)
    at = Timestamp(required=True)
    request_id = fields.String(
        data_key="requestId",
        allow_none=True,
        required=True,
        metadata={"description": "The server's id of the request that wrote it"},
    )
    client_request_id = fields.String(
        data_key="clientRequestId",
        allow_none=True,
        required=True,
        metadata={"description": "The X-Request-ID its caller sent, if any"},
    )


AuditPageSchema = page_schema(AuditEventSchema, "AuditPageSchema")


@blp.route("")
class AuditEvents(MethodView):
    @blp.response(200, AuditPageSchema)
    @problems(blp, 401, 403, 422)
    @require(Role.VIEWER)
    @blp.arguments(AuditArgsSchema, location="query")
    def get(self, args: dict[str, Any]) -> Page[audit.AuditEntry]:
        """Every write anywhere, newest first."""
        return audit.list_events(get_session(), args["limit"], args["cursor"], args.get("target"))
