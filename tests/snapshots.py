"""Whole-database snapshots: a refusal must leave every table exactly as it was."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import Base


def database_snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key (read in a fresh transaction)."""
    with app.app_context():
        session = get_session()
        snapshot = {}
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            snapshot[table.name] = [tuple(row) for row in session.execute(query)]
        session.rollback()
        return snapshot
