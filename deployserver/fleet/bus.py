"""Invalidation over Redis publish/subscribe: one message per committed change.

The writing process publishes from a background thread, so a write never waits on Redis and
never fails because of it (a message that cannot be sent is dropped: the caches' time bound
still holds). Every worker of every replica runs a :class:`Listener` thread that applies each
message to its caches, reconnects with backoff when Redis goes away and, once subscribed
again, drops all its caches, since messages sent meanwhile never reached it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
import weakref

import redis

from deployserver.extensions import AppState
from deployserver.fleet.changes import EVERYTHING, Change, apply, track_changes

log = logging.getLogger(__name__)

# The channel is "<DEPLOYSERVER_REDIS_PREFIX>:invalidate".
CHANNEL_SUFFIX = ":invalidate"
# Short socket timeouts: Redis is an accelerator, and a dead one must be noticed quickly.
SOCKET_TIMEOUT = 0.5
RECONNECT_FIRST = 0.1
RECONNECT_MAX = 2.0
# redis-py pings an idle subscription this often, so a silently dead link is noticed.
HEALTH_CHECK_SECONDS = 2
QUEUE_ENTRIES = 10_000
# At exit (a CLI command), pending messages get this long to leave.
DRAIN_SECONDS = 2.0
EXTRAS_PUBLISHER = "fleet_publisher"
EXTRAS_LISTENER = "fleet_listener"


def client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


class Publisher:
    """Sends messages from a queue on its own daemon thread, started on first use."""

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._queue: queue.Queue[str] = queue.Queue(QUEUE_ENTRIES)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False

    def publish(self, changes: list[Change]) -> None:
        for change in changes:
            try:
                self._queue.put_nowait(change.to_message())
            except queue.Full:
                log.warning("invalidation queue full; %s %s left to the time bound", *_what(change))
        self._ensure_thread()

    def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait (at most ``timeout``) until every queued message was sent or given up."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="deployserver-publish", daemon=True
                )
                self._thread.start()
                atexit.register(self.drain)

    def _run(self) -> None:
        client = client_for(self._url)
        while True:
            message = self._queue.get()
            try:
                client.publish(self._channel, message)
                if self._failing:
                    log.info("invalidation: Redis reachable again; publishing")
                self._failing = False
            except (redis.RedisError, OSError) as exc:
                if not self._failing:
                    log.warning(
                        "invalidation: cannot publish to Redis (%s); changes reach other "
                        "workers within the cache time bound",
                        type(exc).__name__,
                    )
                self._failing = True
            finally:
                self._queue.task_done()


class Listener:
    """Applies every message to one app's caches, on a daemon thread, reconnecting forever."""

    def __init__(self, url: str, channel: str, app_state: AppState) -> None:
        self._url = url
        self._channel = channel
        # Weak: an app a test builds and drops must not be kept alive by its listener.
        self._app_state = weakref.ref(app_state)
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deployserver-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = RECONNECT_FIRST
        lost = False
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = client_for(self._url).pubsub()
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Confirmed by Redis (first time, or after redis-py reconnected on
                        # its own): messages sent before may have been missed, so drop all.
                        if not self._deliver(Change(EVERYTHING)):
                            return
                        if lost:
                            log.info("invalidation: subscribed to Redis again; caches dropped")
                        self.subscribed.set()
                        lost, delay = False, RECONNECT_FIRST
                    elif message["type"] == "message":
                        change = Change.from_message(message["data"])
                        if change is not None and not self._deliver(change):
                            return
            except (redis.RedisError, OSError) as exc:
                self.subscribed.clear()
                if not lost:
                    log.warning(
                        "invalidation: Redis unreachable (%s); caches expire by their time "
                        "bound until it is back",
                        type(exc).__name__,
                    )
                lost = True
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        pubsub.close()

    def _deliver(self, change: Change) -> bool:
        app_state = self._app_state()
        if app_state is None:
            return False
        try:
            apply(app_state, change)
        except Exception:
            # A bug in one cache must not end invalidation for the others.
            log.exception("invalidation: applying %s %s failed", *_what(change))
        return True


def _what(change: Change) -> tuple[str, str]:
    return change.kind, change.name


def channel_of(app_state: AppState) -> str:
    return app_state.config.redis_prefix + CHANNEL_SUFFIX


def install(app_state: AppState) -> None:
    """Apply each committed change to this process's caches and, with Redis, publish it."""
    url = app_state.config.redis_url
    publisher = Publisher(url, channel_of(app_state)) if url else None
    app_state.extras[EXTRAS_PUBLISHER] = publisher
    state_ref = weakref.ref(app_state)

    def deliver(changes: list[Change]) -> None:
        local = state_ref()
        if local is not None:
            for change in changes:
                try:
                    apply(local, change, written_here=True)
                except Exception:
                    log.exception("invalidation: applying %s %s failed", *_what(change))
        if publisher is not None:
            publisher.publish(changes)

    track_changes(app_state.sessions, deliver)


def start_listener(app_state: AppState) -> Listener | None:
    """Subscribe this worker to the changes of every replica (None without Redis)."""
    url = app_state.config.redis_url
    if not url:
        return None
    listener = app_state.extras.get(EXTRAS_LISTENER)
    if listener is None:
        listener = app_state.extras[EXTRAS_LISTENER] = Listener(
            url, channel_of(app_state), app_state
        )
        listener.start()
    return listener
