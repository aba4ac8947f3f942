"""REST API: one flask-smorest blueprint per resource."""

from deployserver.api import (
    audit,
    channels,
    health,
    installations,
    jwks,
    keys,
    licenses,
    metrics,
    operator,
    policies,
    releases,
    render,
    rollouts,
    sync,
    tokens,
)

BLUEPRINTS = [
    health.blp,
    channels.blp,
    rollouts.blp,
    render.blp,
    releases.blp,
    audit.blp,
    installations.blp,
    licenses.blp,
    policies.blp,
    keys.blp,
    jwks.blp,
    metrics.blp,
    operator.blp,
    tokens.blp,
    sync.blp,
]
