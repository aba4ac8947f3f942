"""Values, YAML, metadata and versions as the operator can consume them."""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.errors import Invalid
from deployserver.specs.values import (
    is_semver,
    parse_values_yaml,
    validate_metadata,
    validate_values,
)


@pytest.mark.parametrize(
    "version",
    ["0.0.0", "0.83.1", "1.2.3-rc.1", "1.2.3-alpha.beta-1", "1.0.0+build.7", "10.20.30-0a"],
)
def test_semver_accepts(version: str) -> None:
    assert is_semver(version)


@pytest.mark.parametrize(
    "version",
    [
        "1.2",
        "v1.2.3",
        "01.2.3",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3 ",
        "1.2.3\n",
        123,
        None,
        # Digits of other scripts (ARABIC-INDIC ONE, FULLWIDTH ONE) are not SemVer digits.
        "1\u0661.0.0",
        "1.0.\uff11",
        "1.0.0-rc.1\u0661",
    ],
)
def test_semver_refuses(version: Any) -> None:
    assert not is_semver(version)


def errors_of(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(Invalid) as caught:
        call(*args)
    assert caught.value.status == 422
    return caught.value.errors or {}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ([], "values"),
        ("x", "values"),
        ({"a": None}, "values.a"),
        ({"a": {"b": [1, None]}}, "values.a.b[1]"),
        ({"a.b": {"c": None}}, 'values["a.b"].c'),
        ({"a": float("nan")}, "values.a"),
        ({"a": [float("inf")]}, "values.a[0]"),
        ({"reconcileFrequency": "ten minutes"}, "values.reconcileFrequency"),
        ({"reconcileFrequency": 600}, "values.reconcileFrequency"),
    ],
)
def test_invalid_values_name_the_path(values: Any, field: str) -> None:
    assert list(errors_of(validate_values, values)) == [field]


def test_valid_values_pass_unchanged() -> None:
    values = {"reconcileFrequency": "10m", "a": {"b": [1, 2.5, True, "s"]}, "nested": {}}
    assert validate_values(values) == values


BIG = 10**310  # "1" and 310 zeros: beyond float64, so Go cannot decode it
LARGEST = int(1.7976931348623157e308)  # the largest float64, as an integer


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"n": BIG}, "values.n"),
        ({"n": -BIG}, "values.n"),
        ({"a": {"b": [1, BIG]}}, "values.a.b[1]"),
        ({"n": LARGEST + 1}, "values.n"),
    ],
)
def test_integers_beyond_float64_are_refused(values: Any, field: str) -> None:
    errors = errors_of(validate_values, values)
    assert list(errors) == [field]
    assert "float64" in errors[field][0]


def test_integers_within_float64_pass() -> None:
    values = {"largest": LARGEST, "smallest": -LARGEST, "above_2_53": 2**53 + 1}
    assert validate_values(values) == values


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("1m", True),
        ("1h30m", True),
        ("24h", True),
        ("1ms", False),
        ("0s", False),
        ("-5m", False),
        ("25h", False),
    ],
)
def test_reconcile_frequency_within_1m_and_24h(value: str, accepted: bool) -> None:
    values = {"reconcileFrequency": value}
    if accepted:
        assert validate_values(values) == values
        return
    errors = errors_of(validate_values, values)
    assert list(errors) == ["values.reconcileFrequency"]
    assert "between 1m and 24h" in errors["values.reconcileFrequency"][0]


def test_reconcile_frequency_only_checked_at_top_level() -> None:
    assert validate_values({"app": {"reconcileFrequency": 5}})


def test_yaml_plain_data() -> None:
    text = "global:\n  region: us-east-1\n  hosts: [a, b]\nreconcileFrequency: 1h30m\nn: 1.5\n"
    assert parse_values_yaml(text) == {
        "global": {"region": "us-east-1", "hosts": ["a", "b"]},
        "reconcileFrequency": "1h30m",
        "n": 1.5,
    }
    assert parse_values_yaml("") == {}
    assert parse_values_yaml("a: !!str 1\nb: '2024-01-01'") == {"a": "1", "b": "2024-01-01"}


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("a: [1, 2\n", "valuesYaml", "line 2, column 1"),
        ("a: b: c", "valuesYaml", "line 1, column 5"),
        ("a: 2024-01-01", "valuesYaml", "date"),
        ("a:\n  b: 2024-01-01T10:00:00Z", "valuesYaml", "line 2, column 6"),
        ("a: !!binary aGk=", "valuesYaml", "binary"),
        ("a: !!set {x}", "valuesYaml", "set"),
        ("a: !!python/object:os.system x", "valuesYaml", "python/object"),
        ("a: !custom x", "valuesYaml", "!custom"),
        ("1: x", "valuesYaml", "not a string"),
        ("a:\n  true: x", "valuesYaml.a", "not a string"),
        ("a: ~", "valuesYaml.a", "null"),
        ("a:\n  - null", "valuesYaml.a[0]", "null"),
        ("a: .nan", "valuesYaml.a", "NaN"),
        ("a: -.inf", "valuesYaml.a", "NaN"),
        ("- a\n- b", "valuesYaml", "mapping"),
        ("just a string", "valuesYaml", "mapping"),
        ("reconcileFrequency: 10", "valuesYaml.reconcileFrequency", "Go duration"),
        ("reconcileFrequency: 1ms", "valuesYaml.reconcileFrequency", "between 1m and 24h"),
        ("n: 1" + "0" * 310, "valuesYaml.n", "float64"),
        ("n: -1" + "0" * 310, "valuesYaml.n", "float64"),
        ("n: 0x1" + "0" * 300, "valuesYaml.n", "float64"),
        ("n: 1.0e+400", "valuesYaml.n", "float64"),
    ],
)
def test_yaml_refusals(text: str, field: str, fragment: str) -> None:
    errors = errors_of(parse_values_yaml, text)
    assert list(errors) == [field]
    assert fragment in errors[field][0]


def test_yaml_alias_bomb_is_refused() -> None:
    # 10 * 4**14 nodes from a few hundred bytes: refused instead of expanded.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 15)]
    errors = errors_of(parse_values_yaml, "\n".join(lines))
    assert "holds more than" in errors["valuesYaml"][0]


def test_metadata() -> None:
    assert validate_metadata({"gitSha": "abc", "notes": ""}) == {"gitSha": "abc", "notes": ""}
    assert validate_metadata(None) == {}
    assert list(errors_of(validate_metadata, {"n": 1})) == ["metadata.n"]
    assert list(errors_of(validate_metadata, {"b": True})) == ["metadata.b"]
    assert list(errors_of(validate_metadata, {"o": {"x": "y"}})) == ["metadata.o"]
    assert list(errors_of(validate_metadata, {"z": None})) == ["metadata.z"]
    assert list(errors_of(validate_metadata, ["x"])) == ["metadata"]
    for key in ("channel", "version", "releaseId", "publishedAt"):
        assert list(errors_of(validate_metadata, {key: "x"})) == [f"metadata.{key}"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{a: 1, a: 2}", "line 1, column 8: a is given twice"),
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "line 4, column 3: c is given twice"),
        ("l:\n  - {x: 1, x: 1}\n", "line 2, column 12: x is given twice"),
    ],
)
def test_yaml_keys_given_twice_are_refused_with_line_and_column(text: str, where: str) -> None:
    # YAML keeps the last of two equal keys silently.
    with pytest.raises(Invalid) as refused:
        parse_values_yaml(text)
    assert refused.value.errors == {"valuesYaml": [where]}
