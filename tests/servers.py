"""Start a real ``deployserver serve`` (gunicorn) in a subprocess for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.reaper import Reaper

CLI = [sys.executable, "-m", "deployserver.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(instance: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
    env["DEPLOYSERVER_INSTANCE_PATH"] = str(instance)
    if database_url:
        env["DEPLOYSERVER_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def running_server(env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """Serve with gunicorn on a free port; yield the base URL; stop it afterwards."""
    port = free_port()
    command = [*CLI, "serve", "--port", str(port), "--workers", str(workers)]
    with serving(command, port, env) as base:
        yield base


@contextmanager
def serving(
    command: list[str], port: int, env: dict[str, str], cwd: Path | None = None
) -> Iterator[str]:
    """Run ``command`` (a server on ``port``) until /healthz answers; stop it afterwards.

    The server's output goes to a file, not a pipe: nobody reads a pipe while tests run,
    and a full one would block the server's logging (and so its workers). The server runs
    in a process group of its own, which a reaper stops if this process dies first.
    """
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        reaper = Reaper(["--process-group", str(process.pid)])
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited with {process.returncode}: {log.read()}")
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not come up within 120 s")
                time.sleep(0.1)
            try:
                yield base
            except BaseException:
                # The test failed with the server up (or gone): its own log says why.
                log.seek(0)
                exited = process.poll()
                state = "running" if exited is None else f"exited with {exited}"
                print(f"--- server {base} ({state}), its log ends:\n{log.read()[-4000:]}")
                raise
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reaper.release()


class HttpResult:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> HttpResult:
    """One HTTP exchange on a fresh connection; error statuses are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return HttpResult(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, dict(error.headers), error.read())


def admin_token(env: dict[str, str]) -> dict[str, str]:
    """Create an admin token with the CLI; return headers presenting it."""
    result = run_cli(
        "tokens", "create", "--name", f"admin-{free_port()}", "--role", "admin", env=env
    )
    assert result.returncode == 0, result.stderr
    return {"Authorization": f"Bearer {result.stdout.strip().splitlines()[-1]}"}
