"""Prometheus metrics (API.md section 9), counted per worker, aggregated at scrape.

Under ``deployserver serve`` every worker counts into prometheus_client's multiprocess files
(``PROMETHEUS_MULTIPROC_DIR``, a folder of the instance that the server empties at start);
``GET /metrics`` merges them. Elsewhere (tests, one process) the default registry is used.
State that lives in the database (each channel's head, installations per channel) is read
at scrape time, not counted.

The hot path only adds to this process's tally (see :class:`_Tally`). The channel label
comes from signed licenses, so its values are bounded by what was issued.
"""

from __future__ import annotations

import atexit
import bisect
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Integer, case, func, select
from sqlalchemy.exc import DBAPIError

from deployserver.db import utcnow
from deployserver.extensions import AppState
from deployserver.models import Channel, Installation, Release

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROC_FOLDER = "prometheus"
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FLUSH_SECONDS = 1.0
# An installation counts as active when it polled within this window (as the adoption view).
ACTIVE_WINDOW = timedelta(hours=24)


class _Metrics:
    """The counted metrics, made on first use: by then a server has chosen the value class
    (multiprocess or not), whatever the command line imported before (``cli/serve.py``)."""

    def __init__(self) -> None:
        # registry=None: not the default registry; exposition() collects them itself.
        self.polls = Counter(
            "deployserver_polls",
            "Operator polls by channel and outcome",
            ["channel", "outcome"],
            registry=None,
        )
        self.poll_duration = Histogram(
            "deployserver_poll_duration_seconds",
            "Time to answer an operator poll",
            buckets=BUCKETS,
            registry=None,
        )
        self.verdicts = Counter(
            "deployserver_license_verdicts", "License verdicts by code", ["code"], registry=None
        )
        self.cache_lookups = Counter(
            "deployserver_cache_lookups",
            "Per-worker cache lookups by cache and result",
            ["cache", "result"],
            registry=None,
        )
        self.stale_answers = Counter(
            "deployserver_stale_answers",
            "Answers given from the last-known-good store (database down)",
            registry=None,
        )
        self.writes = Counter(
            "deployserver_writes", "Committed writes by audit action", ["action"], registry=None
        )
        self.database_errors = Counter(
            "deployserver_database_errors",
            "Database errors met while answering (outages)",
            registry=None,
        )

    def all(self) -> list[Any]:
        return [
            self.polls,
            self.poll_duration,
            self.verdicts,
            self.cache_lookups,
            self.stale_answers,
            self.writes,
            self.database_errors,
        ]


_made: _Metrics | None = None
_made_lock = threading.Lock()


def _metrics() -> _Metrics:
    global _made
    if _made is None:
        with _made_lock:
            if _made is None:
                _made = _Metrics()
    return _made


def use_multiprocess_folder(folder: str) -> None:
    """Count into ``folder`` from now on, in this process and the ones it forks."""
    os.environ[MULTIPROC_ENV] = folder
    # prometheus_client picks its value class when first imported, perhaps before this.
    values.ValueClass = values.get_value_class()


