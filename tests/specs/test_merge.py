"""The operator's merge rules: maps merge, lists concatenate, first wins, clashes refuse."""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.specs.merge import MergeConflict, kind_of, merge_values


def test_maps_merge_key_by_key_first_wins() -> None:
    first = {"global": {"region": "eu", "size": 3}, "app": {"replicas": 2}}
    second = {"global": {"region": "us", "zone": "a"}, "db": {"host": "x"}}
    assert merge_values(first, second) == {
        "global": {"region": "eu", "size": 3, "zone": "a"},
        "app": {"replicas": 2},
        "db": {"host": "x"},
    }


def test_lists_concatenate_first_items_first() -> None:
    merged = merge_values({"hosts": ["a", "b"]}, {"hosts": ["c", "a"]})
    assert merged == {"hosts": ["a", "b", "c", "a"]}


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [("x", "y", "x"), (1, 2.5, 1), (2.5, 1, 2.5), (False, True, False), (0, 7, 0)],
)
def test_scalars_of_one_kind_keep_first(first: Any, second: Any, expected: Any) -> None:
    assert merge_values({"k": first}, {"k": second}) == {"k": expected}


def test_int_and_float_are_one_kind() -> None:
    assert kind_of(1) == kind_of(1.5) == "number"
    assert kind_of(True) == "bool"


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [
        ({"a": {"b": 1}}, {"a": "text"}, "a"),
        ({"a": [1]}, {"a": {"x": 1}}, "a"),
        ({"a": "true"}, {"a": True}, "a"),
        ({"a": 1}, {"a": "1"}, "a"),
        ({"a": True}, {"a": 1}, "a"),
        ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": []}}}, "a.b.c"),
        ({"a": {"b.c": {"d": 1}}}, {"a": {"b.c": {"d": "x"}}}, 'a["b.c"].d'),
        ({"x.y": 1}, {"x.y": "s"}, '["x.y"]'),
    ],
)
def test_kind_clash_names_the_path(first: Any, second: Any, path: str) -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values(first, second)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("first", "second"),
    [({"a": None}, {"a": 1}), ({"a": 1}, {"a": None}), ({"a": None}, {"a": None})],
)
def test_null_in_a_collision_is_a_conflict(first: Any, second: Any) -> None:
    with pytest.raises(MergeConflict) as caught:
        merge_values(first, second)
    assert caught.value.path == "a"
    assert "null" in caught.value.message


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


def test_four_layers_fold_in_order() -> None:
    # A later issue folds CR > user input > release > defaults with the same function.
    layers = [{"l": ["cr"]}, {"l": ["user"], "u": 1}, {"l": ["release"]}, {"d": True}]
    merged = layers[-1]
    for layer in reversed(layers[:-1]):
        merged = merge_values(layer, merged)
    assert merged == {"l": ["cr", "user", "release"], "u": 1, "d": True}
