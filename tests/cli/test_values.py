"""``--values`` files merge as Helm merges them, and ``--set`` applies over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployserver.cli.client import Refusal
from deployserver.cli.values import values_from_options


def test_files_merge_deeply_later_wins_then_set(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("app: {tag: a, n: 1, list: [1, 2]}\nkeep: yes-string\n")
    second = tmp_path / "b.yaml"
    second.write_text("app: {tag: b, list: [3]}\n")
    merged = values_from_options(
        (first, second),
        ("app.n=2", "app.on=true,app.off=false", r"dotted\.key=x", "keep=null", "app.s=01"),
    )
    assert merged == {
        "app": {"tag": "b", "n": 2, "list": [3], "on": True, "off": False, "s": "01"},
        "dotted.key": "x",
    }


def test_nothing_given_is_none() -> None:
    assert values_from_options((), ()) is None


@pytest.mark.parametrize("pair", ["novalue", "=x", "a..b=1"])
def test_bad_set_is_refused(pair: str) -> None:
    with pytest.raises(Refusal, match=r"key\.path=value"):
        values_from_options((), (pair,))


def test_strict_yaml_rules_name_the_file(tmp_path: Path) -> None:
    repeated = tmp_path / "r.yaml"
    repeated.write_text("a: 1\na: 2\n")
    with pytest.raises(Refusal, match=r"r\.yaml.*a is given twice"):
        values_from_options((repeated,), ())
    with pytest.raises(Refusal, match="no such file"):
        values_from_options((tmp_path / "missing.yaml",), ())
