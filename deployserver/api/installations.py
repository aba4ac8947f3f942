"""Installations: what each licensed installation last polled (written off the poll path)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import ChannelName, ReleaseId, StorableText, UtcTime
from deployserver.api.schemas import PinRefSchema, Timestamp, page_schema, problems
from deployserver.auth import require
from deployserver.db import get_session
from deployserver.models import Role
from deployserver.pagination import Page, PageArgsSchema
from deployserver.services import installations

blp = Blueprint(
    "installations",
    __name__,
    url_prefix="/api/v1/installations",
    description="Licensed installations seen polling (recorded in batches, off the poll path)",
)


class InstallationSchema(Schema):
    license_id = fields.String(data_key="licenseId", required=True)
    subject = fields.String(required=True)
    channel = fields.String(required=True)
    first_seen = Timestamp(data_key="firstSeen", required=True)
    last_seen = Timestamp(data_key="lastSeen", required=True)
    poll_count = fields.Integer(data_key="pollCount", required=True)
    last_release_id = fields.String(data_key="lastReleaseId", allow_none=True, required=True)
    last_release_version = fields.String(
        data_key="lastReleaseVersion", allow_none=True, required=True
    )
    last_address = fields.String(data_key="lastAddress", allow_none=True, required=True)
    last_user_agent = fields.String(data_key="lastUserAgent", allow_none=True, required=True)
    pin = fields.Nested(
        PinRefSchema, allow_none=True, metadata={"description": "The pinned release, or null"}
    )


class InstallationArgsSchema(PageArgsSchema):
    channel = ChannelName(metadata={"description": "Only installations on this channel"})
    release = ReleaseId(metadata={"description": "Only those last served this release id"})
    subject = StorableText(metadata={"description": "Only this customer (license sub)"})
    seen_since = UtcTime(
        naive_is_utc=True,
        data_key="seenSince",
        metadata={"description": "Only those that polled at or after this time (RFC 3339)"},
    )


InstallationPageSchema = page_schema(InstallationSchema, "InstallationPageSchema")


@blp.route("")
class Installations(MethodView):
    @blp.response(200, InstallationPageSchema)
    @problems(blp, 401, 403, 422)
    @require(Role.VIEWER)
    @blp.arguments(InstallationArgsSchema, location="query")
    def get(self, args: dict[str, Any]) -> Page[installations.InstallationView]:
        """List installations, most recently seen first."""
        return installations.list_installations(
            get_session(),
            args["limit"],
            args["cursor"],
            channel=args.get("channel"),
            release=args.get("release"),
            subject=args.get("subject"),
            seen_since=args.get("seen_since"),
        )
