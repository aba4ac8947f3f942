"""The gunicorn worker ``deployserver serve`` runs: gevent, with refusals in problem+json.

Why gevent: a sync worker blocks on one connection until its request has arrived, so a few
hundred idle or slowly-sending connections hold every worker and no poll is answered. Under
gevent each connection is a greenlet that costs nothing while it waits; gunicorn bounds the
wait for a whole request head by ``keepalive`` (``timeout_ctx``), so idle and half-sent
connections are closed after it, and keep-alive connections make a poll cheaper than a new
connection per request. gevent patches the standard library when a worker starts
(``monkey.patch_all``): threads become greenlets (the installation recorder and the trust
refresh run in the worker's loop), SQLite calls run as before (short, local, blocking),
PyMySQL is pure Python over patched sockets, and psycopg chooses a cooperative wait when
it is imported after the patch; the master imports it earlier (migrations), so the worker
makes the choice again here.

gunicorn answers requests it cannot parse (request line or header too long, malformed) by
itself, before any application code runs; :meth:`DeployServerWorker.handle_error` answers
them as problem+json (API.md section 4) instead of gunicorn's HTML page.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import warnings
from ssl import SSLError
from typing import Any

from gevent.monkey import MonkeyPatchWarning
from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.ggevent import GeventWorker

# (exception kinds, status, reason phrase, code, detail). The details are fixed texts: the
# refused input is never echoed back.
_REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str, str, str], ...] = (
    (
        (http_errors.LimitRequestLine,),
        414,
        "URI Too Long",
        "URI_TOO_LONG",
        "The request line is longer than the server accepts.",
    ),
    (
        (http_errors.LimitRequestHeaders,),
        431,
        "Request Header Fields Too Large",
        "HEADERS_TOO_LARGE",
        "A request header, or the number of headers, is over the server's limit.",
    ),
    (
        (http_errors.UnsupportedTransferCoding,),
        501,
        "Not Implemented",
        "UNSUPPORTED_TRANSFER_CODING",
        "The request uses a transfer coding the server does not support.",
    ),
    (
        (http_errors.ExpectationFailed,),
        417,
        "Expectation Failed",
        "EXPECTATION_FAILED",
        "The server cannot meet the request's Expect header.",
    ),
    (
        (http_errors.ForbiddenProxyRequest, SSLError),
        403,
        "Forbidden",
        "FORBIDDEN",
        "The request was refused before it was read.",
    ),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
        ),
        400,
        "Bad Request",
        "MALFORMED_REQUEST_LINE",
        "The request line does not parse as HTTP/1.x.",
    ),
)
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20
_RESPONSE_ERRORS = (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName)


def refusal_for(exc: BaseException) -> tuple[int, str, str, str] | None:
    """Status, reason, code and detail for a request gunicorn refused; None: not a refusal."""
    if isinstance(exc, _RESPONSE_ERRORS):
        return None  # a header the application sent: the server's fault, a 500
    for kinds, status, reason, code, detail in _REFUSALS:
        if isinstance(exc, kinds):
            return status, reason, code, detail
    if isinstance(exc, http_errors.ParseException):
        return 400, "Bad Request", "MALFORMED_REQUEST", "The request does not parse as HTTP/1.x."
    return None


def problem_response(status: int, reason: str, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying an RFC 9457 problem; the connection closes."""
    request_id = os.urandom(16).hex()
    body = json.dumps(
        {
            "code": code,
            "detail": detail,
            "requestId": request_id,
            "status": status,
            "title": reason,
            "type": "about:blank",
        },
        separators=(",", ":"),
    ).encode("ascii")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    )
    return head.encode("ascii") + body


def cooperative_psycopg() -> None:
    """Make psycopg wait through the (patched) ``select`` module if it was imported before
    gevent patched it; psycopg makes this choice itself when imported afterwards."""
    waiting: Any = sys.modules.get("psycopg.waiting")
    if waiting is not None and waiting.wait is getattr(waiting, "wait_c", None):
        waiting.wait = waiting.wait_poll


class DeployServerWorker(GeventWorker):
    """gunicorn's gevent worker with problem+json refusals and a cooperative psycopg."""

    def patch(self) -> None:
        with warnings.catch_warnings():
            # The master imported ssl before the fork (PyJWT's JWKS client does, at import);
            # only that client, which the server never uses, holds ssl names directly. The
            # drivers look ssl up at call time (PyMySQL) or use libpq's own TLS (psycopg).
            warnings.filterwarnings(
                "ignore", message="Monkey-patching ssl after ssl", category=MonkeyPatchWarning
            )
            super().patch()
        cooperative_psycopg()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # The app's ~100k long-lived objects (modules, models, the OpenAPI spec) would be
        # walked by every full collection: a pause of up to 150 ms, which under gevent holds
        # every connection of the worker, not one request. Frozen, a collection skips them.
        gc.freeze()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refusal = refusal_for(exc)
        if refusal is None:
            if not isinstance(exc, Exception):
                super().handle_error(req, client, addr, exc)
                return
            self.log.exception("Error handling request")
            refusal = (
                500,
                "Internal Server Error",
                "INTERNAL_ERROR",
                "An unexpected error occurred.",
            )
        else:
            peer = addr[0] if addr else ""
            self.log.warning("Invalid request from ip=%s: %s", peer, type(exc).__name__)
        try:
            util.write_nonblock(client, problem_response(*refusal))
            linger(client)
        except Exception:
            self.log.debug("Failed to send error message.")


def linger(client: socket.socket) -> None:
    """Read what the client still sends (briefly) before the connection closes: closing
    with unread input resets the connection, and the client may lose the answer."""
    client.shutdown(socket.SHUT_WR)
    client.settimeout(LINGER_SECONDS)
    drained = 0
    while drained < LINGER_BYTES:
        chunk = client.recv(65536)
        if not chunk:
            return
        drained += len(chunk)
