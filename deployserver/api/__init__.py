"""REST API: one flask-smorest blueprint per resource."""

from deployserver.api import health

BLUEPRINTS = [health.blp]
