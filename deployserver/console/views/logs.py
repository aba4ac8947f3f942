"""Console pages: installations and the audit log, with filters, paginated."""

from __future__ import annotations

from flask import render_template, request

from deployserver.console.blueprint import bp, page_url, require
from deployserver.db import get_session
from deployserver.pagination import DEFAULT_LIMIT
from deployserver.services import audit, installations


def _filter(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    return value[:255] or None


@bp.get("/installations")
@require("viewer")
def installations_page() -> str:
    filters = {name: _filter(name) for name in ("channel", "subject")}
    page = installations.list_installations(
        get_session(),
        DEFAULT_LIMIT,
        request.args.get("cursor"),
        channel=filters["channel"],
        subject=filters["subject"],
    )
    return render_template(
        "console/installations.html",
        items=page.items,
        filters=filters,
        next_url=page_url(page.next_cursor),
    )


@bp.get("/audit")
@require("viewer")
def audit_page() -> str:
    filters = {name: _filter(name) for name in ("actor", "action", "target")}
    page = audit.list_events(
        get_session(),
        DEFAULT_LIMIT,
        request.args.get("cursor"),
        filters["target"],
        actor=filters["actor"],
        action=filters["action"],
    )
    return render_template(
        "console/audit.html", items=page.items, filters=filters, next_url=page_url(page.next_cursor)
    )
