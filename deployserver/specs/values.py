"""Helm values, release metadata and versions as the operator can consume them.

Values are a JSON object with no null anywhere (the operator's merge crashes on one),
numbers Go can decode (finite, within float64's range), and a ``reconcileFrequency`` that Go's
``time.ParseDuration`` reads as 1m..24h (specs.durations). YAML is read with the safe loader
restricted to plain data.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import yaml

from deployserver.errors import Invalid
from deployserver.specs.durations import reconcile_frequency_problem
from deployserver.specs.paths import index_path, key_path, under
from deployserver.specs.plain import (
    MAX_INTEGER_DIGITS,
    PlainDataError,
    check_plain,
    integer_too_long,
    nested_too_deeply,
)
from deployserver.specs.text import unstorable, validate_text

# semver.org's recommended pattern: SemVer 2.0 exactly (no leading zeros, no "v" prefix).
# Digits are spelled [0-9]: ``\d`` also matches other scripts' digits (U+0661 and friends).
SEMVER_RE = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# releases.version is a 255-character column (SemVer itself sets no limit).
MAX_VERSION = 255
RESERVED_METADATA_KEYS = ("channel", "version", "releaseId", "publishedAt")
RECONCILE_FREQUENCY = "reconcileFrequency"

# The largest finite float64: Go decodes every JSON number into one, and a poll whose body
# holds an integer beyond it fails to decode on every installation of the channel.
MAX_FLOAT64 = sys.float_info.max
_MAX_FLOAT64_INT = int(MAX_FLOAT64)


def is_semver(version: Any) -> bool:
    return isinstance(version, str) and SEMVER_RE.fullmatch(version) is not None


def validate_version(version: Any, field: str = "version") -> str:
    if not is_semver(version):
        raise Invalid.field(field, "must be a SemVer 2.0 version such as 1.2.3 or 1.2.3-rc.1")
    if len(version) > MAX_VERSION:
        raise Invalid.field(field, f"must be at most {MAX_VERSION} characters")
    return str(version)


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key for SemVer 2.0 precedence (build metadata ignored; a pre-release sorts
    before its release; numeric identifiers numerically and below alphanumeric ones)."""
    match = SEMVER_RE.fullmatch(version)
    if match is None:
        raise ValueError(f"{version!r} is not a SemVer 2.0 version")
    major, minor, patch, prerelease, _build = match.groups()
    if prerelease is None:
        tail: tuple[Any, ...] = (1,)
    else:
        tail = (
            0,
            tuple(
                (0, int(part), "") if part.isdigit() else (1, 0, part)
                for part in prerelease.split(".")
            ),
        )
    return (int(major), int(minor), int(patch), *tail)


def validate_values(values: Any, field: str = "values") -> dict[str, Any]:
    """Return ``values`` when the operator can merge and use them; else 422 naming the path.

    Publishing is strict: no null anywhere (whether one crashes the operator's merge depends
    on every installation's own overrides), and a ``reconcileFrequency`` within 1m..24h.
    """
    check_plain_values(values, field, allow_null=False)
    if RECONCILE_FREQUENCY in values:
        problem = reconcile_frequency_problem(values[RECONCILE_FREQUENCY])
        if problem is not None:
            raise Invalid.field(under(field, RECONCILE_FREQUENCY), problem)
    return values


def check_plain_values(values: Any, field: str, allow_null: bool) -> dict[str, Any]:
    """``values`` when they are an object of plain data Go can decode; else 422 naming the path.

    Plain data: string keys, storable text, finite numbers within float64's range, and
    (unless ``allow_null``) no null. Render checks what installations bring with this alone.
    """
    if not isinstance(values, dict):
        raise Invalid.field(field, "must be an object")
    _check_value(values, "", field, allow_null)
    return values


def check_bounds(value: Any, field: str) -> None:
    """422 naming the path where ``value`` breaks a bound of :mod:`deployserver.specs.plain`."""
    try:
        check_plain(value)
    except PlainDataError as exc:
        raise Invalid.field(under(field, exc.path), exc.message) from None


