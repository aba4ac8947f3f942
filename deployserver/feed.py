"""The operator feed: which stored bytes answer a poll, cached per worker, kept for outages.

A poll needs one answer: the served body (and ETag) of a channel's head, or of one release
pinned on a channel. Both are stored when a release arrives on a channel (see
``specs/served.py``), so this module only finds them: from a per-worker cache that lives at
most ``license_cache_seconds`` (the same bound as licenses, so a head change reaches every
worker within it), else with one indexed query, else, when the database is unreachable, from
the last-known-good store that every worker of the host shares.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.exc import DBAPIError

from deployserver.errors import NotFound, Unavailable
from deployserver.extensions import AppState
from deployserver.lkg import LastKnownGood
from deployserver.models import Channel, ChannelRelease

log = logging.getLogger(__name__)

RELEASE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Pinned answers are keyed by ids callers choose; beyond this many the cache starts over.
MAX_PINNED_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class ServedSpec:
    """The exact bytes served for one release on one channel, and their strong ETag."""

    release_id: str
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class _Missing:
    """A cached 404: its code and detail (a fresh exception is raised on every use)."""

    code: str
    detail: str


_Answer = ServedSpec | _Missing
_Entry = tuple[float, _Answer]


class SpecFeed:
    """Per-worker resolver of served specs. Cheap on a hit: a dict lookup and a clock read."""

    def __init__(self, app_state: AppState) -> None:
        self._engine = app_state.engine
        self._ttl = float(app_state.config.license_cache_seconds)
        self._store = LastKnownGood(app_state.config.instance_path)
        self._heads: dict[str, _Entry] = {}
        self._pinned: dict[tuple[str, str], _Entry] = {}
        # What this worker last wrote to (or found in) the store, by file name.
        self._persisted: dict[str, str] = {}

    def head(self, channel: str) -> ServedSpec:
        """The served spec of ``channel``'s head; NotFound CHANNEL_NOT_FOUND / CHANNEL_EMPTY."""
        entry = self._heads.get(channel)
        if entry is not None and entry[0] > time.monotonic():
            return _unwrap(entry[1])
        value = self._load(f"head-{channel}.json", lambda: self._query_head(channel))
        self._heads[channel] = (time.monotonic() + self._ttl, value)
        return _unwrap(value)

    def pinned(self, channel: str, release_id: str) -> ServedSpec:
        """The served spec of a release that is or was head of ``channel``; else NotFound."""
        if not RELEASE_ID.match(release_id):
            raise NotFound(f"release {release_id!r} not found", "RELEASE_NOT_FOUND")
        key = (channel, release_id)
        entry = self._pinned.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return _unwrap(entry[1])
        value = self._load(
            f"pin-{channel}-{release_id}.json", lambda: self._query_pinned(channel, release_id)
        )
        if len(self._pinned) >= MAX_PINNED_ENTRIES:
            self._pinned.clear()
        self._pinned[key] = (time.monotonic() + self._ttl, value)
        return _unwrap(value)

    def forget(self) -> None:
        """Drop this worker's cache (tests; a write in this process that must show at once)."""
        self._heads.clear()
        self._pinned.clear()

    def _load(self, name: str, query: Callable[[], _Answer]) -> _Answer:
        try:
            value = query()
        except DBAPIError as exc:
            return self._from_store(name, exc)
        if isinstance(value, ServedSpec):
            self._remember(name, value)
        return value

    def _remember(self, name: str, spec: ServedSpec) -> None:
        if self._persisted.get(name) == spec.etag:
            return
        if name not in self._persisted:
            known = self._store.read_json(name)
            if isinstance(known, dict) and known.get("etag") == spec.etag:
                self._persisted[name] = spec.etag
                return
        self._store.write_json(
            name,
            {"releaseId": spec.release_id, "etag": spec.etag, "body": spec.body.decode("utf-8")},
        )
        self._persisted[name] = spec.etag

    def _from_store(self, name: str, exc: DBAPIError) -> ServedSpec:
        known = self._store.read_json(name)
        if not isinstance(known, dict) or not {"releaseId", "etag", "body"} <= known.keys():
            log.warning("database unavailable (%s); nothing known for %s", _kind(exc), name)
            raise Unavailable(
                "The database is unavailable and no earlier answer is known; try again shortly."
            ) from None
        log.warning("database unavailable (%s); serving last known %s", _kind(exc), name)
        return ServedSpec(known["releaseId"], known["body"].encode("utf-8"), known["etag"])

    def _query_head(self, channel: str) -> _Answer:
        # One indexed query: the channel by its unique name, its head's stored body by PK.
        statement = (
            select(Channel.head_release_id, ChannelRelease.body, ChannelRelease.etag)
            .select_from(Channel)
            .outerjoin(
                ChannelRelease,
                and_(
                    ChannelRelease.channel_id == Channel.id,
                    ChannelRelease.release_id == Channel.head_release_id,
                ),
            )
            .where(Channel.name == channel)
        )
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return _Missing("CHANNEL_NOT_FOUND", f"channel {channel!r} does not exist")
        if row.head_release_id is None or row.body is None:
            return _Missing("CHANNEL_EMPTY", f"channel {channel!r} has no release yet")
        return ServedSpec(row.head_release_id, row.body.encode("utf-8"), row.etag)

    def _query_pinned(self, channel: str, release_id: str) -> _Answer:
        statement = (
            select(ChannelRelease.body, ChannelRelease.etag)
            .join(Channel, Channel.id == ChannelRelease.channel_id)
            .where(Channel.name == channel, ChannelRelease.release_id == release_id)
        )
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            # Never reveal whether the release exists elsewhere.
            return _Missing("RELEASE_NOT_FOUND", f"release {release_id!r} not found")
        return ServedSpec(release_id, row.body.encode("utf-8"), row.etag)


def _unwrap(value: _Answer) -> ServedSpec:
    if isinstance(value, ServedSpec):
        return value
    raise NotFound(value.detail, value.code)


def _kind(exc: DBAPIError) -> str:
    return type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__


def spec_feed(app_state: AppState) -> SpecFeed:
    feed = app_state.extras.get("spec_feed")
    if feed is None:
        feed = app_state.extras["spec_feed"] = SpecFeed(app_state)
    return feed
