"""Request ids: the server's own for every request, echoed, logged, put in errors and audit.

A caller's ``X-Request-ID`` is never adopted as the server's id: it is kept beside it, as the
client's request id (audit events record both, separately), so a REST call cannot pose as a
server-side run such as a channel sync (whose ids the server writes itself).

Done as WSGI middleware rather than Flask hooks: it runs on every request, the polling hot
path included, and a hook pair costs several times more than the work itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import has_request_context, request

HEADER = "X-Request-ID"
ENVIRON_KEY = "deployserver.request_id"
CLIENT_ENVIRON_KEY = "deployserver.client_request_id"
# Accept a caller's request id only if it is short and harmless to log.
# fullmatch: with match, ``$`` also matches before a trailing newline.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        given = environ.get("HTTP_X_REQUEST_ID")
        request_id = os.urandom(16).hex()
        environ[ENVIRON_KEY] = request_id
        if given and _ACCEPTABLE.fullmatch(given):
            environ[CLIENT_ENVIRON_KEY] = given

        def start_with_id(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            headers.append((HEADER, request_id))
            return start_response(status, headers, *exc_info)

        return self.wsgi_app(environ, start_with_id)


def current_request_id() -> str | None:
    """This request's id (the server's own); None outside a request."""
    if not has_request_context():
        return None
    return request.environ.get(ENVIRON_KEY)


def current_client_request_id() -> str | None:
    """The ``X-Request-ID`` the caller sent (when short and harmless to log), or None."""
    if not has_request_context():
        return None
    return request.environ.get(CLIENT_ENVIRON_KEY)
