"""``channels sync --seed`` (what a server start does) and the plan's ``drift`` lines."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from deployserver.channelfiles import load_folder
from deployserver.db import get_session
from deployserver.services import channels, releases
from deployserver.services.audit import Actor
from deployserver.services.sync import sync_channels
from tests.channel_folders import channel_file, promote_entry, publish_entry, write_folder
from tests.snapshots import database_snapshot

ACTOR = Actor(name="cli:test")
REST = Actor(name="admin-token", request_id="req-incident")


def sync(app: Flask, folder: Path, *, seed: bool = False, dry_run: bool = False) -> list[str]:
    with app.app_context():
        result = sync_channels(
            get_session(), ACTOR, load_folder(folder), seed=seed, dry_run=dry_run
        )
    return [action.line for action in result.actions]


def head_of(app: Flask, name: str) -> str | None:
    with app.app_context():
        head = channels.get_channel(get_session(), name).head
    return head.version if head else None


def rest_rollback(app: Flask, channel: str, version: str) -> None:
    with app.app_context():
        session = get_session()
        target = releases.get_release_by_version(session, version)
        releases.rollback_channel(session, REST, channel, target.id)


def two_releases(tmp_path: Path, values: str = "{global: {a: '1'}}") -> Path:
    return write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                publish_entry("1.1.0"),
                header=f"values: {values}\n",
            )
        },
    )


def test_seed_of_an_empty_database_is_a_full_sync(app: Flask, tmp_path: Path) -> None:
    folder = two_releases(tmp_path)
    assert sync(app, folder, seed=True) == [
        "create channel stable",
        "publish stable 1.0.0",
        "publish stable 1.1.0",
    ]
    assert head_of(app, "stable") == "1.1.0"


def test_seed_never_moves_a_head_or_rewrites_base_values(app: Flask, tmp_path: Path) -> None:
    folder = two_releases(tmp_path)
    sync(app, folder)
    rest_rollback(app, "stable", "1.0.0")
    # The files move on meanwhile: new base values, a new release, another head.
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                publish_entry("1.1.0"),
                publish_entry("1.2.0"),
                header="values: {global: {a: '2'}}\n",
            )
        },
    )
    before = database_snapshot(app)
    assert sync(app, folder, seed=True) == []
    assert database_snapshot(app) == before
    assert head_of(app, "stable") == "1.0.0"
    with app.app_context():
        assert channels.get_channel(get_session(), "stable").values == {"global": {"a": "1"}}


def test_seed_fills_in_new_and_headless_channels_only(app: Flask, tmp_path: Path) -> None:
    folder = two_releases(tmp_path)
    sync(app, folder)
    with app.app_context():
        channels.create_channel(get_session(), REST, "beta", "made over REST", {})
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file("stable", publish_entry("1.0.0"), publish_entry("1.1.0")),
            "beta.yaml": channel_file("beta", promote_entry("1.0.0")),
            "edge.yaml": channel_file("edge", publish_entry("3.0.0")),
        },
    )
    assert sync(app, folder, seed=True) == [
        "create channel edge",
        "publish edge 3.0.0",
        "promote beta 1.0.0",
    ]
    assert (head_of(app, "stable"), head_of(app, "beta"), head_of(app, "edge")) == (
        "1.1.0",
        "1.0.0",
        "3.0.0",
    )
    with app.app_context():
        assert channels.get_channel(get_session(), "beta").description == "made over REST"


def test_seed_skips_a_promote_of_a_release_a_headed_channel_would_publish(
    app: Flask, tmp_path: Path
) -> None:
    folder = two_releases(tmp_path)
    sync(app, folder)
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable", publish_entry("1.0.0"), publish_entry("1.1.0"), publish_entry("2.0.0")
            ),
            "beta.yaml": channel_file("beta", promote_entry("1.1.0"), promote_entry("2.0.0")),
        },
    )
    lines = sync(app, folder, seed=True)
    assert lines[:2] == ["create channel beta", "promote beta 1.1.0"]
    assert lines[2].startswith("skip promote beta 2.0.0 (")
    assert head_of(app, "beta") == "1.1.0"
    assert head_of(app, "stable") == "1.1.0"


def test_sync_plan_names_a_head_made_outside_the_files(app: Flask, tmp_path: Path) -> None:
    folder = two_releases(tmp_path)
    sync(app, folder)
    rest_rollback(app, "stable", "1.0.0")
    planned = sync(app, folder, dry_run=True)
    assert planned == [
        "drift stable 1.0.0: made head outside the files (rollback by admin-token); "
        "this sync moves the head away from it",
        "move head stable 1.0.0 -> 1.1.0 (promote)",
    ]
    assert head_of(app, "stable") == "1.0.0"
    sync(app, folder)
    assert head_of(app, "stable") == "1.1.0"


def test_no_drift_when_the_files_made_the_head(app: Flask, tmp_path: Path) -> None:
    folder = two_releases(tmp_path)
    sync(app, folder)
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                publish_entry("1.1.0"),
                head="1.0.0",
                header="values: {global: {a: '1'}}\n",
            )
        },
    )
    assert sync(app, folder) == ["move head stable 1.1.0 -> 1.0.0 (rollback)"]
    # A new release in the files moves the head on: still no drift.
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable",
                publish_entry("1.0.0"),
                publish_entry("1.1.0"),
                publish_entry("1.2.0"),
                header="values: {global: {a: '1'}}\n",
            )
        },
    )
    assert sync(app, folder) == ["publish stable 1.2.0"]
