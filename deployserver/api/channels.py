"""Channels, their releases and heads: publish, promote, rollback, history, adoption."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import (
    TEXT_LENGTH,
    BoundedInteger,
    ChannelName,
    JsonObject,
    QueryInteger,
    StorableText,
)
from deployserver.api.releases import (
    ReleaseRefSchema,
    ReleaseSchema,
    release_id_of,
    required_release_id,
)
from deployserver.api.reveal import RevealArgsSchema, reveal_allowed, shown
from deployserver.api.schemas import Timestamp, page_schema, problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.models import HistoryAction, Role, words
from deployserver.pagination import Page, PageArgsSchema
from deployserver.services import channels, installations, releases

blp = Blueprint(
    "channels",
    __name__,
    url_prefix="/api/v1/channels",
    description="Release channels, their releases and head changes",
)


STRICT_VALUES = (
    "Refuse (422 UNSAFE_VALUES_CHANGE) a publish or promote that would warn KIND_CHANGED or "
    "KEY_REMOVED against the head"
)


class HeadSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)


ROLLOUT_409 = (
    "A rollout is in progress (ROLLOUT_IN_PROGRESS: complete or abort it first), or there is "
    "no head to stage one against (ROLLOUT_NEEDS_HEAD)"
)


class RolloutSchema(Schema):
    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    percent = fields.Integer(
        required=True, metadata={"description": "Share of licenses served the candidate"}
    )


class RolloutArgsSchema(Schema):
    percent = BoundedInteger(
        1,
        99,
        required=True,
        metadata={"description": "Share of licenses (1-99) that get the candidate"},
    )


class ChannelSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    values = fields.Dict(required=True, metadata={"description": "Base values"})
    head = fields.Nested(HeadSchema, allow_none=True, required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True)
    strict_values = fields.Boolean(
        data_key="strictValues", required=True, metadata={"description": STRICT_VALUES}
    )
    rollout = fields.Nested(
        RolloutSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The staged rollout's candidate, or null"},
    )


class ChannelCreateSchema(Schema):
    name = ChannelName(required=True)
    description = StorableText(max_length=TEXT_LENGTH, load_default="")
    values = JsonObject(load_default=None, metadata={"description": "Base values"})
    strict_values = fields.Boolean(
        data_key="strictValues", load_default=False, metadata={"description": STRICT_VALUES}
    )


class ChannelUpdateSchema(Schema):
    description = StorableText(max_length=TEXT_LENGTH)
    values = JsonObject(metadata={"description": "New base values (replace the old)"})
    strict_values = fields.Boolean(data_key="strictValues", metadata={"description": STRICT_VALUES})


class PublishSchema(Schema):
    version = StorableText(required=True, metadata={"description": "SemVer 2.0"})
    chart = JsonObject(required=True, metadata={"description": "local, OCI or repo chart"})
    values = JsonObject()
    values_yaml = StorableText(data_key="valuesYaml", max_length=None)
    metadata = JsonObject(keys=fields.String(), metadata={"description": "String values only"})
    notes = StorableText(max_length=TEXT_LENGTH)
    rollout = fields.Nested(
        RolloutArgsSchema,
        metadata={"description": "Stage the release as the channel's candidate instead of head"},
    )
    urgent = fields.Boolean(
        load_default=False,
        metadata={"description": "Reach licenses outside their maintenance windows too"},
    )


class PromoteSchema(ReleaseRefSchema):
    rollout = fields.Nested(
        RolloutArgsSchema,
        metadata={"description": "Stage the release as the channel's candidate instead of head"},
    )
    urgent = fields.Boolean(
        load_default=False,
        metadata={"description": "Reach licenses outside their maintenance windows too"},
    )


class RollbackSchema(ReleaseRefSchema):
    pass


class ValuesWarningSchema(Schema):
    code = fields.String(required=True, metadata={"enum": ["KIND_CHANGED", "KEY_REMOVED"]})
    path = fields.String(required=True, metadata={"description": "Relative to values"})
    from_ = fields.String(
        data_key="from", required=True, metadata={"description": "The kind in the old head"}
    )
    to = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The kind in the new head; null when the key is removed"},
    )


class ChannelUpdatedSchema(ChannelSchema):
    warnings = fields.List(
        fields.Nested(ValuesWarningSchema),
        required=True,
        metadata={"description": "What new base values change in the head's served values"},
    )


class PublishedSchema(ReleaseSchema):
    warnings = fields.List(
        fields.Nested(ValuesWarningSchema),
        required=True,
        metadata={"description": "Values changes against the replaced head that break overrides"},
    )


class HistoryEntrySchema(Schema):
    action = fields.String(required=True, metadata={"enum": list(words(HistoryAction))})
    release_id = fields.String(data_key="releaseId", required=True)
    previous_release_id = fields.String(
        data_key="previousReleaseId", allow_none=True, required=True
    )
    version = fields.String(required=True)
    previous_version = fields.String(data_key="previousVersion", allow_none=True, required=True)
    actor = fields.String(required=True)
    at = Timestamp(required=True)
    percent = fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "Rollout percentage for rollout steps (100 on completion); else null"
        },
    )


class ReleaseAdoptionSchema(Schema):
    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    active = fields.Integer(
        required=True, metadata={"description": "Last served this release, polled in the window"}
    )
    stale = fields.Integer(
        required=True, metadata={"description": "Last served this release, silent since"}
    )
    head = fields.Boolean(required=True)
    candidate = fields.Boolean(required=True)


class AdoptionSchema(Schema):
    channel = fields.String(required=True)
    window_hours = fields.Integer(data_key="windowHours", required=True)
    active_since = Timestamp(data_key="activeSince", required=True)
    reconcile_frequency = fields.String(
        data_key="reconcileFrequency",
        required=True,
        metadata={"description": "How often the channel's operators poll (Go duration)"},
    )
    reconcile_frequency_source = fields.String(
        data_key="reconcileFrequencySource",
        required=True,
        metadata={"enum": ["channel", "operator-default"]},
    )
    head = fields.Nested(HeadSchema, allow_none=True, required=True)
    rollout = fields.Nested(RolloutSchema, allow_none=True, required=True)
    releases = fields.List(fields.Nested(ReleaseAdoptionSchema), required=True)
    active = fields.Integer(required=True)
    stale = fields.Integer(required=True)
    anonymous_polls = fields.Integer(
        data_key="anonymousPolls",
        required=True,
        metadata={"description": "Polls without a license in the window (whole hours)"},
    )


class AdoptionArgsSchema(Schema):
    window_hours = QueryInteger(
        1,
        installations.MAX_WINDOW_HOURS,
        data_key="windowHours",
        load_default=installations.DEFAULT_WINDOW_HOURS,
        metadata={"description": "Active window in hours (default 24)"},
    )


ChannelPageSchema = page_schema(ChannelSchema, "ChannelPageSchema")
ReleasePageSchema = page_schema(ReleaseSchema, "ReleasePageSchema")
HistoryPageSchema = page_schema(HistoryEntrySchema, "HistoryPageSchema")


@blp.route("")
class Channels(MethodView):
    @blp.response(200, ChannelPageSchema)
    @problems(blp, 401, 403, 422)
    @require(Role.VIEWER)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def get(self, args: dict[str, Any], reveal: bool) -> Page[channels.ChannelView]:
        """List channels by name."""
        page = channels.list_channels(get_session(), args["limit"], args["cursor"])
        reveal = reveal_allowed(reveal)
        return Page([shown(view, reveal) for view in page.items], page.next_cursor)

    @blp.response(201, ChannelSchema)
    @problems(blp, 400, 401, 403, 409, 413, 422, s409="The channel exists (CHANNEL_EXISTS)")
    @require(Role.ADMIN)
    @blp.arguments(ChannelCreateSchema)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], reveal: bool) -> channels.ChannelView:
        """Create a channel, optionally with base values."""
        created = channels.create_channel(get_session(), current_actor(), **data)
        return shown(created, reveal_allowed(reveal))


@blp.route("/<channel:name>")
class ChannelByName(MethodView):
    @blp.response(200, ChannelSchema)
    @problems(blp, 401, 403, 404)
    @require(Role.VIEWER)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def get(self, name: str, reveal: bool) -> channels.ChannelView:
        """Show a channel and its head."""
        return shown(channels.get_channel(get_session(), name), reveal_allowed(reveal))

    @blp.response(200, ChannelUpdatedSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        413,
        422,
        s422="Validation failed, the base values clash with a release the channel has "
        "carried (MERGE_CONFLICT), or a strict channel refuses them (UNSAFE_VALUES_CHANGE)",
    )
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(ChannelUpdateSchema)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def patch(self, data: dict[str, Any], name: str, reveal: bool) -> dict[str, Any]:
        """Change the description, strictValues or replace the base values."""
        update = channels.update_channel(get_session(), current_actor(), name, **data)
        channel = shown(update.channel, reveal_allowed(reveal))
        return {**asdict(channel), "warnings": update.warnings}

    @blp.response(204)
    @problems(blp, 401, 403, 404, 409, s409="The channel has history (CHANNEL_NOT_EMPTY)")
    @require(Role.ADMIN)
    def delete(self, name: str) -> None:
        """Delete a channel that has never had a release."""
        channels.delete_channel(get_session(), current_actor(), name)


@blp.route("/<channel:name>/releases")
class ChannelReleases(MethodView):
    @blp.response(200, ReleasePageSchema)
    @problems(blp, 401, 403, 404, 422)
    @require(Role.VIEWER)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def get(self, args: dict[str, Any], name: str, reveal: bool) -> Page[releases.ReleaseView]:
        """Releases that have been head of the channel, newest arrival first."""
        page = releases.list_channel_releases(get_session(), name, args["limit"], args["cursor"])
        reveal = reveal_allowed(reveal)
        return Page([shown(view, reveal) for view in page.items], page.next_cursor)

    @blp.response(201, PublishedSchema, description="Published; it is the channel's head")
    @blp.alt_response(200, schema=PublishedSchema, description="Already published: unchanged")
    @problems(
        blp,
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        s409="The version exists with another digest (VERSION_EXISTS); " + ROLLOUT_409,
        s422="Validation failed, the values clash with the base values (MERGE_CONFLICT), or "
        "a strictValues channel refuses an unsafe values change (UNSAFE_VALUES_CHANGE)",
    )
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(PublishSchema)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], name: str, reveal: bool) -> tuple[dict[str, Any], int]:
        """Publish an immutable release and make it the channel's head (or candidate)."""
        rollout = data.pop("rollout", None)
        published = releases.publish_release(
            get_session(),
            current_actor(),
            name,
            **data,
            rollout_percent=rollout["percent"] if rollout else None,
        )
        return published_body(published, reveal), 201 if published.changed else 200


