"""Paths into values as the API writes them (docs/api.md): dotted keys, ``[i]`` for list items, and
``["a.b"]`` for a key that itself contains a dot (so every path names one place)."""

from __future__ import annotations

import json


def key_path(parent: str, key: str) -> str:
    if "." in key or "[" in key or '"' in key:
        return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{parent}.{key}" if parent else key


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def under(prefix: str, path: str) -> str:
    """``path`` (relative to some value) as seen from ``prefix``: ``under("values", "a[0]")``."""
    if not path:
        return prefix
    if not prefix:
        return path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"
