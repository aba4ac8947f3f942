"""The migrations build what the models describe, on every configured backend."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import inspect

from deployserver import migrate


def test_models_and_migrations_agree(app: Flask, backend: str) -> None:
    # What `deployserver db check` runs, here against the suite's database of each backend
    # (created with the server's default collation, as an operator's is).
    engine = app.extensions["deployserver"].engine
    migrate.check(engine)
    if backend in ("mysql", "mariadb"):
        columns = {column["name"]: column for column in inspect(engine).get_columns("releases")}
        assert columns["version"]["type"].collation == "utf8mb4_bin"
