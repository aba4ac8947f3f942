"""``deployserver rollout start|set|complete|abort``, ``--rollout-percent``, ``installations
prune``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from deployserver.db import get_session
from deployserver.models import ChannelEvent, Installation
from deployserver.services import channels
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.conftest import TEST_ACTOR

REPO = ["--chart-url", "https://charts.wandb.ai", "--chart-name", "operator-wandb"]


@pytest.fixture
def stable(app: Flask) -> str:
    with app.app_context():
        channels.create_channel(get_session(), TEST_ACTOR, "stable")
        channels.create_channel(get_session(), TEST_ACTOR, "beta")
    return "stable"


def head_and_rollout(app: Flask) -> tuple[str | None, tuple[str, int] | None]:
    with app.app_context():
        view = channels.get_channel(get_session(), "stable")
    rollout = (view.rollout.version, view.rollout.percent) if view.rollout else None
    return (view.head.version if view.head else None), rollout


def test_publish_rollout_advance_complete(invoke: Invoke, app: Flask, stable: str) -> None:
    assert invoke("publish", stable, "--version", "1.0.0", *REPO).exit_code == 0
    staged = invoke("publish", stable, "--version", "1.1.0", *REPO, "--rollout-percent", "20")
    assert staged.exit_code == 0, staged.output
    assert "as rollout candidate for 20% of licenses" in staged.stdout
    assert head_and_rollout(app) == ("1.0.0", ("1.1.0", 20))
    advanced = invoke("rollout", "set", stable, "50")
    assert advanced.stdout.startswith("stable: 1.1.0 rolled out to 50%")
    assert_one_line_error(invoke("rollout", "set", stable, "40"), "may only grow")
    too_far = invoke("rollout", "set", stable, "100")
    assert too_far.exit_code == 2 and "1<=x<=99" in too_far.stderr
    document = json.loads(invoke("rollout", "complete", stable, "--json").stdout)
    assert document["head"]["version"] == "1.1.0" and document["rollout"] is None
    assert head_and_rollout(app) == ("1.1.0", None)
    with app.app_context():
        actions = get_session().scalars(select(ChannelEvent.action).order_by(ChannelEvent.id))
        assert list(actions) == ["publish", "rollout-start", "rollout-advance", "rollout-complete"]


def test_promote_rollout_and_abort(invoke: Invoke, app: Flask, stable: str) -> None:
    invoke("publish", stable, "--version", "1.0.0", *REPO)
    invoke("publish", "beta", "--version", "2.0.0", *REPO)
    staged = invoke("promote", stable, "2.0.0", "--rollout-percent", "5")
    assert staged.exit_code == 0 and "candidate for 5%" in staged.stdout
    again = invoke("promote", stable, "2.0.0", "--rollout-percent", "5")
    assert "already the candidate at 5% of stable; nothing changed" in again.stdout
    assert_one_line_error(
        invoke("publish", stable, "--version", "1.2.0", *REPO), "rollout in progress"
    )
    aborted = invoke("rollout", "abort", stable)
    assert aborted.stdout.strip() == "stable: no rollout in progress; head 1.0.0"
    assert head_and_rollout(app) == ("1.0.0", None)
    assert_one_line_error(invoke("rollout", "abort", stable), "no rollout in progress")


def test_rollout_start_stages_a_release_by_version(invoke: Invoke, app: Flask, stable: str) -> None:
    invoke("publish", stable, "--version", "1.0.0", *REPO)
    invoke("publish", "beta", "--version", "2.0.0", *REPO)
    started = invoke("rollout", "start", stable, "2.0.0", "--percent", "10")
    assert started.exit_code == 0, started.output
    assert (
        started.stdout.startswith("staged 2.0.0 on stable") and "10% of licenses" in started.stdout
    )
    assert head_and_rollout(app) == ("1.0.0", ("2.0.0", 10))
    missing = invoke("rollout", "start", stable, "2.0.0")
    assert missing.exit_code == 2 and "--percent" in missing.stderr


def test_installations_prune(invoke: Invoke, app: Flask) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        session = get_session()
        for name, age in (("old", 40), ("new", 1)):
            seen = now - timedelta(days=age)
            session.add(
                Installation(
                    license_id=name,
                    subject="acme",
                    channel="stable",
                    first_seen=seen,
                    last_seen=seen,
                    poll_count=1,
                )
            )
        session.commit()
    kept = invoke("installations", "prune")
    assert kept.stdout.startswith("pruned 0 installations") and "180 days" in kept.stdout
    pruned = invoke("installations", "prune", "--days", "30")
    assert pruned.stdout.startswith("pruned 1 installations")
    with app.app_context():
        assert list(get_session().scalars(select(Installation.license_id))) == ["new"]
    refused = invoke("installations", "prune", "--days", "0")
    assert refused.exit_code == 2 and "--days" in refused.stderr
