"""The per-app state: config, engine, sessions, the flask-smorest Api and feature caches."""

from __future__ import annotations

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
    # Process-local caches and helpers registered by the features that own them.
    extras: dict[str, Any] = field(default_factory=dict)


def state(app: Flask | None = None) -> AppState:
    return (app or current_app).extensions["deployserver"]
