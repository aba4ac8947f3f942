"""Bearer-token authentication and authorisation for the release-engineering API.

Decided before the request body is read: the decorators wrap the view outside
flask-smorest's argument parsing, so a caller without the right gets 401/403 whatever it sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from deployserver.db import get_session
from deployserver.errors import Forbidden, Unauthorized
from deployserver.extensions import state
from deployserver.models import Role
from deployserver.ratelimit import auth_failure
from deployserver.request_id import current_client_request_id, current_request_id
from deployserver.services.audit import Actor
from deployserver.services.tokens import Principal, resolve_token

F = TypeVar("F", bound=Callable[..., Any])

BEARER_CHALLENGE = 'Bearer realm="deployserver"'
# The WSGI environ key under which the command line on the server host passes its own
# principal to the app it runs in-process. A WSGI server files every client header under an
# ``HTTP_`` key, so no request from the network can set this one.
LOCAL_PRINCIPAL_KEY = "deployserver.local_principal"


def authenticate() -> Principal:
    local = request.environ.get(LOCAL_PRINCIPAL_KEY)
    if isinstance(local, Principal):
        return local
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise Unauthorized(
            "a bearer token is required",
            "TOKEN_REQUIRED",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    if scheme.lower() != "bearer" or not secret.strip() or len(secret) > 512:
        raise Unauthorized(
            "the Authorization header is not a bearer token",
            "TOKEN_INVALID",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    principal = resolve_token(get_session(), secret.strip())
    if principal is None:
        auth_failure(state())
        raise Unauthorized(
            "the bearer token is unknown or revoked",
            "TOKEN_INVALID",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )
    return principal


def require(role: str, channel_arg: str | None = None) -> Callable[[F], F]:
    """Allow the view to callers holding ``role``; writes to a channel also need its scope.

    ``channel_arg`` names the URL argument holding the channel a publisher writes to.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if not principal.has_role(role):
                raise Forbidden(f"this action needs the {role} role")
            if channel_arg is not None and role != Role.VIEWER:
                channel = kwargs[channel_arg]
                if not principal.may_write(channel):
                    raise Forbidden(f"this token may not write to channel {channel!r}")
            g.principal = principal
            return view(*args, **kwargs)

        # The OpenAPI document: this operation takes a bearer token (flask-smorest's doc).
        apidoc = getattr(wrapper, "_apidoc", {})
        wrapper._apidoc = {  # type: ignore[attr-defined]
            **apidoc,
            "manual_doc": {**apidoc.get("manual_doc", {}), "security": [{"bearerAuth": []}]},
        }
        return cast(F, wrapper)

    return decorator


def require_role_for(role: str, what: str) -> None:
    """Refuse a part of an allowed request that needs more than the view's role (403)."""
    principal: Principal = g.principal
    if not principal.has_role(role):
        raise Forbidden(f"{what} needs the {role} role")


def current_principal() -> Principal:
    """The caller that ``require`` let in."""
    principal: Principal = g.principal
    return principal


def current_actor() -> Actor:
    """The actor for services: the authenticated token and this request's id."""
    principal: Principal = g.principal
    return Actor(
        name=principal.actor_name,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
    )
