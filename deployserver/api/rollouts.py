"""Staged rollouts of a channel's candidate: advance, complete, abort."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from deployserver.api.blueprint import Blueprint
from deployserver.api.channels import ChannelSchema, RolloutArgsSchema
from deployserver.api.reveal import RevealArgsSchema, reveal_allowed, shown
from deployserver.api.schemas import problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.models import Role
from deployserver.services import channels, rollouts

blp = Blueprint(
    "rollouts",
    __name__,
    url_prefix="/api/v1/channels",
    description="Staged rollouts: a channel's candidate served to a share of licenses",
)


@blp.route("/<channel:name>/rollout")
class Rollout(MethodView):
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
        s409="No rollout in progress (NO_ROLLOUT)",
        s422="Validation failed, or the percentage would shrink (ROLLOUT_PERCENT_DECREASE)",
    )
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(RolloutArgsSchema)
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, data: dict[str, Any], name: str, reveal: bool) -> channels.ChannelView:
        """Serve the rollout's candidate to a larger share of licenses."""
        channel = rollouts.advance_rollout(get_session(), current_actor(), name, data["percent"])
        return shown(channel, reveal_allowed(reveal))


@blp.route("/<channel:name>/rollout/complete")
class RolloutComplete(MethodView):
    @blp.response(200, ChannelSchema)
    @problems(blp, 401, 403, 404, 409, s409="No rollout in progress (NO_ROLLOUT)")
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, name: str, reveal: bool) -> channels.ChannelView:
        """Make the rollout's candidate the head, for every license."""
        channel = rollouts.complete_rollout(get_session(), current_actor(), name)
        return shown(channel, reveal_allowed(reveal))


@blp.route("/<channel:name>/rollout/abort")
class RolloutAbort(MethodView):
    @blp.response(200, ChannelSchema)
    @problems(blp, 401, 403, 404, 409, s409="No rollout in progress (NO_ROLLOUT)")
    @require(Role.PUBLISHER, channel_arg="name")
    @blp.arguments(RevealArgsSchema, location="query", as_kwargs=True)
    def post(self, name: str, reveal: bool) -> channels.ChannelView:
        """Withdraw the rollout's candidate; its cohort gets the head again."""
        channel = rollouts.abort_rollout(get_session(), current_actor(), name)
        return shown(channel, reveal_allowed(reveal))
