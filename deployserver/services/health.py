"""Readiness: what must hold before a load balancer sends traffic here."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from deployserver import migrate
from deployserver.extensions import AppState

log = logging.getLogger(__name__)

# Extra checks registered by features (name -> function returning "ok" or a reason).
READINESS_CHECKS: dict[str, Callable[[AppState], str]] = {}


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
    heads = app_state.extras.setdefault("migration_heads", migrate.head_revisions())
    current = migrate.current_revisions(app_state.engine)
    checks["migrations"] = "ok" if current == heads else "not at head"
    for name, check in READINESS_CHECKS.items():
        checks[name] = check(app_state)
    return checks
