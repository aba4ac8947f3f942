"""The operator feed: which stored bytes answer a poll, cached per worker, kept for outages.

A poll needs one answer: the served body (and ETag) of a channel's head (or, during a staged
rollout, of its candidate for licenses in the cohort), or of one release pinned on a channel.
All are stored when a release arrives on a channel (see ``specs/served.py``), so this module
only finds them: from a per-worker cache that lives at most ``license_cache_seconds`` (the
same bound as licenses, so a head or rollout change reaches every worker within it), else
with one indexed query, else, when the database is unreachable, from the last-known-good
store that every worker of the host shares (head, candidate and percentage in one file, so
an outage keeps every cohort on what it had).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from deployserver import metrics
from deployserver.errors import NotFound, Unavailable
from deployserver.extensions import AppState
from deployserver.feed.cohorts import in_cohort
from deployserver.feed.lkg import LastKnownGood
from deployserver.feed.policies import PolicyFeed
from deployserver.feed.recorder import installation_recorder
from deployserver.models import Channel, ChannelRelease
from deployserver.specs.release import is_release_id

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class ChannelAnswer:
    """A channel's head and, during a staged rollout, its candidate and percentage."""

    head: ServedSpec
    candidate: ServedSpec | None = None
    percent: int = 0
    # Some release of the channel is required (installation policies apply to every poll).
    has_required: bool = False

    def for_license(self, license_id: str | None) -> ServedSpec:
        """The head, or the candidate when ``license_id`` is in the rollout's cohort."""
        candidate = self.candidate
        if candidate is None or license_id is None:
            return self.head
        if in_cohort(license_id, candidate.release_id, self.percent):
            return candidate
        return self.head


_Answer = ServedSpec | _Missing
_Entry = tuple[float, _Answer]
_HeadEntry = tuple[float, ChannelAnswer | _Missing]


