"""``channels sync`` as a service: plan, dependency order, idempotence, heads, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from deployserver.channelfiles import load_folder
from deployserver.db import get_session
from deployserver.errors import DeployServerError
from deployserver.models import AuditEvent
from deployserver.services import channels, releases
from deployserver.services.audit import Actor
from deployserver.services.sync import SYNC_ACTION, sync_channels
from tests.channel_folders import channel_file, promote_entry, publish_entry, write_folder
from tests.snapshots import database_snapshot

ACTOR = Actor(name="cli:test")


def sync(app: Flask, folder: Path, dry_run: bool = False) -> list[str]:
    with app.app_context():
        result = sync_channels(get_session(), ACTOR, load_folder(folder), dry_run=dry_run)
    return [action.line for action in result.actions]


def head_of(app: Flask, name: str) -> str | None:
    with app.app_context():
        head = channels.get_channel(get_session(), name).head
    return head.version if head else None


def history_actions(app: Flask, name: str) -> list[tuple[str, str]]:
    """(action, version) of every head change, oldest first."""
    with app.app_context():
        session = get_session()
        page = releases.channel_history(session, name, 500, None)
        return [
            (entry.action, releases.get_release(session, entry.release_id).version)
            for entry in reversed(page.items)
        ]


def test_promote_waits_for_the_publish_in_a_later_file(app: Flask, tmp_path: Path) -> None:
    # alpha.yaml sorts first but promotes what zeta.yaml publishes.
    folder = write_folder(
        tmp_path,
        {
            "alpha.yaml": channel_file("alpha", promote_entry("2.0.0")),
            "zeta.yaml": channel_file("zeta", publish_entry("2.0.0")),
        },
    )
    assert sync(app, folder) == [
        "create channel alpha",
        "create channel zeta",
        "publish zeta 2.0.0",
        "promote alpha 2.0.0",
    ]
    assert head_of(app, "alpha") == head_of(app, "zeta") == "2.0.0"


def test_promotes_both_ways_between_two_files_interleave(app: Flask, tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        {
            "beta.yaml": channel_file("beta", publish_entry("1.0.0"), promote_entry("2.0.0")),
            "stable.yaml": channel_file("stable", promote_entry("1.0.0"), publish_entry("2.0.0")),
        },
    )
    assert sync(app, folder) == [
        "create channel beta",
        "create channel stable",
        "publish beta 1.0.0",
        "promote stable 1.0.0",
        "publish stable 2.0.0",
        "promote beta 2.0.0",
    ]
    assert history_actions(app, "beta") == [("publish", "1.0.0"), ("promote", "2.0.0")]
    assert history_actions(app, "stable") == [("promote", "1.0.0"), ("publish", "2.0.0")]


def test_second_run_changes_nothing(app: Flask, tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        {
            "beta.yaml": channel_file("beta", publish_entry("1.1.0")),
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                promote_entry("1.1.0"),
                head="1.0.0",
                header="description: Production\nvalues: {global: {region: us}}\n",
            ),
        },
    )
    first = sync(app, folder)
    assert first[-1] == "move head stable 1.1.0 -> 1.0.0 (rollback)"
    before = database_snapshot(app)
    assert sync(app, folder) == []
    assert database_snapshot(app) == before


def test_dry_run_plans_the_real_run_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        channels.create_channel(get_session(), ACTOR, "stable", description="old")
    folder = write_folder(
        tmp_path,
        {
            "beta.yaml": channel_file("beta", publish_entry("1.1.0")),
            "stable.yaml": channel_file(
                "stable", publish_entry("1.0.0"), promote_entry("1.1.0"), head="1.0.0"
            ),
        },
    )
    before = database_snapshot(app)
    planned = sync(app, folder, dry_run=True)
    assert database_snapshot(app) == before
    assert planned == [
        "create channel beta",
        "update channel stable (description)",
        "publish beta 1.1.0",
        "publish stable 1.0.0",
        "promote stable 1.1.0",
        "move head stable 1.1.0 -> 1.0.0 (rollback)",
    ]
    assert sync(app, folder) == planned


def test_head_moves_back_by_rollback_and_forward_by_promote(app: Flask, tmp_path: Path) -> None:
    entries = (publish_entry("1.0.0"), publish_entry("1.1.0"))
    folder = write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries)})
    assert sync(app, folder)[-1] == "publish stable 1.1.0"

    write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries, head="1.0.0")})
    assert sync(app, folder) == ["move head stable 1.1.0 -> 1.0.0 (rollback)"]
    assert head_of(app, "stable") == "1.0.0"

    write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries, head="1.1.0")})
    assert sync(app, folder) == ["move head stable 1.0.0 -> 1.1.0 (promote)"]
    assert history_actions(app, "stable") == [
        ("publish", "1.0.0"),
        ("publish", "1.1.0"),
        ("rollback", "1.0.0"),
        ("promote", "1.1.0"),
    ]
    # Without ``head`` the last entry is the head: already there.
    write_folder(tmp_path, {"stable.yaml": channel_file("stable", *entries)})
    assert sync(app, folder) == []


def test_head_moved_off_the_file_by_rest_is_brought_back(app: Flask, tmp_path: Path) -> None:
    folder = write_folder(tmp_path, {"stable.yaml": channel_file("stable", publish_entry("1.0.0"))})
    sync(app, folder)
    with app.app_context():
        # A hotfix published over REST, not in the files: newer, so going back is a rollback.
        releases.publish_release(
            get_session(), ACTOR, "stable", "1.0.1", {"path": "/charts/x"}, values={}
        )
    assert sync(app, folder) == [
        "drift stable 1.0.1: made head outside the files (publish by cli:test); "
        "this sync moves the head away from it",
        "move head stable 1.0.1 -> 1.0.0 (rollback)",
    ]


def test_published_elsewhere_with_same_content_is_promoted(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        session = get_session()
        channels.create_channel(session, ACTOR, "beta")
        chart = {"url": "https://charts.wandb.ai", "name": "operator-wandb"}
        releases.publish_release(session, ACTOR, "beta", "1.0.0", chart, values={"app": {"n": 1}})
    # stable lists the same release in full (same digest; notes are not part of it).
    entry = publish_entry("1.0.0", notes="listed here too")
    folder = write_folder(tmp_path, {"stable.yaml": channel_file("stable", entry)})
    assert sync(app, folder) == ["create channel stable", "promote stable 1.0.0"]
    assert history_actions(app, "stable") == [("promote", "1.0.0")]
    assert sync(app, folder) == []


def test_base_values_and_description_are_updated(app: Flask, tmp_path: Path) -> None:
    header = "description: Production\nvalues: {global: {region: us}}\n"
    folder = write_folder(
        tmp_path, {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), header=header)}
    )
    sync(app, folder)
    header = "description: Production\nvalues: {global: {region: eu}}\n"
    write_folder(
        tmp_path, {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), header=header)}
    )
    assert sync(app, folder) == ["update channel stable (values)"]
    with app.app_context():
        assert channels.get_channel(get_session(), "stable").values == {"global": {"region": "eu"}}


def test_audit_log_names_the_sync(app: Flask, tmp_path: Path) -> None:
    folder = write_folder(tmp_path, {"stable.yaml": channel_file("stable", publish_entry("1.0.0"))})
    sync(app, folder)
    with app.app_context():
        events = get_session().scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [event.action for event in events] == [
        "channel.create",
        "release.create",
        "channel.publish",
        SYNC_ACTION,
    ]
    assert {event.actor for event in events} == {"cli:test"}
    request_ids = {event.request_id for event in events}
    assert len(request_ids) == 1 and str(request_ids.pop()).startswith("sync-")
    sync(app, folder)
    with app.app_context():
        assert len(get_session().scalars(select(AuditEvent)).all()) == len(events)


# Each case: a folder that fails, and words its error must contain. Every folder also holds
# ``aaa.yaml`` (sorted first): a new channel and release that would be written before the
# failing step, so an unchanged database proves the whole sync rolled back.
BASE = {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), header="values: {a: 1}\n")}
NEWCOMER = {"aaa.yaml": channel_file("aaa", publish_entry("0.1.0"))}
REFUSALS = {
    "version exists with another digest": (
        {"stable.yaml": channel_file("stable", publish_entry("1.0.0", "{app: {n: 2}}"))},
        ["stable.yaml:3: releases[0] (publish 1.0.0)", "VERSION_EXISTS", "other content"],
    ),
    "unknown promote": (
        {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), promote_entry("9.9.9"))},
        ["stable.yaml:6: releases[1] (promote 9.9.9)", "no release 9.9.9"],
    ),
    "head not listed": (
        {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), head="1.1.0")},
        ["stable.yaml:6: head", "1.1.0 is not listed"],
    ),
    "invalid release": (
        {"stable.yaml": channel_file("stable", publish_entry("1.0.0", "{app: {n: null}}"))},
        ["stable.yaml:3: releases[0] (publish 1.0.0)", "values.app.n", "null"],
    ),
    "release clashes with the base values": (
        {
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                publish_entry("1.1.0", "{a: {b: 1}}"),
                header="values: {a: 1}\n",
            )
        },
        ["stable.yaml:7: releases[1] (publish 1.1.0)", "MERGE_CONFLICT"],
    ),
    "base values clash with history": (
        {
            "stable.yaml": channel_file(
                "stable", publish_entry("1.0.0"), header="values: {app: {n: [1]}}\n"
            )
        },
        ["stable.yaml", "release 1.0.0", "MERGE_CONFLICT"],
    ),
    "name differs from the file name": (
        {"stable.yaml": channel_file("production", publish_entry("1.0.0"))},
        ["stable.yaml:1: name", "must equal the file name"],
    ),
    "promotes in a circle": (
        {
            "beta.yaml": channel_file("beta", promote_entry("2.0.0"), publish_entry("3.0.0")),
            "stable.yaml": channel_file("stable", promote_entry("3.0.0"), publish_entry("2.0.0")),
        },
        ["circle", "beta.yaml:3: releases[0] (promote 2.0.0)", "stable.yaml:3"],
    ),
    "one version published by two files": (
        {
            "beta.yaml": channel_file("beta", publish_entry("1.0.0")),
            "stable.yaml": channel_file("stable", publish_entry("1.0.0")),
        },
        ["stable.yaml:3: releases[0] (publish 1.0.0)", "also published by", "beta.yaml:3"],
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_names_file_and_entry_and_changes_nothing(
    app: Flask, tmp_path: Path, case: str
) -> None:
    folder = tmp_path / "channels"
    write_folder(folder, BASE)
    sync(app, folder)
    files, words = REFUSALS[case]
    write_folder(folder, {**NEWCOMER, **files})
    before = database_snapshot(app)
    with pytest.raises(DeployServerError) as refused:
        sync(app, folder)
    message = f"{refused.value.code} {refused.value}"
    for word in words:
        assert word in message
    assert database_snapshot(app) == before
