"""Write transactions: one per service call, or many calls joined into one."""

from __future__ import annotations

import contextlib

import pytest
from flask import Flask
from sqlalchemy import func, select

from deployserver.db import JoinedCallFailed, get_session, write_transaction
from deployserver.errors import Conflict
from deployserver.models import AuditEvent, Channel
from deployserver.services import channels
from deployserver.services.audit import Actor

ACTOR = Actor(name="test")


def rows(app: Flask, model: type) -> int:
    with app.app_context():
        session = get_session()
        count = int(session.scalar(select(func.count()).select_from(model)) or 0)
        session.rollback()
        return count


def test_joined_calls_commit_together(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        with write_transaction(session):
            channels.create_channel(session, ACTOR, "beta")
            # A read inside the open transaction sees it and leaves it open.
            assert channels.get_channel(session, "beta").name == "beta"
            assert session.in_transaction()
            channels.create_channel(session, ACTOR, "stable")
    assert rows(app, Channel) == 2
    assert rows(app, AuditEvent) == 2


def test_error_after_joined_calls_writes_nothing(app: Flask) -> None:
    with app.app_context(), pytest.raises(RuntimeError, match="late"):
        session = get_session()
        with write_transaction(session):
            channels.create_channel(session, ACTOR, "beta")
            raise RuntimeError("late")
    assert rows(app, Channel) == 0


def test_swallowed_failure_of_a_joined_call_dooms_the_transaction(app: Flask) -> None:
    with app.app_context(), pytest.raises(JoinedCallFailed):
        session = get_session()
        with write_transaction(session):
            channels.create_channel(session, ACTOR, "beta")
            with contextlib.suppress(Conflict):
                channels.create_channel(session, ACTOR, "beta")
    assert rows(app, Channel) == 0
    assert rows(app, AuditEvent) == 0


def test_commit_false_rolls_back(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        with write_transaction(session, commit=False):
            channels.create_channel(session, ACTOR, "beta")
        # The session is usable again afterwards, and single calls commit as before.
        channels.create_channel(session, ACTOR, "stable")
    with app.app_context():
        names = get_session().scalars(select(Channel.name)).all()
    assert names == ["stable"]
