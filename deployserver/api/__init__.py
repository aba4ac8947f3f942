"""REST API: one flask-smorest blueprint per resource."""

from deployserver.api import health, jwks, keys, licenses

BLUEPRINTS = [health.blp, jwks.blp, keys.blp, licenses.blp]
