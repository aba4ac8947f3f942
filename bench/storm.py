"""Retry storm: 500 operators poll at once, with the operator's retry pattern, across a publish.

Each client has its own license and polls in a loop (a pause of up to ``BENCH_STORM_PAUSE``
seconds between polls); on anything but a 200 it sleeps 2 s and tries again, five tries at
most, as the operator does. A release is published through REST while the storm runs. The
run fails unless every answer was a 200 and every poll that started later than the cache
bound (``BENCH_LICENSE_CACHE_SECONDS``, default 5) after the publish returned the new head.

The server is ``deployserver serve`` with ``BENCH_STORM_WORKERS`` workers of its gevent
worker class (default 2 x nproc, as before with sync workers, to compare like with like;
a gevent worker holds many connections at once, so nproc would do) and gunicorn's default
listen backlog of 2048 (the kernel's somaxconn must allow it): 500 simultaneous connects
wait in the backlog instead of being refused. Run with ``make bench-storm``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.poll import call, free_port, seed, serving

CLIENTS = int(os.environ.get("BENCH_STORM_CLIENTS", "500"))
WORKERS = int(os.environ.get("BENCH_STORM_WORKERS", str(2 * (os.cpu_count() or 1))))
PAUSE = float(os.environ.get("BENCH_STORM_PAUSE", "1.0"))
CACHE_SECONDS = float(os.environ.get("BENCH_LICENSE_CACHE_SECONDS", "5"))
PUBLISH_AFTER = 5.0  # seconds of storm before the publish
AFTER_BOUND = 5.0  # seconds of storm once the bound after the publish has passed
TRIES = 5
RETRY_SLEEP = 2.0
PATH = "/api/v1/operator/channel"
TOKEN_CREATE = ["tokens", "create", "--name", "storm", "--role", "admin"]


@dataclass
class Poll:
    started: float
    ended: float
    status: int
    release_id: str | None


@dataclass
class Client:
    authorization: str
    polls: list[Poll] = field(default_factory=list)
    gave_up: int = 0


def poll_once(port: int, authorization: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", PATH, headers={"Authorization": authorization})
        response = connection.getresponse()
        body = response.read()
    except OSError:
        return 0, None
    finally:
        connection.close()
    if response.status != 200:
        return response.status, None
    return 200, str(json.loads(body)["metadata"]["releaseId"])


def run_client(client: Client, port: int, start: threading.Event, stop: threading.Event) -> None:
    start.wait()
    while not stop.is_set():
        for _ in range(TRIES):
            began = time.monotonic()
            status, release_id = poll_once(port, client.authorization)
            client.polls.append(Poll(began, time.monotonic(), status, release_id))
            if status == 200:
                break
            time.sleep(RETRY_SLEEP)
        else:
            client.gave_up += 1
        time.sleep(random.uniform(0, PAUSE))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="deployserver-storm-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        env["DEPLOYSERVER_INSTANCE_PATH"] = str(Path(folder) / "instance")
        env["DEPLOYSERVER_LICENSE_CACHE_SECONDS"] = f"{CACHE_SECONDS:g}"
        if os.environ.get("BENCH_DATABASE_URL"):
            env["DEPLOYSERVER_DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
        serve += ["--workers", str(WORKERS)]
        with serving(serve, env, base + "/healthz"):
            first = seed(base, env)
            admin = _admin_token(env)
            tokens = [first] + [
                call(
                    "POST",
                    f"{base}/api/v1/licenses",
                    admin,
                    {"subject": f"storm-{n}", "channel": "stable"},
                )["token"]
                for n in range(1, CLIENTS)
            ]
            clients = [
                Client("Basic " + base64.b64encode(f"license:{t}".encode()).decode())
                for t in tokens
            ]
            start, stop = threading.Event(), threading.Event()
            threads = [
                threading.Thread(target=run_client, args=(c, port, start, stop), daemon=True)
                for c in clients
            ]
            for thread in threads:
                thread.start()
            began = time.monotonic()
            start.set()
            time.sleep(PUBLISH_AFTER)
            published = call(
                "POST",
                f"{base}/api/v1/channels/stable/releases",
                admin,
                {
                    "version": "0.84.0",
                    "chart": {
                        "url": "https://charts.wandb.ai",
                        "name": "operator-wandb",
                        "version": "0.84.0",
                    },
                    "values": {"app": {"replicas": 3}},
                },
            )
            publish_done = time.monotonic()
            time.sleep(CACHE_SECONDS + AFTER_BOUND)
            stop.set()
            for thread in threads:
                thread.join(timeout=TRIES * (RETRY_SLEEP + 60))
            ended = time.monotonic()
    verdict(clients, str(published["id"]), publish_done, ended - began)


def _admin_token(env: dict[str, str]) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "deployserver.cli", *TOKEN_CREATE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def verdict(clients: list[Client], new_head: str, publish_done: float, seconds: float) -> None:
    polls = [p for c in clients for p in c.polls]
    failures = [p for p in polls if p.status != 200]
    deadline = publish_done + CACHE_SECONDS
    stale = [p for p in polls if p.started > deadline and p.release_id != new_head]
    reached = [
        min((p.ended for p in c.polls if p.release_id == new_head), default=None) for c in clients
    ]
    missing = sum(1 for r in reached if r is None)
    latencies = sorted((p.ended - p.started) * 1000 for p in polls)
    last_old = max(
        (p.ended for p in polls if p.status == 200 and p.release_id != new_head), default=0.0
    )
    print(
        f"{len(clients)} clients, {WORKERS} deployserver serve workers (gevent), cache bound "
        f"{CACHE_SECONDS:g}s, {seconds:.1f}s of storm"
    )
    p99 = latencies[int(len(latencies) * 0.99)]
    print(
        f"{len(polls)} polls ({len(polls) / seconds:.0f}/s), latency p50 "
        f"{statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    )
    print(
        f"non-200 answers: {len(failures)}; clients that gave up: {sum(c.gave_up for c in clients)}"
    )
    print(
        f"new head: every client had it {max(r or 0.0 for r in reached) - publish_done:.2f}s after "
        f"the publish; last old head answered {last_old - publish_done:.2f}s after it "
        f"(bound {CACHE_SECONDS:g}s); clients that never saw it: {missing}; stale polls after "
        f"the bound: {len(stale)}"
    )
    if failures or stale or missing:
        raise SystemExit("retry storm: FAILED")
    print("retry storm: ok")


if __name__ == "__main__":
    main()
