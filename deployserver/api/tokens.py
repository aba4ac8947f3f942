"""Bearer tokens over REST (admin) and ``whoami`` (any valid token).

A token's secret is in the creation answer only; the server keeps its sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import Timestamp, page_schema, problems
from deployserver.auth import current_actor, current_principal, require
from deployserver.db import get_session
from deployserver.pagination import Page, PageArgsSchema
from deployserver.services import tokens
from deployserver.services.tokens import TokenView

blp = Blueprint(
    "tokens", __name__, url_prefix="/api/v1", description="Bearer tokens and the caller"
)


class TokenSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(tokens.ROLES))
    channels = fields.List(
        fields.String(),
        allow_none=True,
        required=True,
        metadata={"description": "Channels a publisher may write to; null: every channel"},
    )
    created_at = Timestamp(data_key="createdAt", required=True)
    last_used_at = Timestamp(data_key="lastUsedAt", allow_none=True, required=True)
    expires_at = Timestamp(data_key="expiresAt", allow_none=True, required=True)
    revoked = fields.Function(lambda token: token.revoked_at is not None, required=True)


@dataclass(frozen=True)
class CreatedToken:
    """A new token's row and its secret, read as one object by CreatedTokenSchema."""

    row: TokenView
    token: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


class CreatedTokenSchema(TokenSchema):
    token = fields.String(
        required=True, metadata={"description": "The secret; shown in this answer only"}
    )


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=tokens.MAX_TOKEN_NAME))
    role = fields.String(required=True, validate=validate.OneOf(tokens.ROLES))
    channels = fields.List(
        fields.String(validate=validate.Length(max=63)),
        validate=validate.Length(max=1000),
        metadata={"description": "Limit a publisher to these channels (default: every one)"},
    )
    expires_at = fields.AwareDateTime(
        data_key="expiresAt", metadata={"description": "RFC 3339 time; default: never"}
    )


class WhoamiSchema(Schema):
    id = fields.String(
        allow_none=True, required=True, metadata={"description": "Token id (null: local CLI)"}
    )
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(tokens.ROLES))
    channels = fields.List(fields.String(), allow_none=True, required=True)


TokenPageSchema = page_schema(TokenSchema, "TokenPageSchema")


@blp.route("/tokens")
class Tokens(MethodView):
    @require("admin")
    @problems(blp, 401, 403, 422, s422="Invalid limit or cursor")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TokenPageSchema)
    def get(self, args: dict[str, Any]) -> Page[TokenView]:
        """List tokens (never their secrets)."""
        return tokens.list_tokens(get_session(), limit=args["limit"], cursor=args["cursor"])

    @require("admin")
    @problems(blp, 400, 401, 403, 413, 422)
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, CreatedTokenSchema)
    def post(self, data: dict[str, Any]) -> CreatedToken:
        """Create a token; its secret is in this answer and nowhere else."""
        token, secret = tokens.create_token(
            get_session(),
            current_actor(),
            data["name"],
            data["role"],
            data.get("channels"),
            expires_at=data.get("expires_at"),
        )
        return CreatedToken(token, secret)


@blp.route("/tokens/<token_id>/revoke")
class RevokeToken(MethodView):
    @require("admin")
    @problems(blp, 401, 403, 404, s404="No such token (TOKEN_NOT_FOUND)")
    @blp.response(200, TokenSchema)
    def post(self, token_id: str) -> TokenView:
        """Revoke a token; requests presenting it get 401 from now on."""
        return tokens.revoke_token(get_session(), current_actor(), token_id)


@blp.route("/whoami")
class Whoami(MethodView):
    @require("viewer")
    @problems(blp, 401)
    @blp.response(200, WhoamiSchema)
    def get(self) -> dict[str, Any]:
        """The token presented: its id, name, role and channels."""
        principal = current_principal()
        return {
            "id": principal.token_id or None,
            "name": principal.actor_name if principal.local else principal.name,
            "role": principal.role,
            "channels": list(principal.channels) if principal.channels is not None else None,
        }
