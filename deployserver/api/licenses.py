"""Licenses: validation (unauthenticated) and, for admins, issuing, reading and status changes."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, pre_dump, validate

from deployserver.api.blueprint import Blueprint
from deployserver.api.fields import BoundedInteger, ChannelName, JsonObject, StorableText, UtcTime
from deployserver.api.openapi import LICENSE_SECURITY
from deployserver.api.schemas import PinRefSchema, Timestamp, problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.extensions import state
from deployserver.licensing.credentials import license_from_authorization, trim_license
from deployserver.licensing.judge import CODES
from deployserver.licensing.verifier import license_verifier
from deployserver.models import Role
from deployserver.pagination import PageArgsSchema
from deployserver.ratelimit import license_failure
from deployserver.services import licenses
from deployserver.services.licenses import MAX_TTL_DAYS, STATUSES

blp = Blueprint(
    "licenses",
    __name__,
    url_prefix="/api/v1/licenses",
    description="Signed licenses: validate, issue, revoke, suspend and reinstate",
)


class ValidateSchema(Schema):
    license = fields.String(metadata={"description": "the license JWT (or send it as Basic)"})


class LicenseViewSchema(Schema):
    id = fields.String(required=True)
    subject = fields.String(required=True)
    channel = fields.String(allow_none=True)
    issuedAt = fields.String(allow_none=True)
    notBefore = fields.String(allow_none=True)
    expiresAt = fields.String(allow_none=True)
    entitlements = fields.Dict(keys=fields.String())


class VerdictSchema(Schema):
    valid = fields.Boolean(required=True)
    code = fields.String(required=True, validate=validate.OneOf(CODES))
    detail = fields.String(required=True)
    license = fields.Nested(LicenseViewSchema, metadata={"description": "when signed by us"})


class IssueSchema(Schema):
    subject = StorableText(required=True, min_length=1)
    channel = ChannelName(metadata={"description": "Default: the server's default channel"})
    expires_at = UtcTime(data_key="expiresAt")
    ttl_days = BoundedInteger(1, MAX_TTL_DAYS, data_key="ttlDays")
    perpetual = fields.Boolean(load_default=False)
    not_before = UtcTime(data_key="notBefore")
    entitlements = JsonObject(keys=fields.String(), load_default=dict)


class LicenseSchema(Schema):
    id = fields.String(required=True)
    subject = fields.String(required=True)
    channel = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    kid = fields.String(required=True)
    issued_at = Timestamp(data_key="issuedAt")
    not_before = Timestamp(data_key="notBefore")
    expires_at = Timestamp(data_key="expiresAt", allow_none=True)
    issued_by = fields.String(data_key="issuedBy")
    status_changed_at = Timestamp(data_key="statusChangedAt", allow_none=True)
    entitlements = fields.Function(lambda row: row.claims.get("entitlements", {}))
    pin = fields.Nested(
        PinRefSchema, allow_none=True, metadata={"description": "The pinned release, or null"}
    )


@dataclass(frozen=True)
class IssuedLicense:
    """A new license and its JWT (a tuple would read as flask-smorest's (body, status))."""

    license: licenses.LicenseRecord
    token: str


class IssuedLicenseSchema(LicenseSchema):
    token = fields.String(required=True, metadata={"description": "the license JWT, shown once"})

    @pre_dump
    def unpack(self, issued: IssuedLicense, **_: Any) -> SimpleNamespace:
        row = issued.license
        return SimpleNamespace(
            **{name: getattr(row, name) for name in self.fields if hasattr(row, name)},
            claims=row.claims,
            token=issued.token,
        )


class LicenseListArgsSchema(PageArgsSchema):
    subject = StorableText()
    channel = ChannelName()
    status = fields.String(validate=validate.OneOf(STATUSES))


class LicensePageSchema(Schema):
    items = fields.List(fields.Nested(LicenseSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


@blp.route("/validate")
class Validate(MethodView):
    @blp.arguments(ValidateSchema, required=False)
    @blp.response(200, VerdictSchema)
    @problems(
        blp,
        401,
        422,
        429,
        503,
        s401="Credentials that are not a license",
        s422="No license given",
        s503="Nothing known to verify with",
    )
    @blp.doc(security=LICENSE_SECURITY)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Say whether a license is valid, and why not."""
        token = data.get("license")
        if token is not None:
            token = trim_license(token)
        else:
            header = request.headers.get("Authorization")
            if header is None:
                raise Invalid.field("license", "give the license in the body or as Basic password")
            token = license_from_authorization(header)
        app_state = state()
        verdict = license_verifier(app_state).verify(token)
        if not verdict.valid:
            license_failure(app_state)
        return verdict.as_dict()


@blp.route("")
class Licenses(MethodView):
    @require(Role.ADMIN)
    @blp.arguments(IssueSchema)
    @blp.response(201, IssuedLicenseSchema)
    @problems(
        blp,
        401,
        403,
        422,
        s401="No valid token",
        s403="Not an admin",
        s422="Invalid, or an unknown channel",
    )
    def post(self, data: dict[str, Any]) -> IssuedLicense:
        """Issue a license (the token is shown only in this answer)."""
        config = state().config
        data.setdefault("channel", config.default_channel)
        row, token = licenses.issue_license(get_session(), current_actor(), config, **data)
        return IssuedLicense(row, token)

    @require(Role.ADMIN)
    @problems(blp, 401, 403, 422, s422="Invalid limit or cursor")
    @blp.arguments(LicenseListArgsSchema, location="query")
    @blp.response(200, LicensePageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List licenses, newest first."""
        page = licenses.list_licenses(get_session(), **args)
        return {"items": page.items, "nextCursor": page.next_cursor}


@blp.route("/<license_id:license_id>")
class LicenseById(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, LicenseSchema)
    @problems(blp, 401, 403, 404, s404="No such license")
    def get(self, license_id: str) -> licenses.LicenseRecord:
        """Read one license."""
        return licenses.get_license(get_session(), license_id)


@blp.route("/<license_id:license_id>/revoke")
class RevokeLicense(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, LicenseSchema)
    @problems(blp, 401, 403, 404, s404="No such license")
    def post(self, license_id: str) -> licenses.LicenseRecord:
        """Revoke a license for good."""
        return licenses.revoke_license(get_session(), current_actor(), license_id)


@blp.route("/<license_id:license_id>/suspend")
class SuspendLicense(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, LicenseSchema)
    @problems(blp, 401, 403, 404, 409, s404="No such license", s409="The license is revoked")
    def post(self, license_id: str) -> licenses.LicenseRecord:
        """Suspend a license until it is reinstated."""
        return licenses.suspend_license(get_session(), current_actor(), license_id)


@blp.route("/<license_id:license_id>/reinstate")
class ReinstateLicense(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, LicenseSchema)
    @problems(blp, 401, 403, 404, 409, s404="No such license", s409="The license is revoked")
    def post(self, license_id: str) -> licenses.LicenseRecord:
        """Make a suspended license valid again."""
        return licenses.reinstate_license(get_session(), current_actor(), license_id)
