"""The operator's merge rules (operator-client.md) as a table: each row one rule or failure.

Rules: maps merge deeply key by key, the earlier layer winning; lists concatenate, the
earlier layer's items first; scalars keep the earlier layer's value; chart and metadata come
whole from the first layer that has one. Failures: the same key holding two kinds, and a
null on either side of a collision, each named by its dotted path.
"""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.specs.merge import (
    LayerConflict,
    MergeConflict,
    kind_of,
    merge_specs,
    merge_values,
)

# (rule, earlier layer, later layer, merged)
MERGES: list[tuple[str, Any, Any, Any]] = [
    ("maps: disjoint keys are united", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("maps: earlier wins a shared key", {"a": 1}, {"a": 2}, {"a": 1}),
    (
        "maps: merged deeply, at every level",
        {"g": {"r": "eu", "deep": {"x": 1}}},
        {"g": {"r": "us", "z": "a", "deep": {"y": 2}}},
        {"g": {"r": "eu", "z": "a", "deep": {"x": 1, "y": 2}}},
    ),
    (
        "maps: an empty earlier map takes the later keys",
        {"a": {}},
        {"a": {"k": 1}},
        {"a": {"k": 1}},
    ),
    ("maps: an empty later map keeps the earlier", {"a": {"k": 1}}, {"a": {}}, {"a": {"k": 1}}),
    ("maps: keys with dots are plain keys", {"a.b": 1}, {"a": {"b": 2}}, {"a.b": 1, "a": {"b": 2}}),
    (
        "lists: concatenated, earlier items first",
        {"l": ["a", "b"]},
        {"l": ["c"]},
        {"l": ["a", "b", "c"]},
    ),
    ("lists: duplicates are kept", {"l": ["a"]}, {"l": ["a"]}, {"l": ["a", "a"]}),
    ("lists: empty earlier list", {"l": []}, {"l": [1]}, {"l": [1]}),
    ("lists: empty later list", {"l": [1]}, {"l": []}, {"l": [1]}),
    (
        "lists: items are not merged, maps inside are appended whole",
        {"l": [{"name": "A", "v": 1}]},
        {"l": [{"name": "A", "v": 2}]},
        {"l": [{"name": "A", "v": 1}, {"name": "A", "v": 2}]},
    ),
    (
        "lists: of mixed kinds concatenate",
        {"l": [1, "x"]},
        {"l": [True, {"k": 1}]},
        {"l": [1, "x", True, {"k": 1}]},
    ),
    ("scalars: string, earlier wins", {"s": "x"}, {"s": "y"}, {"s": "x"}),
    ("scalars: empty string still wins", {"s": ""}, {"s": "y"}, {"s": ""}),
    ("scalars: number, earlier wins", {"n": 1}, {"n": 2.5}, {"n": 1}),
    ("scalars: zero still wins", {"n": 0}, {"n": 7}, {"n": 0}),
    ("scalars: float and int are one kind", {"n": 2.5}, {"n": 1}, {"n": 2.5}),
    ("scalars: bool, earlier wins", {"b": False}, {"b": True}, {"b": False}),
]

# (failure, earlier layer, later layer, dotted path)
CONFLICTS: list[tuple[str, Any, Any, str]] = [
    ("map against string", {"a": {"b": 1}}, {"a": "text"}, "a"),
    ("string against map", {"a": "text"}, {"a": {"b": 1}}, "a"),
    ("map against list", {"a": {"b": 1}}, {"a": [1]}, "a"),
    ("list against map", {"a": [1]}, {"a": {"x": 1}}, "a"),
    ("list against string", {"a": [1]}, {"a": "1"}, "a"),
    ("map against number", {"a": {}}, {"a": 0}, "a"),
    ("map against bool", {"a": {}}, {"a": False}, "a"),
    ("string against bool", {"a": "true"}, {"a": True}, "a"),
    ("bool against string", {"a": False}, {"a": "false"}, "a"),
    ("number against string", {"a": 1}, {"a": "1"}, "a"),
    ("string against number", {"a": "1"}, {"a": 1}, "a"),
    ("bool against number (bool is no int here)", {"a": True}, {"a": 1}, "a"),
    ("number against bool", {"a": 0}, {"a": False}, "a"),
    ("deep clash names the whole path", {"a": {"b": {"c": 1}}}, {"a": {"b": {"c": []}}}, "a.b.c"),
    (
        "a key with a dot is bracketed",
        {"a": {"b.c": {"d": 1}}},
        {"a": {"b.c": {"d": "x"}}},
        'a["b.c"].d',
    ),
    ("a top-level key with a dot", {"x.y": 1}, {"x.y": "s"}, '["x.y"]'),
    ("null on the earlier side", {"a": {"n": None}}, {"a": {"n": 1}}, "a.n"),
    ("null on the later side", {"a": {"n": "x"}}, {"a": {"n": None}}, "a.n"),
    ("null on both sides", {"a": None}, {"a": None}, "a"),
    ("null against a map", {"a": None}, {"a": {"k": 1}}, "a"),
    ("null against a list", {"a": []}, {"a": None}, "a"),
]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [pytest.param(f, s, e, id=rule) for rule, f, s, e in MERGES],
)
def test_merge_rule(first: Any, second: Any, expected: Any) -> None:
    merged = merge_values(first, second)
    assert merged == expected
    # Equality alone would let True pass for 1: the kinds must match too.
    assert {k: kind_of(v) for k, v in merged.items()} == {
        k: kind_of(v) for k, v in expected.items()
    }


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [pytest.param(f, s, p, id=failure) for failure, f, s, p in CONFLICTS],
)
def test_merge_failure_names_the_path(first: Any, second: Any, path: str) -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values(first, second)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


