"""Polling throughput: the full licensed poll against a bare Flask view, side by side.

Starts ``deployserver serve`` as it ships (2 gunicorn workers of its gevent worker class,
SQLite) seeded through its own CLI and REST API, and beside it a bare Flask view returning
the same bytes under plain gunicorn with 2 sync workers. wrk drives both in turns for
several rounds; the medians, their ratios and each side's worker memory are printed. Run
with ``make bench``; ``BENCH_ROUNDS``, ``BENCH_SECONDS`` and ``BENCH_CONNECTIONS`` tune it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = 2
CHANNEL_FILE = ROOT / "channels" / "stable.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@contextmanager
def serving(
    command: list[str], env: dict[str, str], probe: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own session until the block ends; yields the process."""
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(probe, process)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def seed(base: str, env: dict[str, str], with_admin: bool = False) -> Any:
    """Create a channel with one realistic release and a license for it; return the license
    (and, ``with_admin``, the admin token that made them)."""
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "deployserver.cli",
            "tokens",
            "create",
            "--name",
            "bench",
            "--role",
            "admin",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    admin = created.stdout.strip().splitlines()[-1]
    values = {
        "global": {
            "host": "https://wandb.example.com",
            "bucket": {"provider": "s3", "name": "wandb-bench", "region": "us-east-1"},
            "mysql": {"host": "mysql.internal", "port": 3306, "database": "wandb_local"},
        },
        "app": {"image": {"repository": "wandb/local", "tag": "0.83.1"}, "replicas": 2},
        "weave": {"enabled": True, "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}},
        "reconcileFrequency": "1h",
    }
    call("POST", f"{base}/api/v1/channels", admin, {"name": "stable", "values": {}})
    call(
        "POST",
        f"{base}/api/v1/channels/stable/releases",
        admin,
        {
            "version": "0.83.1",
            "chart": {
                "url": "https://charts.wandb.ai",
                "name": "operator-wandb",
                "version": "0.83.1",
            },
            "values": values,
        },
    )
    issued = call(
        "POST", f"{base}/api/v1/licenses", admin, {"subject": "bench", "channel": "stable"}
    )
    if with_admin:
        return str(issued["token"]), admin
    return str(issued["token"])


def wrk(
    url: str, headers: dict[str, str], seconds: int = SECONDS, connections: int = CONNECTIONS
) -> dict[str, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": rps,
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),  # type: ignore[union-attr]
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# Called after seeding with (base URL, admin token, instance folder): a variant's own setup.
Prepare = Callable[[str, str, Path], None]


def main(prepare: Prepare | None = None, title: str = "") -> None:
    """Seed a served instance (and ``prepare`` it), then measure it beside the bare view."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required: apt-get install wrk (make bench does this)")
    with tempfile.TemporaryDirectory(prefix="deployserver-bench-") as folder:
        instance = Path(folder) / "instance"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        env["DEPLOYSERVER_INSTANCE_PATH"] = str(instance)
        full_port, bare_port = free_port(), free_port()
        full = f"http://127.0.0.1:{full_port}"
        bare = f"http://127.0.0.1:{bare_port}"
        serve = [
            sys.executable,
            "-m",
            "deployserver.cli",
            "serve",
            "--port",
            str(full_port),
            "--workers",
            str(WORKERS),
        ]
        with serving(serve, env, full + "/healthz") as server:
            license_token, admin = seed(full, env, with_admin=True)
            if prepare is not None:
                prepare(full, admin, instance)
            auth = "Basic " + base64.b64encode(f"license:{license_token}".encode()).decode()
            headers = {"Authorization": auth}
            request = urllib.request.Request(full + "/api/v1/operator/channel", headers=headers)
            with urllib.request.urlopen(request) as response:
                body = response.read()
            body_file = Path(folder) / "body.json"
            body_file.write_bytes(body)
            bare_env = {**env, "BENCH_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)}
            with serving(
                bare_command(bare_port), bare_env, bare + "/api/v1/operator/channel"
            ) as bare_server:
                if title:
                    print(title)
                report(full, bare, headers, len(body))
                print(
                    f"worker RSS MB: poll {worker_rss(server.pid)}, "
                    f"bare {worker_rss(bare_server.pid)}"
                )


def worker_rss(master: int) -> list[int]:
    """Resident memory (MB) of each worker process of the gunicorn ``master``."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        kilobytes = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        sizes.append(round(kilobytes / 1024))
    return sorted(sizes)


def bare_command(port: int, workers: int = WORKERS) -> list[str]:
    """Plain gunicorn with sync workers serving ``bench.bare`` (the baseline)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--keep-alive",
        "5",
        "--bind",
        f"127.0.0.1:{port}",
        "bench.bare:app",
    ]


def report(full: str, bare: str, headers: dict[str, str], size: int) -> None:
    path = "/api/v1/operator/channel"
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "poll": []}
    print(
        f"body {size} bytes; {ROUNDS} rounds of {SECONDS}s, {CONNECTIONS} connections; "
        f"poll: deployserver serve, {WORKERS} workers (gevent); "
        f"bare: {WORKERS} gunicorn sync workers"
    )
    for round_number in range(1, ROUNDS + 1):
        runs["bare"].append(wrk(bare + path, headers))
        runs["poll"].append(wrk(full + path, headers))
        b, p = runs["bare"][-1], runs["poll"][-1]
        print(
            f"round {round_number}: bare {b['rps']:8.0f} req/s p99 {b['p99']:6.2f} ms | "
            f"poll {p['rps']:8.0f} req/s p99 {p['p99']:6.2f} ms | "
            f"ratio {p['rps'] / b['rps']:.3f}"
        )
    ratios = [p["rps"] / b["rps"] for b, p in zip(runs["bare"], runs["poll"], strict=True)]
    p99s = [p["p99"] / b["p99"] for b, p in zip(runs["bare"], runs["poll"], strict=True)]
    for name, series in runs.items():
        print(
            f"{name:5s} median: {statistics.median(r['rps'] for r in series):8.0f} req/s, "
            f"p50 {statistics.median(r['p50'] for r in series):.2f} ms, "
            f"p99 {statistics.median(r['p99'] for r in series):.2f} ms, "
            f"non-2xx {sum(r['errors'] for r in series):.0f}"
        )
    print(
        f"throughput ratio poll/bare (median of rounds): {statistics.median(ratios):.3f} "
        f"(budget >= 1.0)"
    )
    print(f"p99 ratio poll/bare (median of rounds): {statistics.median(p99s):.2f} (budget <= 2.0)")
    if any(r["errors"] for r in runs["poll"]):
        raise SystemExit("the poll answered something other than 2xx/3xx")


if __name__ == "__main__":
    main()
