"""Sign-in with a bearer token, and sign-out."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from deployserver.console import sessions
from deployserver.console.blueprint import CsrfRefused, bp, form_text
from deployserver.db import get_session


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return url_for("console.channel_list")


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response:
    nonce = sessions.signin_nonce()
    status, error = 200, None
    if request.method == "POST":
        if not sessions.signin_csrf_ok(request.form.get("csrf_token")):
            raise CsrfRefused("the sign-in form's CSRF token is missing or wrong")
        destination = _safe_next(request.form.get("next"))
        response = redirect(destination, code=303)
        secret = form_text("token", 4096).strip()
        if secret and sessions.sign_in(get_session(), secret, response) is not None:
            return response
        status, error = 401, "That token is unknown or revoked."
    page = render_template(
        "console/signin.html",
        csrf=sessions.signin_csrf(nonce),
        next=_safe_next(request.values.get("next")),
        error=error,
    )
    response = make_response(page, status)
    sessions.keep_signin_nonce(response, nonce)
    return response


@bp.post("/signout")
def signout() -> Response:
    sessions.end_session(get_session(), g.console_user.session_id)
    response = redirect(url_for("console.signin"), code=303)
    sessions.forget_cookie(response)
    return response
