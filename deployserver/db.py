"""Engine, sessions and transactions.

One engine per process (per app). Request handlers and CLI commands use the session of the
current app context (:func:`get_session`); services wrap every call in :func:`write_transaction`
so each call is exactly one transaction, serialised against other writers where it matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app, g
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from deployserver.errors import NotFound

# Named constraints and indexes: Alembic can then drop and compare them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC (portable across backends), read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            # MySQL drops sub-second precision unless asked; history ordering needs it.
            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_db_engine(url: URL, **kwargs: Any) -> Engine:
    """Create an engine with the per-backend settings the service relies on."""
    backend = url.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": True, **kwargs}
    if backend == "sqlite":
        options.setdefault("connect_args", {})["timeout"] = 30
    else:
        options.setdefault("pool_recycle", 1800)
        # A dead database must fail a request quickly, not hang a worker.
        connect_args = options.setdefault("connect_args", {})
        connect_args["connect_timeout"] = 5
    engine = create_engine(url, **options)
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Take transaction control from pysqlite so writers can BEGIN IMMEDIATE.

    pysqlite's own implicit transactions start late and never IMMEDIATE; a writer that read
    before writing could then lose an update. SQLAlchemy's documented recipe hands control
    back, and :func:`write_transaction` asks for IMMEDIATE through an execution option.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def get_session() -> Session:
    """The session of the current app context, created on first use and closed at teardown."""
    session: Session | None = g.get("db_session")
    if session is None:
        session = current_app.extensions["deployserver"].sessions()
        g.db_session = session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


# Session.info keys: set while a write transaction is open on the session, and when a call
# that joined it failed (its partial writes must never be committed by the outer one).
_WRITE_OPEN = "deployserver.write_transaction"
_JOINED_FAILED = "deployserver.joined_call_failed"


class JoinedCallFailed(RuntimeError):
    """A service call inside a larger transaction failed and its error was swallowed."""


@contextmanager
def write_transaction(session: Session, *, commit: bool = True) -> Iterator[Session]:
    """Run one service call as one transaction, committed on success, rolled back on error.

    Any read transaction the caller left open is ended first so the write starts from a
    fresh snapshot. On SQLite the transaction begins IMMEDIATE: writers queue on the
    database lock (busy timeout) instead of failing when they upgrade from a read.

    Called while another write transaction is open on the same session, it joins that one:
    the outermost call alone commits or rolls back, so a caller (``channels sync``) can run
    many service calls as one transaction. A joined call that raises dooms the whole
    transaction even when its caller swallows the error. ``commit=False`` rolls back at the
    end instead (a dry run that exercises every rule and writes nothing).
    """
    if session.info.get(_WRITE_OPEN):
        try:
            yield session
        except BaseException:
            session.info[_JOINED_FAILED] = True
            raise
        return
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={"sqlite_immediate": True})
    session.info[_WRITE_OPEN] = True
    try:
        yield session
        if session.info.get(_JOINED_FAILED):
            raise JoinedCallFailed("a call inside this transaction failed; nothing is written")
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_WRITE_OPEN, None)
        session.info.pop(_JOINED_FAILED, None)


@contextmanager
def read_transaction(session: Session) -> Iterator[Session]:
    """A read-only unit of work; ends the transaction so no snapshot is held afterwards.

    Inside an open write transaction it reads that transaction's state and leaves it open.
    """
    if session.info.get(_WRITE_OPEN):
        yield session
        return
    try:
        yield session
    finally:
        session.rollback()


RowT = TypeVar("RowT", bound=Base)
ViewT = TypeVar("ViewT")


def view_of(view: type[ViewT], row: Base) -> ViewT:
    """The frozen ``view`` dataclass of an ORM row: each of its fields read from the row.

    Services return views, never rows, so what callers get cannot reload, lazy-load or be
    changed behind the session's back after the transaction ended.
    """
    # A field the row has no column for keeps its default (the service fills it in).
    names = [field.name for field in fields(view)]  # type: ignore[arg-type]
    return view(**{name: getattr(row, name) for name in names if hasattr(row, name)})


def find_or_404(
    session: Session,
    model: type[RowT],
    key: str,
    *,
    guard: Callable[[str], bool],
    noun: str,
    code: str,
    by: Any = None,
    for_update: bool = False,
) -> RowT:
    """The ``model`` row whose primary key (or column ``by``) is ``key``; else 404 ``code``.

    ``guard`` says whether any row could have ``key``: other text (from a URL) is not sent to
    the database, where a NUL is an error on PostgreSQL rather than an empty result.
    ``for_update`` locks the row until the transaction ends and reloads it.
    """
    row: RowT | None = None
    if guard(key):
        if by is None:
            row = session.get(
                model,
                key,
                with_for_update=True if for_update else None,
                populate_existing=for_update,
            )
        else:
            statement = select(model).where(by == key)
            if for_update:
                statement = statement.with_for_update().execution_options(populate_existing=True)
            row = session.scalar(statement)
    if row is None:
        raise NotFound(f"no {noun} {key!r}", code)
    return row
