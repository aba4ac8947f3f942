"""Channel files declare required releases: marked and unmarked by the sync, idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from deployserver.channelfiles import load_folder
from deployserver.db import get_session
from deployserver.errors import DeployServerError
from deployserver.services import policies, releases
from tests.channel_folders import channel_file, publish_entry, write_folder
from tests.services.test_sync import sync
from tests.snapshots import database_snapshot


def required(app: Flask, channel: str, version: str) -> bool:
    with app.app_context():
        session = get_session()
        release = releases.get_release_by_version(session, version)
        return policies.is_required(session, channel, release.id)


def test_required_entries_are_marked_then_unmarked(app: Flask, tmp_path: Path) -> None:
    files = {
        "stable.yaml": channel_file(
            "stable",
            publish_entry("1.0.0"),
            publish_entry("1.1.0", required="true"),
            publish_entry("2.0.0"),
        ),
        "beta.yaml": channel_file("beta", '  - promote: "1.1.0"\n    required: true\n'),
    }
    folder = write_folder(tmp_path, files)
    assert sync(app, folder) == [
        "create channel beta",
        "create channel stable",
        "publish stable 1.0.0",
        "publish stable 1.1.0",
        "require stable 1.1.0",
        "promote beta 1.1.0",
        "require beta 1.1.0",
        "publish stable 2.0.0",
    ]
    assert required(app, "stable", "1.1.0") and not required(app, "stable", "1.0.0")
    assert required(app, "beta", "1.1.0")
    assert sync(app, folder) == []
    files["stable.yaml"] = channel_file(
        "stable", publish_entry("1.0.0"), publish_entry("1.1.0"), publish_entry("2.0.0")
    )
    write_folder(tmp_path, files)
    assert sync(app, folder, dry_run=True) == ["unrequire stable 1.1.0"]
    assert required(app, "stable", "1.1.0")
    assert sync(app, folder) == ["unrequire stable 1.1.0"]
    assert not required(app, "stable", "1.1.0") and required(app, "beta", "1.1.0")


@pytest.mark.parametrize("flag", ['"yes"', "1", "null"])
def test_a_required_flag_that_is_not_a_boolean_is_refused(
    app: Flask, tmp_path: Path, flag: str
) -> None:
    folder = write_folder(
        tmp_path, {"stable.yaml": channel_file("stable", publish_entry("1.0.0", required=flag))}
    )
    before = database_snapshot(app)
    with pytest.raises(DeployServerError) as refused:
        load_folder(folder)
    assert "stable.yaml:" in refused.value.detail
    assert "releases[0]" in refused.value.detail
    assert "required: must be true or false" in refused.value.detail
    assert database_snapshot(app) == before
