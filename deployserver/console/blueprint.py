"""The console's blueprint, its request rules and the helpers its views share.

Every console request (pages and static assets alike) gets a Content-Security-Policy that
allows nothing from another origin and no inline script. Pages need a session; a POST also
needs the session's CSRF token, checked before the view runs, so a forged or replayed form
is refused (403) whatever it carries. Role checks reuse the REST API's principal rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from deployserver.console import sessions
from deployserver.db import get_session
from deployserver.errors import DeployServerError, Forbidden, Invalid

F = TypeVar("F", bound=Callable[..., Any])

HERE = Path(__file__).parent
bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder=str(HERE / "templates"),
    static_folder=str(HERE / "static"),
    static_url_path="/static",
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# Endpoints reachable without a session.
PUBLIC_ENDPOINTS = {"console.static", "console.signin"}


class CsrfRefused(Forbidden):
    code = "CSRF_REFUSED"


@bp.before_request
def require_session() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = sessions.current_user(get_session())
    if user is None:
        if request.method == "POST":
            # A form from an ended session (or none) is a replay or a forgery: refuse it.
            raise CsrfRefused("no console session: sign in again", "SESSION_REQUIRED")
        response = redirect(url_for("console.signin", next=request.full_path.rstrip("?")))
        sessions.forget_cookie(response)
        return response
    if request.method == "POST" and not sessions.csrf_ok(
        user.session_id, request.form.get("csrf_token")
    ):
        raise CsrfRefused("the form's CSRF token is missing or wrong", "CSRF_REFUSED")
    g.console_user = user
    g.principal = user.principal
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        # Pages show release values and license data: keep them out of shared caches.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(DeployServerError)
def refusal_page(exc: DeployServerError) -> tuple[str, int]:
    return render_template("console/error.html", error=exc), exc.status


def may(role: str, channel: str | None = None) -> bool:
    """Whether the signed-in user may do what needs ``role`` (on ``channel``, for writes)."""
    principal = getattr(g, "principal", None)
    if principal is None or not principal.has_role(role):
        return False
    if channel is not None and role != "viewer":
        return bool(principal.may_write(channel))
    return True


def require(role: str, channel_arg: str | None = None) -> Callable[[F], F]:
    """Refuse (403) a console view to users without ``role`` (and the channel's scope)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            channel = kwargs[channel_arg] if channel_arg else None
            if not may(role, channel):
                where = f" on channel {channel!r}" if channel else ""
                raise Forbidden(f"this needs the {role} role{where}")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def page_url(cursor: str | None, param: str = "cursor") -> str | None:
    """This page's URL with ``cursor`` in ``param`` (filters kept); None without a cursor."""
    if cursor is None:
        return None
    args: dict[str, Any] = {
        key: value for key, value in request.args.items() if key not in (param, "done") and value
    }
    args.update(request.view_args or {})
    args[param] = cursor
    return url_for(cast(str, request.endpoint), **args)


def form_text(name: str, limit: int = 65_536) -> str:
    """A form field as text, bounded; a missing field reads as empty."""
    value = request.form.get(name, "")
    if len(value) > limit:
        raise Invalid.field(name, f"must be at most {limit} characters")
    return value