def test_null_conflict_says_null() -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values({"a": 1}, {"a": None})
    assert "null" in caught.value.message


def test_kind_clash_names_both_kinds() -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values({"a": "x"}, {"a": True})
    assert "string" in caught.value.message and "bool" in caught.value.message


def test_a_null_nobody_collides_with_is_carried_by_merge_values() -> None:
    # The operator only fails on a collision; refusing a lone null is render's decision.
    assert merge_values({"a": None}, {"b": 1}) == {"a": None, "b": 1}


def test_path_prefix_is_kept() -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values({"a": 1}, {"a": "x"}, path="values")
    assert caught.value.path == "values.a"


def test_inputs_are_not_modified_or_shared() -> None:
    first = {"a": {"l": [1]}, "only_first": {"m": 1}}
    second = {"a": {"l": [2]}, "only_second": {"n": [3]}}
    merged = merge_values(first, second)
    merged["a"]["l"].append(9)
    merged["only_first"]["m"] = 5
    merged["only_second"]["n"].append(4)
    assert first == {"a": {"l": [1]}, "only_first": {"m": 1}}
    assert second == {"a": {"l": [2]}, "only_second": {"n": [3]}}


# merge_specs: the spec-level fold over {chart?, metadata?, values?} layers.

CHART_A = {"path": "/charts/a"}
CHART_B = {"url": "https://charts.example", "name": "b", "version": "1.0.0"}


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        pytest.param(
            [{"chart": CHART_A}, {"chart": CHART_B}],
            {"chart": CHART_A, "metadata": None, "values": None},
            id="chart whole from the first layer",
        ),
        pytest.param(
            [{"values": {}}, {"chart": CHART_B}, {"chart": CHART_A}],
            {"chart": CHART_B, "metadata": None, "values": {}},
            id="chart from the first layer that has one",
        ),
        pytest.param(
            [{"chart": {"path": "/x", "debug": True}}, {"chart": {"path": "/y", "extra": 1}}],
            {"chart": {"path": "/x", "debug": True}, "metadata": None, "values": None},
            id="chart fields are never merged",
        ),
        pytest.param(
            [{"metadata": None}, {"metadata": {"a": "1"}}, {"metadata": {"a": "2", "b": "3"}}],
            {"chart": None, "metadata": {"a": "1"}, "values": None},
            id="metadata whole from the first layer that has one, never merged",
        ),
        pytest.param(
            [{"values": {"l": [1]}}, {}, {"values": {"l": [2]}}, {"values": {"l": [3], "d": 1}}],
            {"chart": None, "metadata": None, "values": {"l": [1, 2, 3], "d": 1}},
            id="values fold in layer order, lists concatenated earlier first",
        ),
        pytest.param(
            [{"values": None}, {"values": {"s": "later"}}],
            {"chart": None, "metadata": None, "values": {"s": "later"}},
            id="a layer without values takes no part",
        ),
    ],
)
def test_merge_specs(layers: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert merge_specs(*layers) == expected


def test_merge_specs_four_layers_in_operator_order() -> None:
    cr = {"chart": CHART_A, "values": {"l": ["cr"], "s": "cr"}}
    user = {"values": {"l": ["user"], "s": "user", "u": 1}}
    release = {"chart": CHART_B, "metadata": {"version": "1"}, "values": {"l": ["rel"], "s": "r"}}
    defaults = {"values": {"global": {"operator": {"namespace": "wandb"}}, "s": "default"}}
    assert merge_specs(cr, user, release, defaults) == {
        "chart": CHART_A,
        "metadata": {"version": "1"},
        "values": {
            "l": ["cr", "user", "rel"],
            "s": "cr",
            "u": 1,
            "global": {"operator": {"namespace": "wandb"}},
        },
    }


def test_merge_specs_conflict_names_path_and_layer() -> None:
    layers = [{"values": {"a": {"b": 1}}}, {"values": {"c": 1}}, {"values": {"a": {"b": "x"}}}]
    with pytest.raises(LayerConflict) as caught:
        merge_specs(*layers)
    assert caught.value.path == "a.b"
    assert caught.value.layer == 2


def test_merge_specs_does_not_share_containers() -> None:
    chart = {"path": "/c"}
    values = {"l": [1]}
    merged = merge_specs({"chart": chart, "values": values})
    merged["chart"]["path"] = "/other"
    merged["values"]["l"].append(2)
    assert chart == {"path": "/c"} and values == {"l": [1]}
