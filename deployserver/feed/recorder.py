"""The per-worker installation recorder: polls noted in memory, written off the hot path.

A poll calls :meth:`InstallationRecorder.record` (or :meth:`~InstallationRecorder.anonymous`):
one dict update under a lock held only for that. A background thread, started by the first
poll (so inside the gunicorn worker, after the fork), swaps the buffer out every
``installation_flush_seconds`` and at worker exit, and writes it as one batch of upserts
(``services/installations.py``). A poll never waits on that write, and a database outage
never reaches a poll: the batch is kept for the next flush (logged once per outage). The
buffer holds at most ``installation_buffer_entries`` licenses; polls of further licenses are
dropped and counted. Once a day the same thread prunes installations past the retention.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from deployserver.extensions import AppState
from deployserver.services import installations
from deployserver.services.audit import Actor

log = logging.getLogger(__name__)

EXTRAS_KEY = "installation_recorder"
# Recorders whose thread runs in this process; stopped (and flushed) at exit.
_RUNNING: set[InstallationRecorder] = set()
_RUNNING_LOCK = threading.Lock()
PRUNE_INTERVAL = 24 * 3600
RETENTION_ACTOR = Actor(name="server:retention")


class _Seen:
    """One license's polls since the last flush."""

    __slots__ = (
        "address",
        "agent",
        "channel",
        "count",
        "first",
        "last",
        "release_id",
        "since",
        "subject",
    )

    def __init__(
        self,
        now: float,
        subject: str,
        channel: str,
        release_id: str,
        address: str | None,
        agent: str | None,
    ) -> None:
        self.first = now
        self.last = now
        self.count = 1
        self.subject = subject
        self.channel = channel
        self.release_id = release_id
        # The first poll in this batch that served ``release_id``.
        self.since = now
        self.address = address
        self.agent = agent


@dataclass
class RecorderStats:
    """Counters for metrics and tests."""

    written: int = 0
    dropped: int = 0
    failed_flushes: int = 0


