"""Installation policies in the console: one license's page (its pin, maintenance window
and the decision its next poll gets), the forms that steer it, and a channel release's
"required" toggle.

The decision is explained by the same service call as ``GET /api/v1/licenses/{id}/decision``
(with what this worker served and has not written yet). Steering needs what REST needs:
the principal may write the license's channel. A refusal from the services (422, 404) is
shown on the license page next to the form, with that status.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from deployserver.auth import current_actor
from deployserver.console.blueprint import bp, form_text, require
from deployserver.console.views.channels import versions_of
from deployserver.db import get_session
from deployserver.errors import DeployServerError, Forbidden, Invalid, NotFound
from deployserver.extensions import state
from deployserver.feed.answers import spec_feed
from deployserver.pagination import DEFAULT_LIMIT
from deployserver.services import licenses, policies, releases
from deployserver.specs.release import is_release_id
from deployserver.specs.windows import DAYS

DONE = {
    "pin": "Pinned: the license's next poll gets the pinned release.",
    "unpin": "Pin removed.",
    "window": "Maintenance window saved.",
    "unwindow": "Maintenance window removed.",
}
# A datetime-local input sends minutes, or seconds when the browser shows them.
UNTIL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def _may_steer(channel: str) -> bool:
    return bool(g.principal.may_write(channel))


def _license_page(
    license_id: str,
    error: DeployServerError | None = None,
    form: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_session()
    license = licenses.get_license(session, license_id)
    try:
        decision = spec_feed(state()).policies.explain(session, license.id)
        empty = None
    except NotFound as exc:
        decision, empty = None, exc
    may_steer = _may_steer(license.channel)
    carried = (
        releases.list_channel_releases(session, license.channel, DEFAULT_LIMIT, None).items
        if may_steer
        else []
    )
    page = render_template(
        "console/license.html",
        license=license,
        policies=policies.get_policies(session, license.id),
        decision=decision,
        empty=empty,
        may_steer=may_steer,
        releases=carried,
        versions=versions_of(
            session, {decision.last_served_release_id or ""} if decision else set()
        ),
        days=DAYS,
        error=error,
        error_form=form,
        values=request.form if error is not None else {},
        done=DONE.get(request.args.get("done", "")),
    )
    return page, status


@bp.get("/licenses/<license_id>")
@require("viewer")
def license_page(license_id: str) -> tuple[str, int]:
    return _license_page(license_id[:64])


def _steer(license_id: str, form: str, change: str) -> Response | tuple[str, int]:
    """Do ``change`` to the license's policies if the principal may; on a refusal from the
    services, the page again with the refusal next to ``form``."""
    session = get_session()
    channel = policies.license_channel(session, license_id)
    if not _may_steer(channel):
        raise Forbidden(f"this token may not steer licenses of channel {channel!r}")
    try:
        CHANGES[change](license_id)
    except (Invalid, NotFound) as exc:
        return _license_page(license_id, exc, form, exc.status)
    return redirect(url_for("console.license_page", license_id=license_id, done=change), code=303)


def _until(raw: str) -> datetime | None:
    text = raw.strip()
    if not text:
        return None
    for layout in UNTIL_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise Invalid.field("until", "a UTC date and time, YYYY-MM-DDTHH:MM")


def _pin(license_id: str) -> None:
    ref = form_text("release", 300).strip()
    if not ref:
        raise Invalid.field("release", "name a release by version or id")
    by_id = is_release_id(ref)
    policies.set_pin(
        get_session(),
        current_actor(),
        license_id,
        release_id=ref if by_id else None,
        version=None if by_id else ref,
        until=_until(form_text("until", 32)),
        reason=form_text("reason", policies.MAX_REASON),
    )


def _window(license_id: str) -> None:
    policies.set_window(
        get_session(),
        current_actor(),
        license_id,
        days=[day for day in request.form.getlist("days")[:7] if len(day) <= 3],
        start=form_text("start", 8).strip(),
        end=form_text("end", 8).strip(),
        timezone=form_text("timezone", 64).strip(),
    )


def _unpin(license_id: str) -> None:
    policies.clear_pin(get_session(), current_actor(), license_id)


def _unwindow(license_id: str) -> None:
    policies.clear_window(get_session(), current_actor(), license_id)


CHANGES = {"pin": _pin, "unpin": _unpin, "window": _window, "unwindow": _unwindow}


@bp.post("/licenses/<license_id>/pin")
@require("publisher")
def pin_license(license_id: str) -> Response | tuple[str, int]:
    return _steer(license_id[:64], "pin", "pin")


@bp.post("/licenses/<license_id>/unpin")
@require("publisher")
def unpin_license(license_id: str) -> Response | tuple[str, int]:
    return _steer(license_id[:64], "pin", "unpin")


@bp.post("/licenses/<license_id>/window")
@require("publisher")
def window_license(license_id: str) -> Response | tuple[str, int]:
    return _steer(license_id[:64], "window", "window")


@bp.post("/licenses/<license_id>/unwindow")
@require("publisher")
def unwindow_license(license_id: str) -> Response | tuple[str, int]:
    return _steer(license_id[:64], "window", "unwindow")


@bp.post("/channels/<name>/releases/<release_id>/required")
@require("publisher", channel_arg="name")
def set_required(name: str, release_id: str) -> Response:
    required = form_text("required", 8) == "true"
    policies.set_required(get_session(), current_actor(), name, release_id[:64], required)
    done = "required" if required else "unrequired"
    return redirect(url_for("console.channel_page", name=name, done=done), code=303)
