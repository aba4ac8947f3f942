"""Console pages: the channel list, one channel with its history, and its adoption chart."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.console.blueprint import bp, may, page_url, require
from deployserver.console.charts import adoption_chart
from deployserver.db import get_session, read_transaction
from deployserver.models import Release
from deployserver.pagination import DEFAULT_LIMIT
from deployserver.services import channels, installations, policy_facts, releases
from deployserver.services.releases import HistoryEntry

DONE = {
    "promote": "Promoted: the channel's head (or candidate) changed.",
    "rollback": "Rolled back: the channel's head changed.",
    "rollout": "Rollout percentage changed.",
    "rollout-complete": "Rollout completed: the candidate is the head.",
    "rollout-abort": "Rollout aborted: every license gets the head again.",
    "required": "Marked required: installations behind it are served it before moving on.",
    "unrequired": "No longer required.",
}


@dataclass(frozen=True)
class ChannelRow:
    channel: channels.ChannelView
    last_change: HistoryEntry | None
    active: int


def required_of(session: Session, channel: str) -> frozenset[str]:
    """The channel's required releases (as the poll's feed reads them)."""
    with read_transaction(session):
        return policy_facts.read_channel_policy(session.connection(), channel).required


def versions_of(session: Session, ids: set[str]) -> dict[str, str]:
    """Release versions by id, in one query (history rows carry ids only)."""
    ids.discard("")
    if not ids:
        return {}
    with read_transaction(session):
        rows = session.execute(select(Release.id, Release.version).where(Release.id.in_(ids)))
        return {release_id: version for release_id, version in rows}


@bp.get("/")
@require("viewer")
def channel_list() -> str:
    session = get_session()
    page = channels.list_channels(session, DEFAULT_LIMIT, request.args.get("cursor"))
    rows = []
    for channel in page.items:
        history = releases.channel_history(session, channel.name, 1, None).items
        adoption = installations.channel_adoption(session, channel.name)
        rows.append(ChannelRow(channel, history[0] if history else None, adoption.active))
    versions = versions_of(session, {row.last_change.release_id for row in rows if row.last_change})
    return render_template(
        "console/channels.html",
        rows=rows,
        versions=versions,
        next_url=page_url(page.next_cursor),
    )


@bp.get("/channels/<name>")
@require("viewer")
def channel_page(name: str) -> str:
    session = get_session()
    channel = channels.get_channel(session, name)
    history = releases.channel_history(session, name, DEFAULT_LIMIT, request.args.get("cursor"))
    carried = releases.list_channel_releases(
        session, name, DEFAULT_LIMIT, request.args.get("releases_cursor")
    )
    ids = {entry.release_id for entry in history.items}
    ids |= {entry.previous_release_id or "" for entry in history.items}
    return render_template(
        "console/channel.html",
        channel=channel,
        history=history.items,
        releases=carried.items,
        required=required_of(session, name),
        versions=versions_of(session, ids),
        may_write=may("publisher", name),
        done=DONE.get(request.args.get("done", "")),
        next_url=page_url(history.next_cursor),
        releases_next_url=page_url(carried.next_cursor, "releases_cursor"),
    )


@bp.get("/channels/<name>/adoption")
@require("viewer")
def adoption_page(name: str) -> str:
    window = request.args.get("window", str(installations.DEFAULT_WINDOW_HOURS))
    hours = int(window) if window.isdigit() and len(window) < 7 else -1
    adoption = installations.channel_adoption(get_session(), name, hours)
    return render_template(
        "console/adoption.html", adoption=adoption, chart=adoption_chart(adoption.releases)
    )
