"""``POST /api/v1/sync``: the channel-files sync (docs/channel-files.md) run by the server.

The caller uploads its channels folder as ``{relative path: text}``; the server validates
it as ``channels sync`` reads a folder and runs the same sync service in one transaction.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import problems
from deployserver.auth import current_actor, current_principal, require
from deployserver.channelfiles import check_relative_path, load_uploaded
from deployserver.db import get_session
from deployserver.errors import Forbidden
from deployserver.extensions import state
from deployserver.services.sync import sync_channels

blp = Blueprint(
    "sync", __name__, url_prefix="/api/v1/sync", description="Channels as code, run remotely"
)


class RelativePath(fields.String):
    """A path inside the uploaded channels folder: relative, ``/``-separated, no ``..``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        path = super()._deserialize(value, attr, data, **kwargs)
        problem = check_relative_path(path)
        if problem is not None:
            raise ValidationError(f"{path[:100]!r} {problem}")
        return path


class SyncSchema(Schema):
    files = fields.Dict(
        keys=RelativePath(),
        values=fields.String(),
        required=True,
        metadata={"description": "Path relative to the channels folder -> file text"},
    )
    seed = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Seed only: create what is missing, a head only for channels "
            "without one; never move a head or rewrite a channel (what a server start does)"
        },
    )
    dry_run = fields.Boolean(
        data_key="dryRun", load_default=False, metadata={"description": "Plan, write nothing"}
    )


class SyncPlanSchema(Schema):
    plan = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The lines channels sync prints, in the order applied"},
    )
    applied = fields.Boolean(
        required=True, metadata={"description": "False for a dry run: nothing was written"}
    )


def sync_body_limit(view: Any) -> Any:
    """This endpoint's own body limit (a folder of files), set before the body is read."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = state().config.sync_max_bytes
        return view(*args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    wrapper.__dict__.update(view.__dict__)
    return wrapper


@blp.route("")
class Sync(MethodView):
    @blp.response(200, SyncPlanSchema)
    @problems(
        blp,
        400,
        401,
        403,
        413,
        422,
        s403="A file names a channel the token may not publish to, or one it would create "
        "without the admin role",
        s413="Body over DEPLOYSERVER_SYNC_MAX_BYTES",
        s422="A refusal of the sync, naming file, line and entry; nothing was written",
    )
    @require("publisher")
    @sync_body_limit
    @blp.arguments(SyncSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Make the server match the uploaded channel files (or plan it: dryRun)."""
        principal = current_principal()
        files = load_uploaded(data["files"])
        for channel_file in files:
            if not principal.may_write(channel_file.name):
                raise Forbidden(f"this token may not write to channel {channel_file.name!r}")
        result = sync_channels(
            get_session(),
            current_actor(),
            files,
            dry_run=data["dry_run"],
            seed=data["seed"],
            may_create=principal.may_create_channels,
        )
        return {"plan": [action.line for action in result.actions], "applied": not result.dry_run}
