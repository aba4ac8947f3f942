"""Signing keys (admin): list, generate (rotate) and retire. Public halves only, ever."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import Timestamp, problems
from deployserver.auth import current_actor, require
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.licensing import keys as key_material
from deployserver.models import KeyStatus, Role, words
from deployserver.pagination import PageArgsSchema
from deployserver.services import keys

blp = Blueprint(
    "keys", __name__, url_prefix="/api/v1/keys", description="License signing keys (admin)"
)


def public_jwk(key: keys.KeyView) -> dict[str, Any]:
    return key_material.jwk_for(
        key_material.load_public_key(key.public_key, key.alg), key.kid, key.alg
    )


class KeySchema(Schema):
    kid = fields.String(required=True)
    alg = fields.String(required=True, validate=validate.OneOf(key_material.ALGORITHMS))
    status = fields.String(required=True, validate=validate.OneOf(words(KeyStatus)))
    created_at = Timestamp(data_key="createdAt")
    retired_at = Timestamp(data_key="retiredAt", allow_none=True)
    jwk = fields.Function(public_jwk, metadata={"description": "the public key (RFC 7517)"})


class KeyPageSchema(Schema):
    items = fields.List(fields.Nested(KeySchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class GenerateKeySchema(Schema):
    alg = fields.String(
        load_default=key_material.DEFAULT_ALGORITHM,
        validate=validate.OneOf(key_material.ALGORITHMS),
    )


@blp.route("")
class Keys(MethodView):
    @require(Role.ADMIN)
    @problems(blp, 401, 403, 422, s422="Invalid limit or cursor")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, KeyPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List signing keys, newest first."""
        page = keys.list_keys(get_session(), **args)
        return {"items": page.items, "nextCursor": page.next_cursor}

    @require(Role.ADMIN)
    @blp.arguments(GenerateKeySchema)
    @blp.response(201, KeySchema)
    @problems(blp, 401, 403, 422, s422="Unsupported algorithm")
    def post(self, data: dict[str, Any]) -> keys.KeyView:
        """Generate a signing key; it signs from now on, older keys keep verifying."""
        return keys.generate_key(
            get_session(), current_actor(), state().config.secret_key, data["alg"]
        )


@blp.route("/<kid:kid>/retire")
class RetireKey(MethodView):
    @require(Role.ADMIN)
    @blp.response(200, KeySchema)
    @problems(blp, 401, 403, 404, 409, s404="No such key", s409="The current signing key")
    def post(self, kid: str) -> keys.KeyView:
        """Retire a key: it verifies nothing more and leaves the JWKS."""
        return keys.retire_key(get_session(), current_actor(), kid)
