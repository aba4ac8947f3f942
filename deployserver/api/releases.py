"""Releases: immutable chart + values + metadata, addressed by id."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from deployserver.api.schemas import Timestamp, problems
from deployserver.auth import require
from deployserver.db import get_session
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


@blp.route("/<release_id>")
class ReleaseById(MethodView):
    @blp.response(200, ReleaseSchema)
    @problems(blp, 401, 403, 404)
    @require("viewer")
    def get(self, release_id: str) -> releases.ReleaseView:
        """Show a release."""
        return releases.get_release(get_session(), release_id)
