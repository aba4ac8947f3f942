"""The field types every request schema is built from: the one place input is bounded.

Each type refuses what no later step can hold, naming the field (422): text no backend can
store or longer than its column, names and ids of the wrong shape, integers out of range,
times outside the calendar once in UTC, and free-form JSON past the bounds of
:mod:`deployserver.specs.plain` (30 levels of nesting, 400-digit integers, storable text).
Services receive only values that passed here, and do not check shapes again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from deployserver.specs import ids
from deployserver.specs.plain import PlainDataError, check_plain
from deployserver.specs.text import unstorable

# The text columns of the schema: names and subjects are 255 characters; free text (notes,
# descriptions) is bounded by the body limit and by this, so no row grows without bound.
NAME_LENGTH = 255
TEXT_LENGTH = 65_535


class StorableText(fields.String):
    """A string every backend can store: no NUL, no lone surrogate, at most ``max_length``."""

    def __init__(
        self, *, max_length: int | None = NAME_LENGTH, min_length: int = 0, **kwargs: Any
    ) -> None:
        # None: bounded by the body limit only (YAML documents).
        if max_length is not None or min_length:
            kwargs.setdefault("validate", validate.Length(min=min_length, max=max_length))
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = unstorable(text)
        if problem is not None:
            raise ValidationError(f"must not contain {problem}")
        return text


class ShapedText(StorableText):
    """Text matching a pattern (channel names, ids); the pattern is in the OpenAPI document."""

    pattern: Any = None
    shape = ""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"pattern": self.pattern.pattern, **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.pattern.fullmatch(text) is None:
            raise ValidationError(f"must be {self.shape}")
        return text


class ChannelName(ShapedText):
    pattern = ids.CHANNEL_NAME_RE
    shape = "a channel name: lower-case letters, digits and inner hyphens, 1-63 characters"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=63, **kwargs)


class ReleaseId(ShapedText):
    pattern = ids.UUID_RE
    shape = "a release id (a lower-case, hyphenated UUID)"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=36, **kwargs)


class BoundedInteger(fields.Integer):
    """A JSON integer (never a string or a float) within ``[minimum, maximum]``."""

    def __init__(self, minimum: int, maximum: int, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Range(min=minimum, max=maximum))
        super().__init__(strict=True, **kwargs)


class QueryInteger(fields.Integer):
    """An integer from a query string within ``[minimum, maximum]`` (digits only, bounded)."""

    def __init__(self, minimum: int, maximum: int, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Range(min=minimum, max=maximum))
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and len(value) > 20:
            raise ValidationError("is not a number in range")
        return super()._deserialize(value, attr, data, **kwargs)


class UtcTime(fields.AwareDateTime):
    """An RFC 3339 time with an offset, converted to UTC here.

    ``naive_is_utc`` reads a time without an offset as UTC (query filters); else it is
    refused. Near the ends of the calendar an offset can carry UTC outside it
    (``0001-01-01T00:00:00+14:00``), where Python's conversion overflows.
    """

    def __init__(self, *, naive_is_utc: bool = False, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=UTC if naive_is_utc else None, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str) and len(value) > 64:
            raise ValidationError("is not an RFC 3339 time")
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("lies outside the calendar in UTC (years 1 to 9999)") from None


class JsonObject(fields.Dict):
    """A free-form JSON object within the bounds of :mod:`deployserver.specs.plain`.

    A breach is reported under the path where it is (``values.a.b``), so the error names the
    exact place, not only the field.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        try:
            check_plain(value)
        except PlainDataError as exc:
            raise ValidationError({exc.path: [exc.message]} if exc.path else exc.message) from None
        return super()._deserialize(value, attr, data, **kwargs)
