"""The OpenAPI document's shared parts: security schemes and the errors every operation has.

Views document their own successes and the refusals particular to them (with ``problems()``);
the refusals that follow from an operation's shape are added here, once, so no operation
leaves one out: a body can be malformed (400), too large (413), not JSON (415) or invalid
(422); query arguments can be invalid (422); a path id can name nothing (404); a bearer
token can be missing (401) or lack the role (403); the database can be down (503).
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from flask_smorest import Api

from deployserver.errors import PROBLEM_JSON

BEARER = "bearerAuth"
BASIC = "basicAuth"
# The operator's poll and license validation: a license as the Basic password, or nothing.
LICENSE_SECURITY: list[dict[str, list[str]]] = [{}, {BASIC: []}]

DEFAULT_PROBLEMS = {
    400: "Malformed JSON (MALFORMED_JSON)",
    401: "Missing, unknown or revoked credentials",
    403: "The token lacks the role or the channel scope (FORBIDDEN)",
    404: "A path id names nothing (the code names the kind: CHANNEL_NOT_FOUND, ...)",
    413: "Request body over the configured limit (PAYLOAD_TOO_LARGE)",
    415: "The body is not sent as application/json (UNSUPPORTED_MEDIA_TYPE)",
    422: "Validation failed; errors names each field (VALIDATION_FAILED, NESTING_TOO_DEEP)",
    503: "The database is unavailable (DATABASE_UNAVAILABLE)",
}
OTHER_PROBLEMS = "Any other error (405 METHOD_NOT_ALLOWED, 500 INTERNAL_ERROR, ...)"
# Liveness answers without the database.
NO_DATABASE = {"/healthz"}


def declare_security_schemes(api: Api) -> None:
    api.spec.components.security_scheme(
        BEARER, {"type": "http", "scheme": "bearer", "description": "An API token"}
    )
    api.spec.components.security_scheme(
        BASIC,
        {
            "type": "http",
            "scheme": "basic",
            "description": "User name license, the license JWT as the password",
        },
    )


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


class ProblemResponsesPlugin(BasePlugin):
    """Adds the refusals an operation's shape implies (see the module docstring)."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            statuses: set[int] = set()
            if "requestBody" in operation:
                statuses |= {400, 413, 415, 422}
            parameters = operation.get("parameters", [])
            if any(parameter.get("in") == "query" for parameter in parameters):
                statuses.add(422)
            if any(parameter.get("in") == "path" for parameter in parameters) or (
                path and "{" in path
            ):
                statuses.add(404)
            if any(BEARER in requirement for requirement in operation.get("security", [])):
                statuses |= {401, 403}
            if path not in NO_DATABASE:
                statuses.add(503)
            for status in sorted(statuses):
                if str(status) not in responses and status not in responses:
                    responses[str(status)] = _problem(DEFAULT_PROBLEMS[status])
            # flask-smorest's own error responses describe a JSON "Error" body; ours are
            # problem documents.
            for status, response in list(responses.items()):
                # A name (resolved to a $ref by apispec later) or a $ref already.
                if isinstance(response, str) or (isinstance(response, dict) and "$ref" in response):
                    described = DEFAULT_PROBLEMS.get(int(status)) if status != "default" else None
                    responses[status] = _problem(described or OTHER_PROBLEMS)