def published_body(published: releases.Published, reveal: bool) -> dict[str, Any]:
    """The release as ReleaseSchema reads it, plus the warnings of its arrival."""
    release = shown(published.release, reveal_allowed(reveal))
    return {**asdict(release), "warnings": published.warnings}


@blp.route("/<channel:name>/promote")
class Promote(MethodView):
    @blp.response(200, PublishedSchema)
    @problems(
        blp,
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        s409=ROLLOUT_409,
        s422="Validation failed, the values clash with the base values (MERGE_CONFLICT), or "
        "a strictValues channel refuses an unsafe values change (UNSAFE_VALUES_CHANGE)",
    )
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(PromoteSchema)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], name: str, reveal: bool) -> dict[str, Any]:
        """Make an existing release the channel's head (or candidate) too."""
        rollout = data.get("rollout")
        return published_body(
            releases.promote_release(
                get_session(),
                current_actor(),
                name,
                required_release_id(data),
                rollout_percent=rollout["percent"] if rollout else None,
                urgent=data["urgent"],
            ),
            reveal,
        )


@blp.route("/<channel:name>/rollback")
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
        s409="No earlier head (NOTHING_TO_ROLL_BACK); a rollout is in progress "
        "(ROLLOUT_IN_PROGRESS)",
        s422="The release was never head of the channel (NOT_IN_CHANNEL_HISTORY)",
    )
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(RollbackSchema, required=False)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], name: str, reveal: bool) -> channels.ChannelView:
        """Move the head back to the previous head, or to a named earlier head."""
        channel = releases.rollback_channel(
            get_session(), current_actor(), name, release_id_of(data, in_history_of=name)
        )
        return shown(channel, reveal_allowed(reveal))


@blp.route("/<channel:name>/history")
class History(MethodView):
    @blp.response(200, HistoryPageSchema)
    @problems(blp, 401, 403, 404, 422)
    @require(Role.VIEWER)
    @blp.arguments(PageArgsSchema, location="query")
    def get(self, args: dict[str, Any], name: str) -> Page[releases.HistoryEntry]:
        """Every head change and rollout step of the channel, newest first."""
        return releases.channel_history(get_session(), name, args["limit"], args["cursor"])


@blp.route("/<channel:name>/adoption")
class ChannelAdoption(MethodView):
    @blp.response(200, AdoptionSchema)
    @problems(blp, 401, 403, 404, 422)
    @require(Role.VIEWER)
    @blp.arguments(AdoptionArgsSchema, location="query")
    def get(self, args: dict[str, Any], name: str) -> installations.Adoption:
        """Which releases the channel's installations run, active and stale."""
        return installations.channel_adoption(get_session(), name, args["window_hours"])
