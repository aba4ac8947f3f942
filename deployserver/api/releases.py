"""Releases: immutable chart + values + metadata, addressed by id."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.reveal import RevealArgsSchema, reveal_allowed, shown, shown_change
from deployserver.api.schemas import Timestamp, problems
from deployserver.auth import require
from deployserver.db import get_session
from deployserver.models import Role
from deployserver.services import releases

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
        required=True, metadata={"description": "Starts with chart. or values. (API.md paths)"}
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
