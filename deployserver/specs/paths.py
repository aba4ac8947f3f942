"""Paths into values as API.md writes them: dotted keys, ``[i]`` for list items, and
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


def last_key(path: str) -> str | None:
    """The last map key of ``path``, list indexes after it skipped (``a.pw[0]`` -> ``pw``)."""
    while path.endswith("]") and not path.endswith('"]'):
        path = path[: path.rfind("[")]
    if path.endswith('"]'):
        start = path.rfind('["')
        try:
            key = json.loads(path[start + 1 : -1])
        except ValueError:
            return None
        return key if isinstance(key, str) else None
    return path.rsplit(".", 1)[-1] if path else None
