"""Record the SQL an engine runs, and ask the database how it would run a statement.

Query-count and plan assertions guard the costs that ``make bench-scale`` measured: they
fail when a change adds a query to a path or turns an index walk into a scan or a sort.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, text


class QueryRecorder:
    """Every statement (with its parameters) run on ``engine`` inside the ``with`` block."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def __enter__(self) -> QueryRecorder:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # SQLite's explicit BEGIN (db.py) is transaction control, not a query.
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.statements.append((statement, parameters))

    @property
    def count(self) -> int:
        return len(self.statements)

    def touching(self, table: str) -> list[tuple[str, Any]]:
        """The recorded statements that read ``table`` (FROM or JOIN)."""
        return [
            (sql, params)
            for sql, params in self.statements
            if f"FROM {table}" in sql or f"JOIN {table}" in sql
        ]


def query_plan(engine: Engine, statement: str, parameters: Any) -> str | None:
    """How the database would run a recorded statement, as text; None where not checked.

    SQLite answers EXPLAIN QUERY PLAN. PostgreSQL is asked with sequential scans and sorts
    priced out, so on a tiny test table it still shows whether an index *can* serve the
    query (a Sort node or a Seq Scan left in the plan means it cannot). MariaDB: not checked.
    """
    backend = engine.dialect.name
    with engine.connect() as connection:
        if backend == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        if backend == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
            connection.execute(text("SET enable_sort = off"))
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(str(row[0]) for row in rows)
            connection.rollback()
            return plan
    return None


def assert_index_walk(
    engine: Engine, statement: str, parameters: Any, index: str, *, sorts: bool = False
) -> None:
    """The statement is answered through ``index``, with no full scan and, unless ``sorts``
    (a sort of the few rows found is fine), no sort: the index gives the order."""
    plan = query_plan(engine, statement, parameters)
    if plan is None:
        return
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan  # PostgreSQL reading the whole table
    if not sorts:
        assert "TEMP B-TREE" not in plan, plan  # SQLite sorting rows itself
        assert "Sort" not in plan, plan  # PostgreSQL
