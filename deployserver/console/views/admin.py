"""Console pages for admins: licenses (search, issue, suspend, reinstate, revoke)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from deployserver.auth import current_actor
from deployserver.console.blueprint import bp, form_text, page_url, require
from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.extensions import state
from deployserver.pagination import DEFAULT_LIMIT
from deployserver.services import licenses

STATUS_ACTIONS = {
    "suspend": licenses.suspend_license,
    "reinstate": licenses.reinstate_license,
    "revoke": licenses.revoke_license,
}


def _search() -> dict[str, str | None]:
    found = {
        name: request.args.get(name, "").strip()[:255] or None for name in ("subject", "channel")
    }
    status = request.args.get("status", "").strip()
    found["status"] = status if status in licenses.STATUSES else None
    return found


@bp.get("/licenses")
@require("admin")
def licenses_page() -> str:
    filters = _search()
    page = licenses.list_licenses(
        get_session(), DEFAULT_LIMIT, request.args.get("cursor"), **filters
    )
    return render_template(
        "console/licenses.html",
        items=page.items,
        filters=filters,
        statuses=licenses.STATUSES,
        next_url=page_url(page.next_cursor),
        issued=None,
    )


@bp.post("/licenses")
@require("admin")
def issue_license() -> str:
    ttl = form_text("ttlDays", 8).strip()
    perpetual = request.form.get("perpetual") == "on"
    if ttl and not ttl.isdigit():
        raise Invalid.field("ttlDays", "must be a whole number of days")
    license, token = licenses.issue_license(
        get_session(),
        current_actor(),
        state().config,
        subject=form_text("subject", 255),
        channel=form_text("channel", 63).strip(),
        ttl_days=int(ttl) if ttl and not perpetual else None,
        perpetual=perpetual,
    )
    page = licenses.list_licenses(get_session(), DEFAULT_LIMIT, None)
    return render_template(
        "console/licenses.html",
        items=page.items,
        filters={},
        statuses=licenses.STATUSES,
        next_url=page_url(page.next_cursor),
        issued=(license, token),
    )


@bp.get("/licenses/<license_id>/revoke")
@require("admin")
def revoke_confirm(license_id: str) -> str:
    """Revoking cannot be undone: it gets a confirmation page (suspend is one click)."""
    license = licenses.get_license(get_session(), license_id[:64])
    return render_template("console/revoke.html", license=license)


@bp.post("/licenses/<license_id>/<action>")
@require("admin")
def license_action(license_id: str, action: str) -> Response:
    change = STATUS_ACTIONS.get(action)
    if change is None:
        raise Invalid.field("action", "must be suspend, reinstate or revoke")
    change(get_session(), current_actor(), license_id[:64])
    return redirect(url_for("console.licenses_page"), code=303)
