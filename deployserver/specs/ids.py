"""The shapes of the names and ids the API addresses things by.

One definition per shape: URL converters, schema field types, channel files and the feed all
ask these functions, so a malformed id is refused at the edge, never looked up.
"""

from __future__ import annotations

import re
from typing import Any

CHANNEL_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Release and license ids are UUIDs as the server writes them: lower-case, hyphenated.
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A kid is an RFC 7638 thumbprint (base64url, 43 characters); the column holds 64.
KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_KID_LENGTH = 64


def is_channel_name(text: Any) -> bool:
    return isinstance(text, str) and CHANNEL_NAME_RE.fullmatch(text) is not None


def is_uuid(text: Any) -> bool:
    return isinstance(text, str) and UUID_RE.fullmatch(text) is not None


def is_release_id(text: Any) -> bool:
    """True when ``text`` has the shape of a release id (whether or not such a release exists)."""
    return is_uuid(text)


def is_kid(text: Any) -> bool:
    return isinstance(text, str) and KID_RE.fullmatch(text) is not None