def _check_value(value: Any, path: str, field: str, allow_null: bool) -> None:
    # Bounded first (depth, size, text), so this walk and every later one is too.
    check_bounds(value, field)
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if item is None:
            if allow_null:
                continue
            raise Invalid.field(under(field, where), "null is not allowed in values")
        if isinstance(item, str):
            continue
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > _MAX_FLOAT64_INT:
                raise Invalid.field(
                    under(field, where),
                    f"is beyond the range of a float64 (±{MAX_FLOAT64!r}), the operator "
                    "cannot decode it",
                )
            continue
        if isinstance(item, float):
            if math.isnan(item) or math.isinf(item):
                raise Invalid.field(
                    under(field, where),
                    "NaN and infinities are not allowed (nor a number beyond float64's range)",
                )
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise Invalid.field(
                        under(field, where), f"key {key!r} is not a string (quote it)"
                    )
                stack.append((child, key_path(where, key)))
            continue
        if isinstance(item, list):
            stack.extend((child, index_path(where, i)) for i, child in enumerate(item))
            continue
        raise Invalid.field(under(field, where), f"{type(item).__name__} is not plain data")


def validate_metadata(metadata: Any, field: str = "metadata") -> dict[str, str]:
    """String-to-string metadata without the keys the server sets itself."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise Invalid.field(field, "must be an object of strings")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise Invalid.field(field, "keys must be non-empty strings")
        problem = unstorable(key)
        if problem is not None:
            raise Invalid.field(field, f"key {key!r} must not contain {problem}")
        if key in RESERVED_METADATA_KEYS:
            raise Invalid.field(
                key_path(field, key), "is reserved: the server sets it when serving"
            )
        if not isinstance(value, str):
            raise Invalid.field(
                key_path(field, key), "must be a string (the operator reads strings only)"
            )
        validate_text(value, key_path(field, key))
    return metadata


class PlainDataLoader(yaml.SafeLoader):
    """The safe loader without the types beyond JSON's: no timestamps, sets, binary, omap."""


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    what = "a date or timestamp" if node.tag.endswith(":timestamp") else f"the tag {node.tag}"
    raise yaml.constructor.ConstructorError(
        None, None, f"{what} is not plain data (quote it)", node.start_mark
    )


def _bounded_int(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # PyYAML converts with int(), which raises a bare ValueError past 4300 digits.
    digits = sum(character.isdigit() for character in str(node.value))
    if digits > MAX_INTEGER_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, integer_too_long(digits), node.start_mark
        )
    return loader.construct_yaml_int(node)  # type: ignore[arg-type]


PlainDataLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
    PlainDataLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
PlainDataLoader.add_constructor(None, _refuse_tag)


def parse_values_yaml(text: str, field: str = "valuesYaml") -> dict[str, Any]:
    """Parse YAML values with :class:`PlainDataLoader`; errors name line and column."""
    data = load_plain_yaml(text, field)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Invalid.field(field, "must be a YAML mapping")
    return validate_values(data, field)


def load_plain_yaml(text: str, field: str) -> Any:
    """Any YAML (or JSON) document as plain data, unvalidated; errors name line and column."""
    try:
        data, _ = compose_plain_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise Invalid.field(field, f"{where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise Invalid.field(field, f"is not valid YAML: {exc}") from None
    except RecursionError:
        # PyYAML composes and constructs recursively, one frame per level.
        raise Invalid.field(field, nested_too_deeply()) from None
    return data


def compose_plain_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """A YAML document as plain data and as nodes (nodes carry line numbers).

    Read with :class:`PlainDataLoader` (``yaml.safe_load`` with fewer types); a key given
    twice in one mapping is refused. Raises PyYAML's errors.
    """
    loader = PlainDataLoader(text)
    try:
        node = loader.get_single_node()
        refuse_repeated_keys(node)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def refuse_repeated_keys(root: yaml.Node | None) -> None:
    """YAML keeps the last of two equal keys silently; in reviewed values that is a mistake.

    Each node is checked once: aliases share nodes, and a walk that followed every alias
    would take as long as expanding them (billions of nodes from a small document).
    """
    stack = [root] if root is not None else []
    checked: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in checked:
            continue
        checked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise yaml.MarkedYAMLError(
                            problem=f"{key.value} is given twice", problem_mark=key.start_mark
                        )
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
