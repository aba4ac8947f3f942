"""Diffs between specs and the values warnings of a head change."""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.specs.diff import (
    KEY_REMOVED,
    KIND_CHANGED,
    Change,
    ValuesWarning,
    spec_changes,
    value_changes,
    values_warnings,
)


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [Change("a", "change", 1, 2)]),
        ({"a": 1}, {"a": True}, [Change("a", "change", 1, True)]),  # 1 == True in Python
        ({"a": 0}, {"a": False}, [Change("a", "change", 0, False)]),
        ({}, {"a": {"b": 1}}, [Change("a", "add", to={"b": 1})]),
        ({"a": {"b": 1}}, {}, [Change("a", "remove", from_={"b": 1})]),
        ({"a": {"b": 1}}, {"a": "s"}, [Change("a", "change", {"b": 1}, "s")]),
        (
            {"l": [1, 2]},
            {"l": [1, 3, 4]},
            [Change("l[1]", "change", 2, 3), Change("l[2]", "add", to=4)],
        ),
        ({"l": [1, 2]}, {"l": [1]}, [Change("l[1]", "remove", from_=2)]),
        ({"l": [{"k": 1}]}, {"l": [{"k": 2}]}, [Change("l[0].k", "change", 1, 2)]),
        ({"a.b": 1}, {"a.b": 2}, [Change('["a.b"]', "change", 1, 2)]),
        (
            {"z": 1, "a": 1, "m": {"y": 1, "b": 1}},
            {"z": 2, "a": 2, "m": {"y": 2, "b": 2}},
            [
                Change("a", "change", 1, 2),
                Change("m.b", "change", 1, 2),
                Change("m.y", "change", 1, 2),
                Change("z", "change", 1, 2),
            ],
        ),
    ],
)
def test_value_changes(old: Any, new: Any, changes: list[Change]) -> None:
    assert value_changes(old, new) == changes


def test_spec_changes_cover_chart_then_values_with_prefixed_paths() -> None:
    old = {"chart": {"url": "https://c", "name": "w", "version": "1"}, "values": {"a": 1}}
    new = {"chart": {"url": "https://c", "name": "w", "version": "2"}, "values": {"b": 1}}
    assert [c.as_json() for c in spec_changes(old, new)] == [
        {"path": "chart.version", "op": "change", "from": "1", "to": "2"},
        {"path": "values.a", "op": "remove", "from": 1},
        {"path": "values.b", "op": "add", "to": 1},
    ]


def test_as_json_keeps_falsy_sides() -> None:
    assert Change("a", "change", False, 0).as_json() == {
        "path": "a",
        "op": "change",
        "from": False,
        "to": 0,
    }


@pytest.mark.parametrize(
    ("old", "new", "warnings"),
    [
        ({"a": 1}, {"a": 2, "b": {"new": 1}}, []),
        ({"a": 1}, {"a": 1.5}, []),
        ({"a": {"b": 1}}, {"a": "x"}, [ValuesWarning(KIND_CHANGED, "a", "map", "string")]),
        ({"a": [1]}, {"a": {"x": 1}}, [ValuesWarning(KIND_CHANGED, "a", "list", "map")]),
        ({"a": "true"}, {"a": True}, [ValuesWarning(KIND_CHANGED, "a", "string", "bool")]),
        ({"a": 1}, {"a": "1"}, [ValuesWarning(KIND_CHANGED, "a", "number", "string")]),
        ({"a": True}, {"a": 1}, [ValuesWarning(KIND_CHANGED, "a", "bool", "number")]),
        (
            {"a": {"b": {"c": 1}}},
            {"a": {"b": {}}},
            [ValuesWarning(KEY_REMOVED, "a.b.c", "number", None)],
        ),
        # A removed map is one warning, not one per key inside it.
        (
            {"a": {"b": {"c": 1, "d": 2}}},
            {"a": {}},
            [ValuesWarning(KEY_REMOVED, "a.b", "map", None)],
        ),
        (
            {"x.y": {"z": 1}},
            {"x.y": {"z": []}},
            [ValuesWarning(KIND_CHANGED, '["x.y"].z', "number", "list")],
        ),
        # List items never meet an override (lists concatenate), so they are not walked.
        ({"l": [{"a": 1}]}, {"l": [{"a": "x"}]}, []),
        (
            {"b": 1, "a": {"k": 1}},
            {"a": "s"},
            [
                ValuesWarning(KIND_CHANGED, "a", "map", "string"),
                ValuesWarning(KEY_REMOVED, "b", "number", None),
            ],
        ),
    ],
)
def test_values_warnings(old: Any, new: Any, warnings: list[ValuesWarning]) -> None:
    assert values_warnings(old, new) == warnings
