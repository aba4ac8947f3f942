"""Releases: immutable chart + values + metadata, addressed by id or by exact version."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validates_schema

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import StorableText
from deployserver.api.reveal import RevealArgsSchema, reveal_allowed, shown, shown_change
from deployserver.api.schemas import Timestamp, problems
from deployserver.auth import require
from deployserver.db import get_session
from deployserver.errors import Invalid, NotFound
from deployserver.models import Role
from deployserver.services import releases
from deployserver.services.heads import not_in_history

blp = Blueprint(
    "releases", __name__, url_prefix="/api/v1/releases", description="Immutable releases"
)


class ReleaseSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    chart = fields.Dict(required=True)
    values = fields.Dict(required=True)
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    digest = fields.String(
        required=True,
        metadata={"description": "sha256 of the canonical JSON of {chart, metadata, values}"},
    )
    notes = fields.String(required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    created_by = fields.String(data_key="createdBy", required=True)
    channels = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Channels the release has been head of"},
    )


class ReleaseRefSchema(Schema):
    """A release named by its id or by its exact version (one of the two)."""

    release_id = StorableText(data_key="releaseId")
    version = StorableText(metadata={"description": "Instead of releaseId"})

    @validates_schema
    def one_name(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "release_id" in data and "version" in data:
            raise ValidationError("give releaseId or version, not both", "version")


def required_release_id(data: dict[str, Any]) -> str:
    """The release id a ReleaseRefSchema body must name (promote)."""
    release_id = release_id_of(data)
    if release_id is None:
        raise Invalid.field("releaseId", "give releaseId or version")
    return release_id


def release_id_of(data: dict[str, Any], *, in_history_of: str | None = None) -> str | None:
    """The release id a ReleaseRefSchema body names (None when it names none).

    A version is looked up on its own: releases are immutable and never deleted, so the id
    it names cannot change before the service call uses it. ``in_history_of``: an unknown
    version is refused as a release never head of that channel is (rollback).
    """
    if "release_id" in data:
        return str(data["release_id"])
    if "version" not in data:
        return None
    try:
        return releases.get_release_by_version(get_session(), data["version"]).id
    except NotFound:
        if in_history_of is None:
            raise
        raise not_in_history("version", data["version"], in_history_of) from None


class VersionArgsSchema(Schema):
    version = StorableText(
        required=True,
        min_length=1,
        metadata={"description": "The exact version (versions are unique)"},
    )


@blp.route("")
class ReleaseByVersion(MethodView):
    @blp.response(200, ReleaseSchema)
    @problems(blp, 401, 403, 404, 422)
    @require("viewer")
    @blp.arguments(VersionArgsSchema, location="query")
    def get(self, args: dict[str, Any]) -> releases.ReleaseView:
        """Find the one release with this exact version."""
        return releases.get_release_by_version(get_session(), args["version"])


@blp.route("/<release_id:release_id>")
class ReleaseById(MethodView):
    @blp.response(200, ReleaseSchema)
    @problems(blp, 401, 403, 404)
    @require(Role.VIEWER)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def get(self, release_id: str, reveal: bool) -> releases.ReleaseView:
        """Show a release."""
        return shown(releases.get_release(get_session(), release_id), reveal_allowed(reveal))


class ChangeSchema(Schema):
    path = fields.String(
        required=True, metadata={"description": "chart. or values., dotted keys, [i] for items"}
    )
    op = fields.String(required=True, metadata={"enum": ["add", "remove", "change"]})
    from_ = fields.Raw(
        attribute="from",
        data_key="from",
        metadata={"description": "The old value (remove and change only)"},
    )
    to = fields.Raw(metadata={"description": "The new value (add and change only)"})


class DiffSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), required=True)


@blp.route("/<release_id:release_id>/diff/<release_id:other_id>")
class ReleaseDiff(MethodView):
    @blp.response(200, DiffSchema)
    @problems(blp, 401, 403, 404)
    @require(Role.VIEWER)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def get(self, release_id: str, other_id: str, reveal: bool) -> dict[str, Any]:
        """What changes in chart and values from one release to the other."""
        changes = releases.diff_releases(get_session(), release_id, other_id)
        reveal = reveal_allowed(reveal)
        return {"changes": [shown_change(change, reveal) for change in changes]}
