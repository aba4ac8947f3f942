"""Slow clients: polls while 300 idle and 300 half-sent connections are held open.

Starts ``deployserver serve`` (2 workers, SQLite) and, for comparison, the same app under
gunicorn's sync workers (what ``serve`` ran before), seeded through the CLI and REST API.
For each: open ``BENCH_IDLE`` connections that send nothing and ``BENCH_PARTIAL`` that stop
in the middle of their headers, then time ``BENCH_POLLS`` licensed polls one after another
(each with a 1 s budget, a 5 s client timeout); close them all and time the polls again.
Run with ``make bench-slowclients``.
"""

from __future__ import annotations

import base64
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.poll import ROOT, free_port, seed, serving

IDLE = int(os.environ.get("BENCH_IDLE", "300"))
PARTIAL = int(os.environ.get("BENCH_PARTIAL", "300"))
POLLS = int(os.environ.get("BENCH_POLLS", "15"))
BUDGET = 1.0
CLIENT_TIMEOUT = 5.0
PATH = "/api/v1/operator/channel"


def hold(port: int) -> list[socket.socket]:
    held = []
    for number in range(IDLE + PARTIAL):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if number >= IDLE:
            sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
        held.append(sock)
    return held


def polls(url: str, headers: dict[str, str]) -> list[float | None]:
    """Seconds each poll took; None for one that failed or ran past the client timeout."""
    times: list[float | None] = []
    for _ in range(POLLS):
        started = time.monotonic()
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as response:
                response.read()
            times.append(time.monotonic() - started)
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            times.append(None)
    return times


def summary(times: list[float | None]) -> str:
    answered = [t for t in times if t is not None]
    within = sum(1 for t in answered if t < BUDGET)
    if not answered:
        return f"{within}/{len(times)} within {BUDGET:.0f} s (none answered)"
    return (
        f"{within}/{len(times)} within {BUDGET:.0f} s, median "
        f"{statistics.median(answered) * 1000:.1f} ms, max {max(answered) * 1000:.1f} ms, "
        f"failed {len(times) - len(answered)}"
    )


def measure(name: str, port: int, headers: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{port}{PATH}"
    held = hold(port)
    try:
        during = polls(url, headers)
    finally:
        for sock in held:
            sock.close()
    after = polls(url, headers)
    print(f"{name}: with {IDLE} idle + {PARTIAL} half-sent held: {summary(during)}")
    print(f"{name}: after they closed: {summary(after)}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="deployserver-slow-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        env["DEPLOYSERVER_INSTANCE_PATH"] = str(Path(folder) / "instance")
        port, sync_port = free_port(), free_port()
        serve = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
        with serving(serve, env, f"http://127.0.0.1:{port}/healthz"):
            token = seed(f"http://127.0.0.1:{port}", env)
            auth = "Basic " + base64.b64encode(f"license:{token}".encode()).decode()
            headers = {"Authorization": auth}
            measure("deployserver serve (gevent)", port, headers)
        # The same app and database under gunicorn's sync workers, as serve ran before.
        sync = [
            *(sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync"),
            *("--bind", f"127.0.0.1:{sync_port}", "wsgi:app"),
        ]
        with serving(
            sync, {**env, "PYTHONPATH": str(ROOT)}, f"http://127.0.0.1:{sync_port}/healthz"
        ):
            measure("gunicorn sync workers", sync_port, headers)


if __name__ == "__main__":
    main()
