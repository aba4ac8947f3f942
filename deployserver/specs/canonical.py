"""Canonical JSON (docs/api.md, conventions) and the digests and ETags derived from it.

Sorted keys, ``,``/``:`` separators, UTF-8, integral numbers written as integers, NaN and
infinities refused. The bytes are computed once when something is written, never per poll.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any


class NotCanonicalizable(ValueError):
    """The value holds something JSON cannot carry exactly (NaN, infinity, a non-string key)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'}: {message}")
        self.path = path
        self.message = message


def normalize(value: Any, path: str = "") -> Any:
    """A copy of ``value`` with integral floats as ints; refuses what JSON cannot hold."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise NotCanonicalizable(path, "NaN and infinities are not allowed")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalizable(path, f"key {key!r} is not a string")
            out[key] = normalize(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list | tuple):
        return [normalize(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise NotCanonicalizable(path, f"{type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> str:
    return json.dumps(
        normalize(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_of(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def etag_for(body: str) -> str:
    """A strong ETag derived from the exact bytes served."""
    return '"' + sha256_hex(body)[:32] + '"'