class InstallationRecorder:
    def __init__(self, app_state: AppState) -> None:
        config = app_state.config
        self._engine = app_state.engine
        self._sessions = app_state.sessions
        self._interval = float(config.installation_flush_seconds)
        self._limit = config.installation_buffer_entries
        self._retention_days = config.installation_retention_days
        self._lock = threading.Lock()
        # Held while a batch is swapped out and written: one writer per worker at a time.
        self.flush_lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._anonymous: dict[tuple[str, int], int] = {}
        self.stats = RecorderStats()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._failing = False
        # The first prune runs one flush interval after start, then daily.
        self._next_prune = 0.0

    def record(
        self,
        license_id: str,
        subject: str,
        channel: str,
        release_id: str,
        address: str | None,
        agent: str | None,
    ) -> None:
        """Note one licensed poll (O(1); never touches the database)."""
        now = time.time()
        with self._lock:
            seen = self._seen.get(license_id)
            if seen is not None:
                seen.last = now
                seen.count += 1
                seen.subject = subject
                seen.channel = channel
                if seen.release_id != release_id:
                    seen.release_id = release_id
                    seen.since = now
                seen.address = address
                seen.agent = agent
            elif len(self._seen) < self._limit:
                self._seen[license_id] = _Seen(now, subject, channel, release_id, address, agent)
            else:
                self.stats.dropped += 1
        if self._thread is None:
            self._start()

    def pending_release(self, license_id: str, channel: str) -> tuple[str, float, float] | None:
        """The release this worker served ``license_id`` on ``channel`` since the last
        flush: (release id, first and last poll that served it, epoch seconds)."""
        with self._lock:
            seen = self._seen.get(license_id)
            if seen is None or seen.channel != channel:
                return None
            return seen.release_id, seen.since, seen.last

    def anonymous(self, channel: str) -> None:
        """Note one poll without a license (counted per channel and hour)."""
        key = (channel, int(time.time()) // 3600)
        with self._lock:
            self._anonymous[key] = self._anonymous.get(key, 0) + 1
        if self._thread is None:
            self._start()

    @property
    def pending(self) -> int:
        """Licenses noted since the last flush."""
        return len(self._seen)

    def flush(self) -> int:
        """Write what was noted since the last flush; returns the licenses written.

        On a connection failure the batch goes back into the buffer for the next flush; a
        batch the database refuses for itself is dropped (and counted), never retried.
        """
        with self.flush_lock:
            with self._lock:
                seen, self._seen = self._seen, {}
                anonymous, self._anonymous = self._anonymous, {}
            if not seen and not anonymous:
                return 0
            try:
                installations.write_polls(
                    self._engine, _installation_rows(seen), _anonymous_rows(anonymous)
                )
            except (OperationalError, InterfaceError) as exc:
                self.stats.failed_flushes += 1
                self._requeue(seen, anonymous)
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "installation insights: database unavailable (%s); keeping %d "
                        "installations for the next flush",
                        type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
                        len(seen),
                    )
                return 0
            except DBAPIError:
                self.stats.dropped += sum(entry.count for entry in seen.values())
                log.exception("installation insights: the database refused a batch; dropped")
                return 0
            if self._failing:
                self._failing = False
                log.info("installation insights: database reachable again; batch written")
            self.stats.written += len(seen)
            return len(seen)

    def stop(self) -> None:
        """Stop the background thread and write what is left (worker exit, tests)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        try:
            self.flush()
        except Exception:
            log.exception("installation insights: final flush failed")

    @property
    def engine(self) -> Engine:
        """The engine batches are written with (the app's)."""
        return self._engine

    def prune(self) -> tuple[int, int]:
        """Apply the retention (``installation_retention_days``)."""
        session = self._sessions()
        try:
            return installations.prune_installations(session, RETENTION_ACTOR, self._retention_days)
        finally:
            session.close()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._next_prune = time.monotonic() + self._interval
            self._thread = threading.Thread(
                target=self._run, name="installation-recorder", daemon=True
            )
            self._thread.start()
        with _RUNNING_LOCK:
            _RUNNING.add(self)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping:
                return
            self._cycle()

    def _cycle(self) -> None:
        # The thread must outlive any one failure: log it and try again next cycle.
        try:
            self.flush()
        except Exception:
            log.exception("installation insights: flush failed")
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_INTERVAL
            try:
                deleted, _ = self.prune()
                if deleted:
                    log.info("installation insights: pruned %d installations", deleted)
            except Exception as exc:
                log.warning("installation insights: prune failed (%s)", type(exc).__name__)

    def _requeue(self, seen: dict[str, _Seen], anonymous: dict[tuple[str, int], int]) -> None:
        """Put a batch that could not be written back under what arrived since."""
        with self._lock:
            for license_id, old in seen.items():
                new = self._seen.get(license_id)
                if new is not None:
                    new.first = old.first
                    new.count += old.count
                    if new.release_id == old.release_id:
                        new.since = old.since
                elif len(self._seen) < self._limit:
                    self._seen[license_id] = old
                else:
                    self.stats.dropped += old.count
            for key, count in anonymous.items():
                self._anonymous[key] = self._anonymous.get(key, 0) + count


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _installation_rows(seen: dict[str, _Seen]) -> list[dict[str, Any]]:
    return [
        {
            "license_id": license_id,
            "subject": entry.subject,
            "channel": entry.channel,
            "first_seen": _moment(entry.first),
            "last_seen": _moment(entry.last),
            "poll_count": entry.count,
            "last_release_id": entry.release_id,
            "release_since": _moment(entry.since),
            "last_address": (entry.address or "")[: installations.MAX_ADDRESS] or None,
            "last_user_agent": (entry.agent or "")[: installations.MAX_USER_AGENT] or None,
        }
        for license_id, entry in seen.items()
    ]


def _anonymous_rows(anonymous: dict[tuple[str, int], int]) -> list[dict[str, Any]]:
    return [
        {"channel": channel, "hour": _moment(hour * 3600), "poll_count": count}
        for (channel, hour), count in anonymous.items()
    ]


def installation_recorder(app_state: AppState) -> InstallationRecorder:
    """This worker's recorder (created on first use)."""
    recorder = app_state.extras.get(EXTRAS_KEY)
    if recorder is None:
        recorder = app_state.extras[EXTRAS_KEY] = InstallationRecorder(app_state)
    return recorder


@atexit.register
def stop_all() -> list[InstallationRecorder]:
    """Stop and flush every running recorder of this process; returns them.

    Gunicorn ends a worker through ``sys.exit``, so exit handlers run: the last batch is
    written before the worker goes.
    """
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for recorder in running:
        recorder.stop()
    return running


def stop_recorder(app_state: AppState) -> None:
    """Flush and stop the recorder if this app started one."""
    recorder = app_state.extras.get(EXTRAS_KEY)
    if recorder is not None:
        recorder.stop()
