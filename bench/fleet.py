"""Fleet propagation: two replicas, publishes under poll load, the delay until all serve it.

Starts a private ``redis-server`` and two ``deployserver serve`` replicas (2 gunicorn workers
each) on one database (SQLite in a temporary folder, or ``BENCH_DATABASE_URL``), with a
license cache bound of an hour, so only invalidation can make a change visible in time.
Poller threads keep both replicas busy with licensed polls, each on a new connection (so
spread over the workers). ``BENCH_PUBLISHES`` releases are published through the first
replica, one at a time; for each, the delay is measured from the moment the publish
answered (committed) to the answer of the last poll, sent after that moment, that still
showed the old release: after it, every worker that answered served the new one. p50, p99
and max over the publishes are printed. Run with ``make bench-fleet``.
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.poll import call, free_port, seed, serving

PUBLISHES = int(os.environ.get("BENCH_PUBLISHES", "30"))
POLLERS = int(os.environ.get("BENCH_POLLERS", "6"))
GAP_SECONDS = float(os.environ.get("BENCH_GAP_SECONDS", "1.0"))
WORKERS = 2


class Pollers:
    """Threads polling both replicas; every answer kept as (sent, received, version)."""

    def __init__(self, ports: list[int], authorization: str) -> None:
        self._ports = ports
        self._headers = {"Authorization": authorization}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.answers: list[tuple[float, float, str]] = []
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(POLLERS)
        ]

    def __enter__(self) -> Pollers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, index: int) -> None:
        turn = index
        while not self._stop.is_set():
            port = self._ports[turn % len(self._ports)]
            turn += 1
            sent = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/api/v1/operator/channel", headers=self._headers)
                response = connection.getresponse()
                body = response.read()
            finally:
                connection.close()
            received = time.monotonic()
            version = body.split(b'"version":"', 1)[1].split(b'"', 1)[0].decode()
            with self._lock:
                self.answers.append((sent, received, version))


def redis_server(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is required (apt-get install redis-server)")
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="deployserver-fleet-") as folder, ExitStack() as stack:
        redis_port = free_port()
        redis = redis_server(redis_port)
        stack.callback(lambda: (redis.kill(), redis.wait()))
        time.sleep(0.3)
        database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/fleet.db"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        base_env.update(
            DEPLOYSERVER_DATABASE_URL=database,
            DEPLOYSERVER_SECRET_KEY="bench-fleet-secret-not-for-production",
            DEPLOYSERVER_LICENSE_CACHE_SECONDS="3600",
            DEPLOYSERVER_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        )
        ports = [free_port(), free_port()]
        envs = []
        for index, port in enumerate(ports):
            env = {**base_env, "DEPLOYSERVER_INSTANCE_PATH": str(Path(folder) / f"replica-{index}")}
            envs.append(env)
            command = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
            command += ["--workers", str(WORKERS)]
            stack.enter_context(serving(command, env, f"http://127.0.0.1:{port}/healthz"))
        writer = f"http://127.0.0.1:{ports[0]}"
        license_token, admin = seed(writer, envs[0]), admin_token(envs[0])
        authorization = "Basic " + base64.b64encode(f"license:{license_token}".encode()).decode()
        delays: list[float] = []
        with Pollers(ports, authorization) as pollers:
            time.sleep(2)  # every worker has answered (and cached) the first release
            for number in range(PUBLISHES):
                version = f"1.0.{number + 1}"
                old = "0.83.1" if number == 0 else f"1.0.{number}"
                release = {
                    "version": version,
                    "chart": {
                        "url": "https://charts.wandb.ai",
                        "name": "operator-wandb",
                        "version": version,
                    },
                    "values": {"app": {"tag": version}},
                }
                call("POST", f"{writer}/api/v1/channels/stable/releases", admin, release)
                committed = time.monotonic()
                time.sleep(GAP_SECONDS)
                with pollers._lock:
                    stale = [
                        received
                        for sent, received, seen in pollers.answers
                        if sent >= committed and seen == old
                    ]
                delays.append(max(stale) - committed if stale else 0.0)
            polls = len(pollers.answers)
        report(delays, polls)


def admin_token(env: dict[str, str]) -> str:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "deployserver.cli",
            "tokens",
            "create",
            "--name",
            "fleet",
            "--role",
            "admin",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def report(delays: list[float], polls: int) -> None:
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"{len(delays)} publishes through replica 1 of 2 ({WORKERS} workers each), "
        f"{POLLERS} pollers, {polls} polls, license cache bound 3600 s"
    )
    print(
        "delay until every answer showed the new release: "
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )
    print(f"publishes with no stale answer at all after the commit: {ordered.count(0.0)}")


if __name__ == "__main__":
    main()
