"""The shapes of the names and ids the API addresses things by.

One definition per shape: URL converters, schema field types, channel files and the feed all
ask these functions, so a malformed id is refused at the edge, never looked up.
"""

from __future__ import annotations

import re
from typing import Any

from deployserver.specs.text import UUID_RE, is_uuid

CHANNEL_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Release and license ids are UUIDs as the server writes them: lower-case, hyphenated
# (UUID_RE and is_uuid live with the other text rules).
# A kid is an RFC 7638 thumbprint (base64url, 43 characters); the column holds 64.
KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = ["CHANNEL_NAME_RE", "KID_RE", "UUID_RE", "is_channel_name", "is_kid", "is_uuid"]


def is_channel_name(text: Any) -> bool:
    return isinstance(text, str) and CHANNEL_NAME_RE.fullmatch(text) is not None


def is_kid(text: Any) -> bool:
    return isinstance(text, str) and KID_RE.fullmatch(text) is not None
