"""The per-app state: config, engine, sessions, the flask-smorest Api and feature caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_smorest import Api
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deployserver.config import Config


@dataclass
class AppState:
    """What one app instance owns; reached through :func:`state`."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    api: Api
    # Run once in the master before workers start (app context), wired by create_app.
    startup_tasks: list[Callable[[Flask], None]] = field(default_factory=list)
    # Readiness checks beyond the database and migrations (name -> "ok" or a reason).
    readiness_checks: dict[str, Callable[[AppState], str]] = field(default_factory=dict)
    # The migration heads this code ships, read on the first readiness probe only.
    migration_heads: frozenset[str] | None = None
    # Process-local caches and helpers registered by the features that own them.
    extras: dict[str, Any] = field(default_factory=dict)


def state(app: Flask | None = None) -> AppState:
    return (app or current_app).extensions["deployserver"]
