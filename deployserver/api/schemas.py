"""Schema pieces shared by the API modules: timestamps as the API writes them, problems."""

from __future__ import annotations

from marshmallow import Schema, fields

# API.md: times are RFC 3339 strings in UTC with a ``Z``; stored datetimes are aware UTC.
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


class Timestamp(fields.DateTime):
    """A UTC timestamp written as ``2026-11-28T10:00:00Z``."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format=RFC3339, **kwargs)  # type: ignore[arg-type]


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error leaves the API (errors.py)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    requestId = fields.String()
