"""Installation policies over REST: pins and maintenance windows per license, required
releases per channel, and the decision a license's next poll gets, explained."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import ReleaseId, StorableText, UtcTime
from deployserver.api.schemas import Timestamp, problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.errors import Forbidden
from deployserver.extensions import state
from deployserver.feed.answers import spec_feed
from deployserver.models import Role
from deployserver.services import policies
from deployserver.services.policies import MAX_REASON, PoliciesView
from deployserver.specs.policy import Reason
from deployserver.specs.windows import DAYS, Window

blp = Blueprint(
    "policies",
    __name__,
    url_prefix="/api/v1",
    description="Installation policies: pins, maintenance windows, required releases",
)


class PinArgsSchema(Schema):
    release_id = ReleaseId(data_key="releaseId")
    version = StorableText(min_length=1)
    until = UtcTime(metadata={"description": "the pin ends by itself then"})
    reason = StorableText(load_default="", max_length=MAX_REASON)


class PinSchema(Schema):
    license_id = fields.String(data_key="licenseId", required=True)
    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    until = Timestamp(allow_none=True)
    reason = fields.String(required=True)
    created_at = Timestamp(data_key="createdAt")
    created_by = fields.String(data_key="createdBy")


class WindowSchema(Schema):
    days = fields.List(
        fields.String(validate=validate.OneOf(DAYS)), required=True, validate=validate.Length(1, 7)
    )
    start = StorableText(required=True, max_length=5, metadata={"description": "local HH:MM"})
    end = StorableText(required=True, max_length=5, metadata={"description": "local HH:MM"})
    timezone = StorableText(
        required=True, min_length=1, max_length=64, metadata={"description": "IANA name"}
    )


class PoliciesSchema(Schema):
    license_id = fields.String(data_key="licenseId", required=True)
    channel = fields.String(required=True)
    pin = fields.Nested(PinSchema, allow_none=True)
    window = fields.Nested(WindowSchema, allow_none=True)


class DecisionSchema(Schema):
    license_id = fields.String(data_key="licenseId", required=True)
    channel = fields.String(required=True)
    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf([r.value for r in Reason]))
    detail = fields.String(required=True)
    last_served_release_id = fields.String(data_key="lastServedReleaseId", allow_none=True)
    last_served_since = Timestamp(data_key="lastServedSince", allow_none=True)
    window_open = fields.Boolean(data_key="windowOpen", allow_none=True)
    pin = fields.Nested(PinSchema, allow_none=True)


class RequiredArgsSchema(Schema):
    required = fields.Boolean(required=True)


class RequiredSchema(Schema):
    channel = fields.String(required=True)
    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    required = fields.Boolean(required=True)


def _may_steer(license_id: str) -> None:
    """Admins, and publishers of the license's channel, set its policies."""
    channel = policies.license_channel(get_session(), license_id)
    if not g.principal.may_write(channel):
        raise Forbidden(f"this token may not steer licenses of channel {channel!r}")


@blp.route("/licenses/<license_id:license_id>/policies")
class LicensePolicies(MethodView):
    @require(Role.VIEWER)
    @blp.response(200, PoliciesSchema)
    @problems(blp, 401, 403, 404, s404="No such license")
    def get(self, license_id: str) -> PoliciesView:
        """Read a license's pin and maintenance window."""
        return policies.get_policies(get_session(), license_id)


@blp.route("/licenses/<license_id:license_id>/pin")
class LicensePin(MethodView):
    @require(Role.PUBLISHER)
    @blp.arguments(PinArgsSchema)
    @blp.response(200, PinSchema)
    @problems(blp, 401, 403, 404, 422, s422="Not a release of the license's channel")
    def put(self, data: dict[str, Any], license_id: str) -> policies.PinView:
        """Pin a license to a release that is or was head of its channel."""
        _may_steer(license_id)
        return policies.set_pin(get_session(), current_actor(), license_id, **data)

    @require(Role.PUBLISHER)
    @blp.response(204)
    @problems(blp, 401, 403, 404, s404="No such license, or no pin")
    def delete(self, license_id: str) -> None:
        """Remove a license's pin."""
        _may_steer(license_id)
        policies.clear_pin(get_session(), current_actor(), license_id)


@blp.route("/licenses/<license_id:license_id>/window")
class LicenseWindow(MethodView):
    @require(Role.PUBLISHER)
    @blp.arguments(WindowSchema)
    @blp.response(200, WindowSchema)
    @problems(blp, 401, 403, 404, 422, s422="Invalid days, times or time zone")
    def put(self, data: dict[str, Any], license_id: str) -> Window:
        """Give a license a maintenance window (replacing any it had)."""
        _may_steer(license_id)
        return policies.set_window(get_session(), current_actor(), license_id, **data)

    @require(Role.PUBLISHER)
    @blp.response(204)
    @problems(blp, 401, 403, 404, s404="No such license, or no window")
    def delete(self, license_id: str) -> None:
        """Remove a license's maintenance window."""
        _may_steer(license_id)
        policies.clear_window(get_session(), current_actor(), license_id)


@blp.route("/licenses/<license_id:license_id>/decision")
class LicenseDecision(MethodView):
    @require(Role.VIEWER)
    @blp.response(200, DecisionSchema)
    @problems(blp, 401, 403, 404, s404="No such license, or its channel is empty")
    def get(self, license_id: str) -> policies.DecisionView:
        """Which release this license's next poll gets, and which rule chose it."""
        return spec_feed(state()).policies.explain(get_session(), license_id)


@blp.route("/channels/<channel:channel>/releases/<release_id:release_id>")
class ChannelReleaseFlags(MethodView):
    @require(Role.PUBLISHER, channel_arg="channel")
    @blp.arguments(RequiredArgsSchema)
    @blp.response(200, RequiredSchema)
    @problems(blp, 401, 403, 404, 422, s422="Not a release of this channel's history")
    def patch(self, data: dict[str, Any], channel: str, release_id: str) -> policies.RequiredView:
        """Mark a release of this channel as required (installations may not skip it)."""
        return policies.set_required(
            get_session(), current_actor(), channel, release_id, data["required"]
        )
