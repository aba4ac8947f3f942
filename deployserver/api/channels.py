"""Channels, their releases and heads: publish, promote, rollback, history."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from deployserver.api.releases import ReleaseSchema
from deployserver.api.schemas import Timestamp, page_schema, problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.pagination import Page, PageArgsSchema
from deployserver.services import channels, releases

blp = Blueprint(
    "channels",
    __name__,
    url_prefix="/api/v1/channels",
    description="Release channels, their releases and head changes",
)


class HeadSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)


class ChannelSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    values = fields.Dict(required=True, metadata={"description": "Base values"})
    head = fields.Nested(HeadSchema, allow_none=True, required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True)


class ChannelCreateSchema(Schema):
    name = fields.String(required=True, metadata={"pattern": channels.CHANNEL_NAME_RE.pattern})
    description = fields.String(load_default="")
    values = fields.Dict(load_default=None, metadata={"description": "Base values"})


class ChannelUpdateSchema(Schema):
    description = fields.String()
    values = fields.Dict(metadata={"description": "New base values (replace the old)"})


class PublishSchema(Schema):
    version = fields.String(required=True, metadata={"description": "SemVer 2.0"})
    chart = fields.Dict(required=True, metadata={"description": "local, OCI or repo chart"})
    values = fields.Dict()
    values_yaml = fields.String(data_key="valuesYaml")
    metadata = fields.Dict(keys=fields.String(), metadata={"description": "String values only"})
    notes = fields.String()


class PromoteSchema(Schema):
    release_id = fields.String(data_key="releaseId", required=True)


class RollbackSchema(Schema):
    release_id = fields.String(data_key="releaseId")


class HistoryEntrySchema(Schema):
    action = fields.String(required=True, metadata={"enum": ["publish", "promote", "rollback"]})
    release_id = fields.String(data_key="releaseId", required=True)
    previous_release_id = fields.String(
        data_key="previousReleaseId", allow_none=True, required=True
    )
    actor = fields.String(required=True)
    at = Timestamp(required=True)


ChannelPageSchema = page_schema(ChannelSchema, "ChannelPageSchema")
ReleasePageSchema = page_schema(ReleaseSchema, "ReleasePageSchema")
HistoryPageSchema = page_schema(HistoryEntrySchema, "HistoryPageSchema")


@blp.route("")
class Channels(MethodView):
    @blp.response(200, ChannelPageSchema)
    @problems(blp, 401, 403, 422)
    @require("viewer")
    @blp.arguments(PageArgsSchema, location="query")
    def get(self, args: dict[str, Any]) -> Page[channels.ChannelView]:
        """List channels by name."""
        return channels.list_channels(get_session(), args["limit"], args["cursor"])

    @blp.response(201, ChannelSchema)
    @problems(blp, 400, 401, 403, 409, 413, 422, s409="The channel exists (CHANNEL_EXISTS)")
    @require("admin")
    @blp.arguments(ChannelCreateSchema)
    def post(self, data: dict[str, Any]) -> channels.ChannelView:
        """Create a channel, optionally with base values."""
        return channels.create_channel(get_session(), current_actor(), **data)


@blp.route("/<name>")
class ChannelByName(MethodView):
    @blp.response(200, ChannelSchema)
    @problems(blp, 401, 403, 404)
    @require("viewer")
    def get(self, name: str) -> channels.ChannelView:
        """Show a channel and its head."""
        return channels.get_channel(get_session(), name)

    @blp.response(200, ChannelSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        413,
        422,
        s422="Validation failed, or the base values clash with a release the channel has "
        "carried (MERGE_CONFLICT)",
    )
    @require("publisher", channel_arg="name")
    @blp.arguments(ChannelUpdateSchema)
    def patch(self, data: dict[str, Any], name: str) -> channels.ChannelView:
        """Change the description or replace the base values."""
        return channels.update_channel(get_session(), current_actor(), name, **data)

    @blp.response(204)
    @problems(blp, 401, 403, 404, 409, s409="The channel has history (CHANNEL_NOT_EMPTY)")
    @require("admin")
    def delete(self, name: str) -> None:
        """Delete a channel that has never had a release."""
        channels.delete_channel(get_session(), current_actor(), name)


@blp.route("/<name>/releases")
class ChannelReleases(MethodView):
    @blp.response(200, ReleasePageSchema)
    @problems(blp, 401, 403, 404, 422)
    @require("viewer")
    @blp.arguments(PageArgsSchema, location="query")
    def get(self, args: dict[str, Any], name: str) -> Page[releases.ReleaseView]:
        """Releases that have been head of the channel, newest arrival first."""
        return releases.list_channel_releases(get_session(), name, args["limit"], args["cursor"])

    @blp.response(201, ReleaseSchema, description="Published; it is the channel's head")
    @blp.alt_response(200, schema=ReleaseSchema, description="Already published: unchanged")
    @problems(
        blp,
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        s409="The version exists with another digest (VERSION_EXISTS)",
        s422="Validation failed, or the values clash with the base values (MERGE_CONFLICT)",
    )
    @require("publisher", channel_arg="name")
    @blp.arguments(PublishSchema)
    def post(self, data: dict[str, Any], name: str) -> tuple[releases.ReleaseView, int]:
        """Publish an immutable release and make it the channel's head."""
        published = releases.publish_release(get_session(), current_actor(), name, **data)
        return published.release, 201 if published.changed else 200


@blp.route("/<name>/promote")
class Promote(MethodView):
    @blp.response(200, ReleaseSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        413,
        422,
        s422="Validation failed, or the values clash with the base values (MERGE_CONFLICT)",
    )
    @require("publisher", channel_arg="name")
    @blp.arguments(PromoteSchema)
    def post(self, data: dict[str, Any], name: str) -> releases.ReleaseView:
        """Make an existing release the channel's head too."""
        return releases.promote_release(
            get_session(), current_actor(), name, data["release_id"]
        ).release


@blp.route("/<name>/rollback")
class Rollback(MethodView):
    @blp.response(200, ChannelSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        s409="No earlier head (NOTHING_TO_ROLL_BACK)",
        s422="The release was never head of the channel (NOT_IN_CHANNEL_HISTORY)",
    )
    @require("publisher", channel_arg="name")
    @blp.arguments(RollbackSchema, required=False)
    def post(self, data: dict[str, Any], name: str) -> channels.ChannelView:
        """Move the head back to the previous head, or to a named earlier head."""
        return releases.rollback_channel(
            get_session(), current_actor(), name, data.get("release_id")
        )


@blp.route("/<name>/history")
class History(MethodView):
    @blp.response(200, HistoryPageSchema)
    @problems(blp, 401, 403, 404, 422)
    @require("viewer")
    @blp.arguments(PageArgsSchema, location="query")
    def get(self, args: dict[str, Any], name: str) -> Page[releases.HistoryEntry]:
        """Every head change of the channel, newest first."""
        return releases.channel_history(get_session(), name, args["limit"], args["cursor"])
