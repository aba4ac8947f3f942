"""Text that every backend and every UTF-8 body can hold.

PostgreSQL refuses NUL in text (a 500 on insert), and a lone surrogate (``"\\ud800"``, which
JSON's ``\\u`` escapes can carry) cannot be encoded as UTF-8 at all, so no digest, column or
response could hold it. Both are refused where input is validated, naming the field.
"""

from __future__ import annotations

import re

from deployserver.errors import Invalid

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The server's own ids (releases, licenses, tokens): lower-case uuid4 strings.
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_uuid(text: object) -> bool:
    """True when ``text`` has the shape of an id this server issues (whether or not in use)."""
    return isinstance(text, str) and UUID_RE.fullmatch(text) is not None


def unstorable(text: str) -> str | None:
    """What in ``text`` no backend can store (described for a message), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "NUL (\\u0000)"
    return f"a lone surrogate (\\u{ord(found.group()):04x})"


def validate_text(text: str, field: str) -> str:
    """``text`` when every backend can store it; else 422 naming ``field``."""
    problem = unstorable(text)
    if problem is not None:
        raise Invalid.field(field, f"must not contain {problem}")
    return text
