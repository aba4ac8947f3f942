"""Head changes from the console: promote, rollback, rollout set/complete/abort.

Each action is a GET that shows a confirmation (values warnings first, then the served
changes) and a POST that does it through the same service as REST, then goes back to the
channel page. The POST is checked for role, scope and CSRF before it runs.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from deployserver.auth import current_actor
from deployserver.console.blueprint import bp, form_text, require
from deployserver.console.preview import preview_move
from deployserver.db import get_session
from deployserver.errors import Conflict, Invalid
from deployserver.models import HEAD_ACTIONS
from deployserver.services import channels, releases, rollouts


def _percent(raw: str | None, field: str = "percent") -> int | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise Invalid.field(field, "must be a whole number from 1 to 99")
    return int(text)


def _back(name: str, done: str) -> Response:
    return redirect(url_for("console.channel_page", name=name, done=done), code=303)


def _confirm(
    name: str, action: str, from_id: str | None, to_id: str | None, **extra: object
) -> str:
    channel = channels.get_channel(get_session(), name)
    preview = preview_move(get_session(), name, from_id, to_id)
    return render_template(
        "console/confirm.html", channel=channel, action=action, preview=preview, **extra
    )


@bp.get("/channels/<name>/promote")
@require("publisher", channel_arg="name")
def promote_confirm(name: str) -> str:
    ref = request.args.get("release", "").strip()
    if not ref:
        raise Invalid.field("release", "name a release by id or version")
    release = releases.find_release_ref(get_session(), ref[:300])
    channel = channels.get_channel(get_session(), name)
    percent = _percent(request.args.get("percent"))
    return _confirm(
        name, "promote", channel.head.id if channel.head else None, release.id, percent=percent
    )


@bp.post("/channels/<name>/promote")
@require("publisher", channel_arg="name")
def promote(name: str) -> Response:
    releases.promote_release(
        get_session(),
        current_actor(),
        name,
        form_text("releaseId", 64),
        rollout_percent=_percent(request.form.get("percent")),
        urgent=request.form.get("urgent") == "on",
    )
    return _back(name, "promote")


def _previous_head(name: str) -> str:
    """The head before the current one, as a rollback without a release would choose."""
    history = releases.channel_history(get_session(), name, 100, None).items
    for entry in history:
        if entry.action in HEAD_ACTIONS:
            if entry.previous_release_id:
                return entry.previous_release_id
            break
    raise Conflict(f"channel {name!r} has no earlier head to roll back to", "NOTHING_TO_ROLL_BACK")


@bp.get("/channels/<name>/rollback")
@require("publisher", channel_arg="name")
def rollback_confirm(name: str) -> str:
    channel = channels.get_channel(get_session(), name)
    target = request.args.get("release", "").strip()[:64] or _previous_head(name)
    return _confirm(name, "rollback", channel.head.id if channel.head else None, target)


@bp.post("/channels/<name>/rollback")
@require("publisher", channel_arg="name")
def rollback(name: str) -> Response:
    target = form_text("releaseId", 64).strip() or None
    releases.rollback_channel(get_session(), current_actor(), name, target)
    return _back(name, "rollback")


def _rollout(name: str) -> channels.ChannelView:
    channel = channels.get_channel(get_session(), name)
    if channel.rollout is None:
        raise Conflict(f"channel {name!r} has no rollout in progress", "NO_ROLLOUT")
    return channel


@bp.get("/channels/<name>/rollout")
@require("publisher", channel_arg="name")
def rollout_confirm(name: str) -> str:
    channel = _rollout(name)
    assert channel.rollout is not None
    percent = _percent(request.args.get("percent"))
    if percent is None:
        raise Invalid.field("percent", "must be a whole number from 1 to 99")
    head = channel.head.id if channel.head else None
    return _confirm(name, "rollout", head, channel.rollout.release_id, percent=percent)


@bp.post("/channels/<name>/rollout")
@require("publisher", channel_arg="name")
def rollout_set(name: str) -> Response:
    percent = _percent(request.form.get("percent"))
    if percent is None:
        raise Invalid.field("percent", "must be a whole number from 1 to 99")
    rollouts.advance_rollout(get_session(), current_actor(), name, percent)
    return _back(name, "rollout")


@bp.get("/channels/<name>/rollout/<step>")
@require("publisher", channel_arg="name")
def rollout_step_confirm(name: str, step: str) -> str:
    channel = _rollout(name)
    assert channel.rollout is not None
    head = channel.head.id if channel.head else None
    candidate = channel.rollout.release_id
    if step == "complete":
        return _confirm(name, "rollout-complete", head, candidate)
    if step == "abort":
        # The candidate's cohort goes back to the head: that is the move it sees.
        return _confirm(name, "rollout-abort", candidate, head)
    raise Invalid.field("step", "must be complete or abort")


@bp.post("/channels/<name>/rollout/<step>")
@require("publisher", channel_arg="name")
def rollout_step(name: str, step: str) -> Response:
    if step == "complete":
        rollouts.complete_rollout(get_session(), current_actor(), name)
    elif step == "abort":
        rollouts.abort_rollout(get_session(), current_actor(), name)
    else:
        raise Invalid.field("step", "must be complete or abort")
    return _back(name, f"rollout-{step}")
