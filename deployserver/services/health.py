"""Readiness: what must hold before a load balancer sends traffic here."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from deployserver import migrate
from deployserver.extensions import AppState

log = logging.getLogger(__name__)


def readiness(app_state: AppState) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with app_state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
        return checks
    if app_state.migration_heads is None:
        # The revisions this code ships cannot change while it runs: parse them once.
        app_state.migration_heads = frozenset(migrate.head_revisions())
    current = migrate.current_revisions(app_state.engine)
    checks["migrations"] = "ok" if current == app_state.migration_heads else "not at head"
    for name, check in app_state.readiness_checks.items():
        checks[name] = check(app_state)
    return checks
