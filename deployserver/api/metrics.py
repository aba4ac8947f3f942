"""``GET /metrics``: Prometheus text format, merged across the server's workers (API.md 9).

A bearer token of any role is required, unless ``DEPLOYSERVER_METRICS_PUBLIC`` is true (for
a scraper inside a trusted network that cannot present one).
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from prometheus_client import CONTENT_TYPE_LATEST

from deployserver.api.blueprint import Blueprint
from deployserver.api.schemas import problems
from deployserver.auth import authenticate
from deployserver.extensions import state
from deployserver.metrics import exposition

blp = Blueprint("metrics", __name__, description="Prometheus metrics")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.alt_response(200, description="Prometheus text exposition format")
    @problems(blp, 401, 429)
    def get(self) -> Response:
        """Counters, histograms and database state of every worker of this server."""
        app_state = state()
        if not app_state.config.metrics_public:
            authenticate()
        return Response(exposition(app_state), headers=[("Content-Type", CONTENT_TYPE_LATEST)])