class SpecFeed:
    """Per-worker resolver of served specs. Cheap on a hit: a dict lookup and a clock read."""

    def __init__(self, app_state: AppState) -> None:
        self._engine = app_state.engine
        self._ttl = float(app_state.config.license_cache_seconds)
        self._store = LastKnownGood(app_state.config.instance_path)
        self._heads: dict[str, _HeadEntry] = {}
        self._pinned: dict[tuple[str, str], _Entry] = {}
        # What this worker last wrote to (or found in) the store, by file name.
        self._persisted: dict[str, str] = {}
        self.policies = PolicyFeed(
            app_state.engine,
            self._ttl,
            app_state.config.required_dwell_seconds,
            lambda license_id, channel: installation_recorder(app_state).pending_release(
                license_id, channel
            ),
        )
        # Bumped by every invalidation: an answer read before one is not cached after it.
        self._generation = 0

    def head(self, channel: str, license_id: str | None = None) -> ServedSpec:
        """The served spec of ``channel``'s head, or of its rollout candidate when
        ``license_id`` is in the cohort; NotFound CHANNEL_NOT_FOUND / CHANNEL_EMPTY."""
        entry = self._heads.get(channel)
        hit = entry is not None and entry[0] > time.monotonic()
        metrics.cache_lookup("channel", hit)
        if hit:
            answer = entry[1]  # type: ignore[index]
        else:
            generation = self._generation
            answer = self._load_head(channel)
            if generation == self._generation:
                self._heads[channel] = (time.monotonic() + self._ttl, answer)
        if not isinstance(answer, ChannelAnswer):
            raise NotFound(answer.detail, answer.code)
        served = answer.for_license(license_id)
        if license_id is None:
            return served
        decision = self.policies.choose(
            channel, license_id, served.release_id, served is not answer.head, answer.has_required
        )
        if decision is None or decision.release_id == served.release_id:
            return served
        # A policy chose another release the channel serves: its stored bytes, as a pinned
        # poll of it gets them.
        return self.pinned(channel, decision.release_id)

    def pinned(self, channel: str, release_id: str, license_id: str | None = None) -> ServedSpec:
        """The served spec of a release that is or was head of ``channel``, or of its rollout
        candidate for a license in the cohort (it already gets it); else NotFound."""
        if not is_release_id(release_id):
            raise NotFound(f"release {release_id!r} not found", "RELEASE_NOT_FOUND")
        if license_id is not None:
            candidate = self._cohort_candidate(channel, release_id, license_id)
            if candidate is not None:
                return candidate
        key = (channel, release_id)
        entry = self._pinned.get(key)
        hit = entry is not None and entry[0] > time.monotonic()
        metrics.cache_lookup("pinned", hit)
        if hit:
            return _unwrap(entry[1])  # type: ignore[index]
        generation = self._generation
        value = self._load(
            f"pin-{channel}-{release_id}.json", lambda: self._query_pinned(channel, release_id)
        )
        if len(self._pinned) >= MAX_PINNED_ENTRIES:
            self._pinned.clear()
        if generation == self._generation:
            self._pinned[key] = (time.monotonic() + self._ttl, value)
        return _unwrap(value)

    def _cohort_candidate(
        self, channel: str, release_id: str, license_id: str
    ) -> ServedSpec | None:
        try:
            served = self.head(channel, license_id)
        except NotFound:
            return None
        return served if served.release_id == release_id else None

    def forget(self) -> None:
        """Drop this worker's cache (invalidation after missed messages; tests)."""
        self._generation += 1
        self._heads.clear()
        self._pinned.clear()
        self.policies.forget()

    def drop_channel(self, channel: str) -> None:
        """Drop the cached answers of ``channel`` (its head, rollout and pinned releases)."""
        self._generation += 1
        self._heads.pop(channel, None)
        for key in [key for key in list(self._pinned) if key[0] == channel]:
            self._pinned.pop(key, None)
        self.policies.drop_channel(channel)

    def _load(self, name: str, query: Callable[[], _Answer]) -> _Answer:
        try:
            value = query()
        except DBAPIError as exc:
            spec = _spec_from(self._from_store(name, exc))
            if spec is None:
                raise _nothing_known() from None
            return spec
        if isinstance(value, ServedSpec):
            self._remember(name, value.etag, _spec_json(value))
        return value

    def _load_head(self, channel: str) -> ChannelAnswer | _Missing:
        name = f"head-{channel}.json"
        try:
            answer = self._query_head(channel)
        except DBAPIError as exc:
            known = self._from_store(name, exc)
            head = _spec_from(known)
            if head is None:
                raise _nothing_known() from None
            assert isinstance(known, dict)
            return ChannelAnswer(
                head,
                _spec_from(known.get("candidate")),
                known.get("percent", 0),
                known.get("hasRequired") is True,
            )
        if isinstance(answer, ChannelAnswer):
            document = _spec_json(answer.head)
            fingerprint = answer.head.etag
            if answer.candidate is not None:
                document["candidate"] = _spec_json(answer.candidate)
                document["percent"] = answer.percent
                fingerprint += f"|{answer.candidate.etag}|{answer.percent}"
            if answer.has_required:
                document["hasRequired"] = True
                fingerprint += "|required"
            self._remember(name, fingerprint, document)
        return answer

    def _remember(self, name: str, fingerprint: str, document: dict[str, Any]) -> None:
        if self._persisted.get(name) == fingerprint:
            return
        if name not in self._persisted:
            known = self._store.read_json(name)
            if known == document:
                self._persisted[name] = fingerprint
                return
        self._store.write_json(name, document)
        self._persisted[name] = fingerprint

    def _from_store(self, name: str, exc: DBAPIError) -> Any:
        metrics.database_error()
        known = self._store.read_json(name)
        if _spec_from(known) is None:
            log.warning("database unavailable (%s); nothing known for %s", _kind(exc), name)
        else:
            metrics.stale_answer()
            log.warning("database unavailable (%s); serving last known %s", _kind(exc), name)
        return known

    def _query_head(self, channel: str) -> ChannelAnswer | _Missing:
        # One indexed query: the channel by its unique name, the stored bodies of its head
        # and of its rollout candidate (if any) by primary key.
        head = aliased(ChannelRelease)
        candidate = aliased(ChannelRelease)
        statement = (
            select(
                Channel.head_release_id,
                head.body,
                head.etag,
                Channel.candidate_release_id,
                Channel.rollout_percent,
                candidate.body.label("candidate_body"),
                candidate.etag.label("candidate_etag"),
                exists()
                .where(ChannelRelease.channel_id == Channel.id, ChannelRelease.required == true())
                .label("has_required"),
            )
            .select_from(Channel)
            .outerjoin(
                head,
                and_(head.channel_id == Channel.id, head.release_id == Channel.head_release_id),
            )
            .outerjoin(
                candidate,
                and_(
                    candidate.channel_id == Channel.id,
                    candidate.release_id == Channel.candidate_release_id,
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
        head_spec = ServedSpec(row.head_release_id, row.body.encode("utf-8"), row.etag)
        required = bool(row.has_required)
        if row.candidate_release_id is not None and row.candidate_body is not None:
            served = ServedSpec(
                row.candidate_release_id, row.candidate_body.encode("utf-8"), row.candidate_etag
            )
            return ChannelAnswer(head_spec, served, row.rollout_percent or 0, required)
        return ChannelAnswer(head_spec, has_required=required)

    def _query_pinned(self, channel: str, release_id: str) -> _Answer:
        statement = (
            select(ChannelRelease.body, ChannelRelease.etag)
            .join(Channel, Channel.id == ChannelRelease.channel_id)
            .where(
                Channel.name == channel,
                ChannelRelease.release_id == release_id,
                # A staged candidate is not history: only its cohort sees it (above).
                ChannelRelease.was_head,
            )
        )
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            # Never reveal whether the release exists elsewhere.
            return _Missing("RELEASE_NOT_FOUND", f"release {release_id!r} not found")
        return ServedSpec(release_id, row.body.encode("utf-8"), row.etag)


def _nothing_known() -> Unavailable:
    return Unavailable(
        "The database is unavailable and no earlier answer is known; try again shortly."
    )


def _spec_json(spec: ServedSpec) -> dict[str, Any]:
    return {"releaseId": spec.release_id, "etag": spec.etag, "body": spec.body.decode("utf-8")}


def _spec_from(known: Any) -> ServedSpec | None:
    """A spec stored by :func:`_spec_json`; None for anything else (absent, torn, foreign)."""
    if not isinstance(known, dict) or not {"releaseId", "etag", "body"} <= known.keys():
        return None
    return ServedSpec(known["releaseId"], known["body"].encode("utf-8"), known["etag"])


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
