"""Channel files: every refusal names the file and the line; the shipped folder is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployserver.channelfiles import Entry, HeadMove, load_folder, plan_order
from deployserver.errors import Invalid
from tests.channel_folders import CHART, channel_file, promote_entry, publish_entry, write_folder

ROOT = Path(__file__).resolve().parent.parent


def refusal(folder: Path, files: dict[str, str]) -> str:
    write_folder(folder, files)
    with pytest.raises(Invalid) as refused:
        load_folder(folder)
    return str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: stable\nreleases: [\n", "stable.yaml: line 3, column 1: "),
        ("name: stable\n  bad: indent\n", "stable.yaml: line 2, column 6: "),
        (
            "name: stable\nreleases:\n  - {version: '1.0.0', chart: {path: /c}, values: {a: b}\n",
            "stable.yaml: line 4, column 1: ",
        ),
        ("name: stable\nvalues: {since: 2026-01-01}\n", "line 2, column 17: a date"),
    ],
)
def test_yaml_errors_name_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refusal(tmp_path, {"stable.yaml": text})


def test_values_file_with_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "1.0.0.yaml").write_text("app:\n  tag: a\n  tag: b\n")
    entry = f'  - version: "1.0.0"\n    chart: {CHART}\n    valuesFile: values/1.0.0.yaml\n'
    message = refusal(tmp_path, {"stable.yaml": channel_file("stable", entry)})
    assert (
        "stable.yaml:3: releases[0] (publish 1.0.0): valuesFile values/1.0.0.yaml: "
        "line 3, column 3: tag is given twice"
    ) in message


@pytest.mark.parametrize(
    "given", ["../outside.yaml", "values/../../outside.yaml", "values/link.yaml"]
)
def test_values_file_outside_the_folder_is_refused(tmp_path: Path, given: str) -> None:
    (tmp_path / "outside.yaml").write_text("secret: from-elsewhere\n")
    folder = tmp_path / "channels"
    entry = f'  - version: "1.0.0"\n    chart: {CHART}\n    valuesFile: {given}\n'
    write_folder(folder, {"stable.yaml": channel_file("stable", entry)})
    (folder / "values").mkdir()
    (folder / "values" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(Invalid) as refused:
        load_folder(folder)
    assert str(refused.value).startswith(
        f"{folder / 'stable.yaml'}:3: releases[0] (publish 1.0.0): valuesFile: {given} is "
        "outside the channels folder"
    )


def test_values_file_errors_name_the_values_file(tmp_path: Path) -> None:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "1.0.0.yaml").write_text("app:\n  tag: [1\n")
    entry = f'  - version: "1.0.0"\n    chart: {CHART}\n    valuesFile: values/1.0.0.yaml\n'
    message = refusal(tmp_path, {"stable.yaml": channel_file("stable", entry)})
    assert "stable.yaml:3: releases[0] (publish 1.0.0): valuesFile values/1.0.0.yaml: line 3" in (
        message
    )
    missing = entry.replace("1.0.0.yaml", "nope.yaml")
    message = refusal(tmp_path, {"stable.yaml": channel_file("stable", missing)})
    assert "valuesFile values/nope.yaml: no such file" in message


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"stable.yaml": "name: stable\nreleses: []\n"}, "stable.yaml:2: releses: is not a field"),
        ({"stable.yaml": "releases: []\n"}, "stable.yaml: name: is required"),
        ({"Stable.yaml": "name: Stable\n"}, "Stable.yaml: name: must be 1 to 63"),
        (
            {"stable.yaml": "name: stable\nreleases:\n  - version: 1.10\n    chart: {path: /c}\n"},
            "stable.yaml:3: releases[0]: version: 1.1 must be a quoted string",
        ),
        (
            {"stable.yaml": channel_file("stable", publish_entry("1.0"))},
            "stable.yaml:3: releases[0] (publish 1.0): version: must be a SemVer",
        ),
        (
            {"stable.yaml": channel_file("stable", '  - promote: "1.0.0"\n    notes: x\n')},
            "stable.yaml:3: releases[0]: a promote takes no other fields (notes)",
        ),
        (
            {"stable.yaml": channel_file("stable", publish_entry("1.0.0"), publish_entry("1.0.0"))},
            "stable.yaml:6: releases[1] (publish 1.0.0): 1.0.0 is already listed at releases[0]",
        ),
        (
            {"stable.yaml": channel_file("stable", publish_entry("1.0.0", tag="x"))},
            "stable.yaml:3: releases[0]: tag: is not a field of a release",
        ),
        (
            {"stable.yaml": channel_file("stable", publish_entry("1.0.0", chart="x"))},
            "stable.yaml: line 6, column 5: chart is given twice",
        ),
        (
            {"stable.yaml": "name: stable\nreleases:\n  - version: '1.0.0'\n    chart: {}\n"},
            "stable.yaml:3: releases[0] (publish 1.0.0): chart: must be a local chart",
        ),
        ({"stable.yaml": "name: stable\nhead: 1.0\n"}, "stable.yaml:2: head: must be a quoted"),
        ({"notes.txt": "x"}, "holds no channel files"),
    ],
)
def test_file_refusals_name_file_and_line(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert expected in refusal(tmp_path, files)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="not a folder of channel files"):
        load_folder(tmp_path / "nope")


def test_plan_order_is_stable_and_puts_promotes_after_publishes(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        {
            "a.yaml": channel_file("a", promote_entry("2.0.0"), promote_entry("1.0.0")),
            "b.yaml": channel_file("b", publish_entry("1.0.0")),
            "c.yaml": channel_file("c", publish_entry("2.0.0"), head="2.0.0"),
        },
    )
    steps = plan_order(load_folder(folder))
    described = [
        f"{step.channel} {step.kind if isinstance(step, Entry) else 'head'} {step.version}"
        for step in steps
    ]
    assert described == [
        "b publish 1.0.0",
        "b head 1.0.0",
        "c publish 2.0.0",
        "a promote 2.0.0",
        "a promote 1.0.0",
        "a head 1.0.0",
        "c head 2.0.0",
    ]
    assert all(isinstance(step, Entry | HeadMove) for step in steps)


def test_shipped_channels_folder_is_valid() -> None:
    files = load_folder(ROOT / "channels")
    assert [f.name for f in files] == ["beta", "stable"]
    stable = files[1]
    assert stable.head is not None and stable.head.version == "0.84.0"
    published = {e.version: e for f in files for e in f.entries if e.spec is not None}
    # stable promotes what beta publishes; every chart is the W&B operator chart.
    assert [e.version for e in stable.entries if e.spec is None] == ["0.84.0"]
    assert "0.84.0" in published
    for entry in published.values():
        assert entry.spec is not None
        assert entry.spec.chart["url"] == "https://charts.wandb.ai"
        assert entry.spec.chart["name"] == "operator-wandb"
        assert entry.spec.values["app"]["image"]["tag"] == entry.version


def test_alias_bomb_in_a_channel_file_is_refused_quickly(tmp_path: Path) -> None:
    # The repeated-key walk followed every alias (4**20 paths) before it checked each node once.
    lines = ["name: stable", "values:", "  a0: &a0 [x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 21)]
    assert "holds more than" in refusal(tmp_path, {"stable.yaml": "\n".join(lines) + "\n"})
