"""Rate limits on failures, per client address (API.md section 9).

Two limits, counted only when an attempt fails: refused license attempts (polls answered
401, validations that are not VALID; ``DEPLOYSERVER_RATE_LICENSE_FAILURES``) and unknown or
revoked bearer tokens (``DEPLOYSERVER_RATE_AUTH_FAILURES``). A failure past its limit is
answered 429 ``RATE_LIMITED`` with ``Retry-After`` instead of its refusal; a valid license or
token is never counted nor stopped, whatever its address did before.

Flask-Limiter owns the storage (Redis when ``DEPLOYSERVER_REDIS_URL`` is set, so counts are
shared by every worker of every replica; memory per worker otherwise) and the window
strategy. Its request hooks are not installed: they would cost every poll, and these limits
are hit only at the points where an attempt fails. When Redis does not answer, the counts go
to this worker's memory for a while and Redis is tried again later: a limit never fails a
request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from deployserver.clients import client_address
from deployserver.errors import DeployServerError
from deployserver.extensions import AppState

log = logging.getLogger(__name__)

EXTRAS_KEY = "rate_limits"
LICENSE_FAILURES = "license-failures"
AUTH_FAILURES = "auth-failures"
# Redis is given this long to answer a count; after a failure, memory counts for this long.
SOCKET_TIMEOUT = 0.25
FALLBACK_SECONDS = 5.0


class RateLimited(DeployServerError):
    status = 429
    code = "RATE_LIMITED"
    title = "Too many requests"


@dataclass(frozen=True)
class _Limit:
    scope: str
    item: RateLimitItem
    what: str


class FailureLimits:
    """The two failure limits of one app."""

    def __init__(self, app: Flask, app_state: AppState) -> None:
        config = app_state.config
        self._trusted = config.trusted_proxies
        options: dict[str, Any] = {}
        if config.redis_url:
            options = {"socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": SOCKET_TIMEOUT}
        self._limiter = Limiter(
            key_func=lambda: self.address(),
            storage_uri=config.redis_url or "memory://",
            storage_options=options,
            strategy="fixed-window",
            key_prefix=config.redis_prefix,
        )
        # Registered as already present, so init_app sets up storage and strategy but adds no
        # before/after-request hooks (see the module docstring).
        app.extensions.setdefault("limiter", set()).add(self._limiter)
        self._limiter.init_app(app)
        self._prefix = config.redis_prefix
        self._shared = bool(config.redis_url)
        self._fallback = FixedWindowRateLimiter(MemoryStorage())
        self._fallback_until = -math.inf
        self._lock = threading.Lock()
        self.license = _Limit(
            LICENSE_FAILURES, parse(config.rate_license_failures), "refused license attempts"
        )
        self.auth = _Limit(AUTH_FAILURES, parse(config.rate_auth_failures), "unknown tokens")

    def address(self, environ: dict[str, Any] | None = None) -> str:
        """The client's address, from ``environ`` or the current Flask request's."""
        source = request.environ if environ is None else environ
        return client_address(source, self._trusted) or "unknown"

    def failed(self, limit: _Limit, environ: dict[str, Any] | None = None) -> None:
        """Count one failed attempt of the client's address; RateLimited past the limit."""
        identifiers = (self._prefix, limit.scope, self.address(environ))
        allowed, reset = self._hit(limit.item, identifiers)
        if not allowed:
            retry_after = max(1, math.ceil(reset - time.time()))
            raise RateLimited(
                f"too many {limit.what} from this address; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )

    def _hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> tuple[bool, float]:
        strategy: RateLimiter = self._fallback
        if time.monotonic() >= self._fallback_until:
            strategy = self._limiter.limiter
        try:
            allowed = strategy.hit(item, *identifiers)
            return allowed, strategy.get_window_stats(item, *identifiers).reset_time
        except Exception as exc:  # the storage's client errors (redis-py, connection)
            if strategy is self._fallback:
                raise
            with self._lock:
                if time.monotonic() >= self._fallback_until:
                    log.warning(
                        "rate limits: storage unreachable (%s); counting in this worker for %.0f s",
                        type(exc).__name__,
                        FALLBACK_SECONDS,
                    )
                self._fallback_until = time.monotonic() + FALLBACK_SECONDS
            allowed = self._fallback.hit(item, *identifiers)
            return allowed, self._fallback.get_window_stats(item, *identifiers).reset_time


def install(app: Flask, app_state: AppState) -> None:
    app_state.extras[EXTRAS_KEY] = FailureLimits(app, app_state)


def license_failure(app_state: AppState, environ: dict[str, Any] | None = None) -> None:
    """A refused license attempt by this request's client (RateLimited past the limit);
    ``environ``: the WSGI environ of a poll answered outside Flask's request context."""
    limits: FailureLimits = app_state.extras[EXTRAS_KEY]
    limits.failed(limits.license, environ)


def auth_failure(app_state: AppState) -> None:
    """An unknown or revoked bearer token from this request's client."""
    limits: FailureLimits = app_state.extras[EXTRAS_KEY]
    limits.failed(limits.auth)
