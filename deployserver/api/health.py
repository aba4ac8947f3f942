"""Liveness and readiness probes."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.extensions import state
from deployserver.services import health

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Not ready")
    def get(self) -> tuple[dict[str, object], int]:
        """The database is reachable, migrated to head, and a signing key is present."""
        checks = health.readiness(state())
        ready = all(value == "ok" for value in checks.values())
        return {"status": "ready" if ready else "not ready", "checks": checks}, (
            200 if ready else 503
        )
