"""Schemas every resource shares: problem documents, timestamps, pages of results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from marshmallow import Schema, fields

from deployserver.api.blueprint import Blueprint
from deployserver.errors import PROBLEM_JSON

F = TypeVar("F", bound=Callable[..., Any])

# The API's times: RFC 3339 in UTC, seconds precision, with a Z.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Timestamp(fields.DateTime):
    """A UTC time as the API writes it: ``2026-11-28T10:00:00Z``.

    Declared as ISO 8601 (the OpenAPI document reads ``date-time``; apispec cannot describe a
    strftime format) and written in the one form the API promises.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(value.strftime(TIME_FORMAT))


class ProblemSchema(Schema):
    """RFC 9457 problem details with our stable ``code``."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    request_id = fields.String(data_key="requestId")


class PageSchema(Schema):
    """``{"items": [...], "nextCursor": "..." | null}``; subclasses set ``items``."""

    next_cursor = fields.String(data_key="nextCursor", allow_none=True, required=True)


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A page of ``item``s, named for the OpenAPI document."""
    return type(
        name,
        (PageSchema,),
        {"items": fields.List(fields.Nested(item), required=True)},
    )


PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON (MALFORMED_JSON)",
    401: "Missing, unknown or revoked bearer token",
    403: "The token lacks the role or the channel scope (FORBIDDEN)",
    404: "No such channel or release (CHANNEL_NOT_FOUND, RELEASE_NOT_FOUND)",
    409: "Conflicts with the stored state",
    413: "Request body over the configured limit",
    422: "Validation failed; errors names each field",
    429: "Too many failed attempts from this address (RATE_LIMITED; see Retry-After)",
    503: "The database is unavailable (DATABASE_UNAVAILABLE)",
}


def problems(blp: Blueprint, *statuses: int, **descriptions: str) -> Callable[[F], F]:
    """Document the problem+json responses a view may answer with."""

    def decorator(view: F) -> F:
        for status in statuses:
            view = blp.alt_response(
                status,
                schema=ProblemSchema,
                content_type=PROBLEM_JSON,
                description=descriptions.get(f"s{status}", PROBLEM_DESCRIPTIONS[status]),
            )(view)
        return view

    return decorator


class PinRefSchema(Schema):
    """A license's pin where a license or its installation is shown."""

    release_id = fields.String(data_key="releaseId", required=True)
    version = fields.String(required=True)
    until = Timestamp(allow_none=True, required=True)
    reason = fields.String(required=True)
