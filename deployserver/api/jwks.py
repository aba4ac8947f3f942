"""The JWK Set of every key that may still verify a license (RFC 7517)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import problems
from deployserver.extensions import state
from deployserver.licensing.verifier import license_verifier

blp = Blueprint("jwks", __name__, description="Public keys that verify licenses")


class JwkSchema(Schema):
    kty = fields.String(required=True)
    kid = fields.String(required=True)
    alg = fields.String(required=True)
    use = fields.String(required=True)
    crv = fields.String()
    x = fields.String()
    y = fields.String()
    n = fields.String()
    e = fields.String()


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.response(200, JwksSchema)
    @problems(blp, 503, s503="Nothing known about keys")
    def get(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Public signing keys (served from the verifier's trust snapshot)."""
        app_state = state()
        jwks = license_verifier(app_state).trust().jwks()
        max_age = app_state.config.license_cache_seconds
        return jwks, 200, {"Cache-Control": f"public, max-age={max_age}"}