class _Tally:
    """What this process counted since its last flush into the prometheus_client metrics.

    prometheus_client's multiprocess increment writes a memory-mapped file under a lock
    (about 1 µs, a histogram observation 3.5 µs): several per poll were measured at 14% of a
    poll's CPU time. Here a poll costs dict increments under one uncontended lock; a daemon
    thread moves the sums over every FLUSH_SECONDS, and a scrape flushes its own worker
    first, so other workers' counts are at most that old.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, tuple[str, ...]], int] = {}
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._duration_sum = 0.0
        self._flushing = False
        # A forked worker starts its own flusher (threads do not survive a fork) and owns
        # none of what its parent counted.
        os.register_at_fork(after_in_child=self._forked)

    def count(self, family: str, labels: tuple[str, ...]) -> None:
        key = (family, labels)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
        if not self._flushing:
            self._start_flusher()

    def poll(self, labels: tuple[str, str], seconds: float) -> None:
        # Prometheus buckets hold observations <= their bound: the first bound >= seconds.
        index = bisect.bisect_left(BUCKETS, seconds)
        key = ("polls", labels)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            self._buckets[index] += 1
            self._duration_sum += seconds
        if not self._flushing:
            self._start_flusher()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            buckets, self._buckets = self._buckets, [0] * (len(BUCKETS) + 1)
            duration_sum, self._duration_sum = self._duration_sum, 0.0
        made = _metrics()
        families = {
            "polls": made.polls,
            "verdicts": made.verdicts,
            "cache": made.cache_lookups,
            "stale": made.stale_answers,
            "writes": made.writes,
            "database_errors": made.database_errors,
        }
        for (family, labels), amount in counts.items():
            metric = families[family]
            (metric.labels(*labels) if labels else metric).inc(amount)
        if any(buckets):
            # The histogram's own parts (one value per bucket, and the sum): observe() can
            # only add one observation at a time.
            histogram = made.poll_duration
            for index, amount in enumerate(buckets):
                if amount:
                    histogram._buckets[index].inc(amount)
            histogram._sum.inc(duration_sum)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._counts = {}
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._duration_sum = 0.0
        self._flushing = False

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flushing:
                return
            self._flushing = True
        threading.Thread(target=self._run, name="deployserver-metrics", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


_tally = _Tally()


def poll(channel: str, outcome: str, seconds: float) -> None:
    """Count one poll: ``outcome`` is served, not_modified, refused, not_found or unavailable."""
    _tally.poll((channel, outcome), seconds)


def verdict(code: str) -> None:
    _tally.count("verdicts", (code,))


def cache_lookup(cache: str, hit: bool) -> None:
    _tally.count("cache", (cache, "hit" if hit else "miss"))


def stale_answer() -> None:
    _tally.count("stale", ())


def database_error() -> None:
    _tally.count("database_errors", ())


def writes(actions: list[str]) -> None:
    for action in actions:
        _tally.count("writes", (action,))


class DatabaseState(Collector):
    """Read at scrape: each channel's head version and installations per channel and state."""

    def __init__(self, app_state: AppState) -> None:
        self._engine = app_state.engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        heads = GaugeMetricFamily(
            "deployserver_channel_head_info",
            "The version each channel serves as head (value 1)",
            labels=["channel", "version"],
        )
        installations = GaugeMetricFamily(
            "deployserver_installations",
            "Installations by channel and state (active: polled within 24 hours)",
            labels=["channel", "state"],
        )
        since = utcnow() - ACTIVE_WINDOW
        active = func.sum(case((Installation.last_seen >= since, 1), else_=0)).cast(Integer)
        try:
            with self._engine.connect() as connection:
                head_rows = connection.execute(
                    select(Channel.name, Release.version)
                    .join(Release, Release.id == Channel.head_release_id)
                    .order_by(Channel.name)
                ).all()
                installation_rows = connection.execute(
                    select(Installation.channel, active, func.count())
                    .group_by(Installation.channel)
                    .order_by(Installation.channel)
                ).all()
        except DBAPIError:
            # The counters still answer; the database state is simply absent meanwhile.
            database_error()
            return
        for name, version in head_rows:
            heads.add_metric([name, version], 1)
        for channel, active_count, total in installation_rows:
            installations.add_metric([channel, "active"], active_count or 0)
            installations.add_metric([channel, "stale"], total - (active_count or 0))
        yield heads
        yield installations


def exposition(app_state: AppState) -> bytes:
    """Every metric in the Prometheus text format, merged across this server's workers."""
    _tally.flush()
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    registry.register(DatabaseState(app_state))
    return generate_latest(registry)


class _Default(Collector):
    """The process's own counters (one process: no multiprocess folder)."""

    def collect(self) -> Iterator[Any]:
        for metric in _metrics().all():
            yield from metric.collect()
