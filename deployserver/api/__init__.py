"""REST API: one flask-smorest blueprint per resource."""

from deployserver.api import audit, channels, health, operator, releases

BLUEPRINTS = [health.blp, channels.blp, releases.blp, audit.blp, operator.blp]
