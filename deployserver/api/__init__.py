"""REST API: one flask-smorest blueprint per resource."""

from deployserver.api import audit, channels, health, jwks, keys, licenses, operator, releases

BLUEPRINTS = [
    health.blp,
    channels.blp,
    releases.blp,
    audit.blp,
    licenses.blp,
    keys.blp,
    jwks.blp,
    operator.blp,
]
