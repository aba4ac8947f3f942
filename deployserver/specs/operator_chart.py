"""A custom resource's chart as the operator reads it (its ``charts.Get``), for render.

The operator decodes the CR's ``spec.chart`` with Go's ``encoding/json`` into a local, an
OCI and a repo chart struct in turn and takes the first that decodes and validates. That is
looser than what the server publishes (``specs.charts``): field names match
case-insensitively, unknown fields are ignored, ``null`` leaves a field unset, and a repo
chart may use any URL scheme. A wrong type in a field it knows makes that shape fail.
"""

from __future__ import annotations

from typing import Any

from deployserver.specs.gourl import parses_with_host
from deployserver.specs.oci import OCI_PREFIX, operator_reads_reference

_STRING, _BOOL, _SECRET = "string", "bool", "credentialSecret"
_SECRET_FIELDS = {"name": _STRING, "usernameKey": _STRING, "passwordKey": _STRING}
_COMMON = {"credentialSecret": _SECRET, "password": _STRING, "username": _STRING, "debug": _BOOL}
# The operator's structs (its json tags); the local chart knows nothing but its path.
SHAPE_FIELDS: dict[str, dict[str, str]] = {
    "local": {"path": _STRING},
    "oci": {"url": _STRING, "version": _STRING, "plainHTTP": _BOOL, **_COMMON},
    "repo": {"url": _STRING, "name": _STRING, "version": _STRING, "repoName": _STRING, **_COMMON},
}
# Non-ASCII runes that Go's field-name folding (upper of lower, rune by rune) turns into
# ASCII letters: KELVIN SIGN, LATIN SMALL LONG S, and the two Turkish i's.
_GO_FOLDS_TO_ASCII = {"\u212a": "K", "\u017f": "S", "\u0130": "I", "\u0131": "I"}


def _go_fold(key: str) -> str | None:
    """``key`` folded as Go matches JSON keys to fields; None when it cannot fold to ASCII."""
    folded = []
    for char in key:
        if char.isascii():
            folded.append(char.upper())
        elif char in _GO_FOLDS_TO_ASCII:
            folded.append(_GO_FOLDS_TO_ASCII[char])
        else:
            return None
    return "".join(folded)


def _decode(data: Any, fields: dict[str, str]) -> dict[str, Any] | None:
    """``data`` decoded into a struct with ``fields``: the fields set, or None on a type error."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        return None
    by_fold = {name.upper(): name for name in fields}
    decoded: dict[str, Any] = {}
    # The operator re-encodes the CR's map first, which sorts its keys; the last match wins.
    for key in sorted(data):
        name = by_fold.get(_go_fold(key) or "")
        if name is None:
            continue
        value, kind = data[key], fields[name]
        if value is None:
            if kind == _SECRET:  # null sets a pointer to nil; other fields keep their value
                decoded.pop(name, None)
            continue
        if kind == _STRING and not isinstance(value, str):
            return None
        if kind == _BOOL and not isinstance(value, bool):
            return None
        if kind == _SECRET:
            secret = _decode(value, _SECRET_FIELDS)
            if secret is None:
                return None
            value = {**decoded.get(name, {}), **secret}  # decoding into the same struct
        decoded[name] = value
    return decoded


def _valid(shape: str, chart: dict[str, Any]) -> bool:
    """The operator's validator tags for each shape."""
    url = chart.get("url", "")
    if shape == "local":
        return bool(chart.get("path"))
    if shape == "oci":
        if not url.startswith(OCI_PREFIX):
            return False
        return bool(chart.get("version")) or operator_reads_reference(url)
    return (
        bool(url)
        and bool(chart.get("name"))
        and parses_with_host(url)
        and (not url.startswith(OCI_PREFIX))
    )


def read_chart_as_operator(data: Any) -> tuple[str, dict[str, Any]] | None:
    """The shape and fields the operator takes from a CR chart, or None when it drops it.

    The fields are those it read, under its own names, unset ones (and unknown ones) left out.
    """
    for shape, fields in SHAPE_FIELDS.items():
        decoded = _decode(data, fields)
        if decoded is not None and _valid(shape, decoded):
            return shape, decoded
    return None
