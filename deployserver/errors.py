"""One error contract: every error leaves as RFC 9457 problem+json with a stable ``code``.

Services raise :class:`DeployServerError` subclasses; the handlers registered here turn them,
Werkzeug's HTTP errors, webargs' validation errors and anything unexpected into problem
documents. The CLI prints the same ``detail`` as one line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, has_request_context, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from deployserver.request_id import current_request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Where a URL converter notes why it refused a path segment: (404 code, parameter, reason).
PATH_REFUSAL = "deployserver.path_refusal"
BASIC_CHALLENGE = 'Basic realm="deployserver"'


class DeployServerError(Exception):
    """A refusal with a machine-readable code; ``status`` is its HTTP status."""

    status = 400
    code = "BAD_REQUEST"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        code: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}


class Invalid(DeployServerError):
    status = 422
    code = "VALIDATION_FAILED"
    title = "Unprocessable content"

    @classmethod
    def field(cls, field: str, message: str, code: str | None = None) -> Invalid:
        """A refusal naming one field (dotted path) of the request."""
        return cls(f"{field}: {message}", code, errors={field: [message]})


class Unauthorized(DeployServerError):
    status = 401
    code = "UNAUTHORIZED"
    title = "Unauthorized"


class Forbidden(DeployServerError):
    status = 403
    code = "FORBIDDEN"
    title = "Forbidden"


class NotFound(DeployServerError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"


class Conflict(DeployServerError):
    status = 409
    code = "CONFLICT"
    title = "Conflict"


class UnsupportedMediaType(DeployServerError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"


class Unavailable(DeployServerError):
    status = 503
    code = "DATABASE_UNAVAILABLE"
    title = "Service unavailable"


# Werkzeug status -> stable code for errors raised outside our services.
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def problem_document(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> bytes:
    """The problem+json body; the one shape every error of the server has."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    if request_id:
        body["requestId"] = request_id
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    document = problem_document(
        status, code, title, detail, errors=errors, request_id=current_request_id()
    )
    response = Response(document, status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"dotted.field": [messages]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # A path relative to a field may start with a list index: "values[0].a".
            joiner = "" if str(key).startswith("[") else "."
            path = f"{prefix}{joiner}{key}" if prefix else str(key)
            flat.update(flatten_messages(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def _webargs_messages(exc: HTTPException) -> Mapping[str, Any] | None:
    data = getattr(exc, "data", None)
    if not isinstance(data, Mapping):
        return None
    messages = data.get("messages")
    return messages if isinstance(messages, Mapping) else None


def handle_service_error(exc: DeployServerError) -> Response:
    return problem(
        exc.status, exc.code, exc.title, exc.detail, errors=exc.errors, headers=exc.headers
    )


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = HTTP_CODES.get(status, "HTTP_ERROR")
    title = exc.name
    detail = exc.description or title
    errors = None
    messages = _webargs_messages(exc)
    if messages is not None:
        # webargs nests messages under the request location ("json", "query", ...).
        located: dict[str, Any] = {}
        for location, fields in messages.items():
            located.update(fields if isinstance(fields, Mapping) else {location: fields})
        if status == 400 and "json" in messages and not isinstance(messages["json"], Mapping):
            code, detail = "MALFORMED_JSON", "The request body is not valid JSON."
        else:
            errors = flatten_messages(located)
            detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    if status == 404 and has_request_context() and PATH_REFUSAL in request.environ:
        code, parameter, reason = request.environ[PATH_REFUSAL]
        detail, errors = f"{parameter}: {reason}", {parameter: [reason]}
    headers = {}
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return problem(status, code, title, detail, errors=errors, headers=headers)


def database_outage(exc: DBAPIError) -> Unavailable | None:
    """The 503 a connection-level failure answers (an outage, not a bug: logged and said
    without SQL or driver text); None for any other database error."""
    if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
        return None
    log.warning("database unavailable: %s", type(exc.orig).__name__)
    return Unavailable("The database is unavailable; try again shortly.")


def handle_database_error(exc: DBAPIError) -> Response:
    outage = database_outage(exc)
    if outage is None:
        return handle_unexpected(exc)
    return problem(outage.status, outage.code, outage.title, outage.detail)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error")
    return problem(500, "INTERNAL_ERROR", "Internal server error", "An unexpected error occurred.")


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(DeployServerError, handle_service_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
