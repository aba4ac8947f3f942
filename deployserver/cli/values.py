"""Release and base values from the command line: ``--values`` files and ``--set`` pairs.

As Helm does: several files merge in order (maps deeply, a later file winning), then each
``--set key.path=value`` applies (``true``/``false`` and integers are typed, ``null`` removes
the key, ``\\.`` and ``\\,`` escape). Files are parsed with the server's own strict YAML rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from deployserver.cli.client import Refusal

VALUES_OPTION = click.option(
    "--values",
    "values_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Helm values (YAML); repeatable, later files win.",
)
SET_OPTION = click.option(
    "--set",
    "set_values",
    multiple=True,
    help="key.path=value over the files (as helm --set); repeatable.",
)
INTEGER_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")


def values_from_options(files: tuple[Path, ...], pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """The merged values, or None when neither option was given."""
    if not files and not pairs:
        return None
    merged: dict[str, Any] = {}
    for path in files:
        merged = merge_values(merged, _read_values(path))
    for group in pairs:
        for pair in _split(group, ","):
            _apply_set(merged, pair)
    return merged


def merge_values(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_values(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Refusal(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Refusal(f"{path}: cannot be read: {exc}") from None
    # The strict rules (repeated keys, dates, tags) live with the server's values rules.
    from deployserver.errors import DeployServerError
    from deployserver.specs.values import parse_values_yaml

    try:
        return parse_values_yaml(text, str(path))
    except DeployServerError as exc:
        raise Refusal(str(exc)) from None


def _split(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` except where a backslash escapes it."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            # Only the separator's escape is consumed here: ``a\.b=x,c=y`` is split on the
            # comma first, and its key on the dot after.
            current += char if char == separator else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current + ("\\" if escaped else ""))
    return parts


def _apply_set(values: dict[str, Any], pair: str) -> None:
    raw_key, sep, raw = pair.partition("=")
    keys = _split(raw_key, ".") if raw_key else []
    if not sep or not keys or any(not key for key in keys):
        raise Refusal(f"--set {pair!r}: expected key.path=value")
    node = values
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if raw == "null":
        node.pop(keys[-1], None)
    elif raw in ("true", "false"):
        node[keys[-1]] = raw == "true"
    elif INTEGER_RE.fullmatch(raw):
        node[keys[-1]] = int(raw)
    else:
        node[keys[-1]] = raw
