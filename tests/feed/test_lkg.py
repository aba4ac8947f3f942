"""The last-known-good store replaces files whole and tolerates damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployserver.feed.lkg import LastKnownGood


def test_round_trip_and_replace(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path)
    assert store.read_json("heads.json") is None
    store.write_json("heads.json", {"stable": "a"})
    store.write_json("heads.json", {"stable": "b"})
    assert store.read_json("heads.json") == {"stable": "b"}
    assert [p.name for p in (tmp_path / "lkg").iterdir()] == ["heads.json"]


def test_corrupt_file_reads_as_nothing(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path)
    store.write_text("trust.json", "{torn")
    assert store.read_json("trust.json") is None


@pytest.mark.parametrize("name", ["", "../escape", ".hidden", "a/b"])
def test_names_cannot_escape_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        LastKnownGood(tmp_path).path(name)


@pytest.mark.parametrize("name", ["head-a/b.json", "head-a\x00b.json", "head-ä.json"])
def test_unstorable_names_are_simply_unknown(tmp_path: Path, name: str) -> None:
    # A channel claim of a license signed elsewhere becomes part of a name: never a 500.
    store = LastKnownGood(tmp_path)
    store.write_json(name, {"x": 1})
    assert store.read_json(name) is None
    assert not (tmp_path / "lkg").exists() or not list((tmp_path / "lkg").iterdir())
