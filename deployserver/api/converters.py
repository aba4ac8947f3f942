"""URL converters for the ids in paths: a malformed id never reaches a service or a query.

A segment of the wrong shape does not match the route, so another route may still match it
(``GET /licenses/validate`` answers 405, not "no license 'validate'"); when none does, the
404 names the parameter and says why (errors.py reads what the converter noted).
"""

from __future__ import annotations

import re

from flask import Flask, request
from flask_smorest import Api
from werkzeug.routing import BaseConverter, ValidationError

from deployserver.errors import PATH_REFUSAL
from deployserver.specs import ids


class IdConverter(BaseConverter):
    """One path segment of a shape; subclasses name the shape and the 404 code."""

    shape = ""
    parameter = ""
    not_found_code = "NOT_FOUND"
    pattern: re.Pattern[str]

    def accepts(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None

    def to_python(self, value: str) -> str:
        if not self.accepts(value):
            # Routing runs inside the request context; the note outlives a failed match.
            request.environ.setdefault(
                PATH_REFUSAL,
                (self.not_found_code, self.parameter, f"{value!r} is not {self.shape}"),
            )
            raise ValidationError()
        return value


class ReleaseIdConverter(IdConverter):
    shape = "a release id (a lower-case, hyphenated UUID)"
    not_found_code = "RELEASE_NOT_FOUND"
    parameter = "releaseId"
    pattern = ids.UUID_RE


class LicenseIdConverter(IdConverter):
    shape = "a license id (a lower-case, hyphenated UUID)"
    not_found_code = "LICENSE_NOT_FOUND"
    parameter = "licenseId"
    pattern = ids.UUID_RE


class ChannelNameConverter(IdConverter):
    shape = "a channel name"
    not_found_code = "CHANNEL_NOT_FOUND"
    parameter = "name"
    pattern = ids.CHANNEL_NAME_RE


class KidConverter(IdConverter):
    shape = "a key id (base64url, at most 64 characters)"
    not_found_code = "KEY_NOT_FOUND"
    parameter = "kid"
    pattern = ids.KID_RE


CONVERTERS: dict[str, type[BaseConverter]] = {
    "release_id": ReleaseIdConverter,
    "license_id": LicenseIdConverter,
    "channel": ChannelNameConverter,
    "kid": KidConverter,
}


def register_converters(app: Flask, api: Api) -> None:
    """Before any blueprint: routes name these converters in their rules."""
    app.url_map.converters.update(CONVERTERS)
    for converter in CONVERTERS.values():
        api.register_converter(converter, _parameter_schema)


def _parameter_schema(converter: IdConverter) -> dict[str, str]:
    return {"type": "string", "pattern": converter.pattern.pattern}
