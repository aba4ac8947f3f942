"""The production server under hostile clients and restarts, against a real ``deployserver serve``.

- Idle and half-sent connections (slowloris) cannot keep polls from being answered.
- The largest license we issue fits in the request headers the server accepts.
- Requests gunicorn refuses before the app runs still answer problem+json.
- A restart with the start command of ``make run`` never changes what is served.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import (
    admin_token,
    cli_env,
    free_port,
    http,
    run_cli,
    running_server,
    serving,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_URL = "/api/v1/operator/channel"


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"license:{token}".encode()).decode()}


def publish_one(base: str, admin: dict[str, str]) -> None:
    assert http("POST", base + "/api/v1/channels", admin, {"name": "stable"}).status == 201
    chart = {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "1.0.0"}
    body = {"version": "1.0.0", "chart": chart, "values": {"app": {"replicas": 2}}}
    published = http("POST", base + "/api/v1/channels/stable/releases", admin, body)
    assert published.status == 201, published.body


def issue(base: str, admin: dict[str, str], **extra: object) -> tuple[int, dict[str, object]]:
    result = http("POST", base + "/api/v1/licenses", admin, {"subject": "acme", **extra})
    return result.status, result.json()


@contextmanager
def held_connections(port: int, idle: int, partial: int) -> Iterator[list[socket.socket]]:
    """``idle`` connections that send nothing and ``partial`` that stop mid-header."""
    held: list[socket.socket] = []
    try:
        for number in range(idle + partial):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if number >= idle:
                sock.sendall(
                    f"GET {CHANNEL_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{number}: ".encode()
                )
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def timed_poll(url: str, headers: dict[str, str]) -> float:
    started = time.monotonic()
    result = http("GET", url, headers)
    elapsed = time.monotonic() - started
    assert result.status == 200, result.body
    return elapsed


def test_idle_and_half_sent_connections_cannot_stop_polls(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "instance")
    port = free_port()
    command = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
    with serving(command, port, env) as base:
        admin = admin_token(env)
        publish_one(base, admin)
        _, issued = issue(base, admin, channel="stable")
        headers = basic(str(issued["token"]))
        with held_connections(port, idle=300, partial=300) as held:
            times = [timed_poll(base + CHANNEL_URL, headers) for _ in range(15)]
            assert max(times) < 1.0, times
            # The server, not the client, ends a connection that never sends a whole request
            # head: after keepalive (5 s), so nothing waits on one for ever.
            probe = held[0]
            probe.settimeout(15)
            assert probe.recv(1) == b""
            assert held[-1].recv(1) == b""
        # Once they are gone, nothing is left stuck.
        times = [timed_poll(base + CHANNEL_URL, headers) for _ in range(15)]
        assert max(times) < 1.0, times
        assert http("GET", base + "/readyz").status == 200


def largest_issuable(base: str, admin: dict[str, str]) -> str:
    """The longest license the server issues (entitlements padded to just under the bound)."""
    low, high, best = 1, 16 * 1024, ""
    while low <= high:
        size = (low + high) // 2
        status, body = issue(base, admin, channel="stable", entitlements={"pad": "x" * size})
        if status == 201:
            best, low = str(body["token"]), size + 1
        else:
            assert status == 422 and "exceed" in json.dumps(body), body
            high = size - 1
    return best


def test_the_largest_license_fits_in_the_request_headers(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "instance")
    with running_server(env) as base:
        admin = admin_token(env)
        publish_one(base, admin)
        token = largest_issuable(base, admin)
        # Within a few characters of the 16 KiB bound: nothing larger is issued.
        assert 16 * 1024 - 8 <= len(token) <= 16 * 1024
        result = http("GET", base + CHANNEL_URL, basic(token))
        assert result.status == 200, result.body
        assert len(basic(token)["Authorization"]) > 21_800  # what the header limit admits
        # As a Kubernetes secret made from a file sends it: with a trailing newline.
        assert http("GET", base + CHANNEL_URL, basic(token + "\n")).status == 200


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI_TOO_LONG"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 30000 + b"\r\n\r\n",
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % n for n in range(60))
            + b"\r\n",
            431,
            "HEADERS_TOO_LARGE",
        ),
        (b"THIS IS NOT HTTP\r\n\r\n", 400, "MALFORMED_REQUEST_LINE"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "MALFORMED_REQUEST"),
    ],
    ids=["uri-too-long", "header-too-large", "too-many-headers", "bad-line", "bad-header"],
)
def test_refusals_before_the_app_are_problem_json(
    tmp_path: Path, request_bytes: bytes, status: int, code: str
) -> None:
    env = cli_env(tmp_path / "instance")
    port = free_port()
    command = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
    with serving(command, port, env):
        answer_status, headers, body = raw_exchange(port, request_bytes)
    assert answer_status == status, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["code"] == code
    assert problem["requestId"] == headers["x-request-id"]
    # The refused input is never echoed back.
    assert b"aaaa" not in body and b"bbbb" not in body and b"NOT HTTP" not in body


def make_run_command(port: int) -> list[str]:
    """The serve line of ``make run``, with its variables filled in."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    line = next(line.strip() for line in recipe.splitlines()[1:] if " serve " in line)
    words = line.split()
    assert words[0] == "$(BIN)/deployserver", line
    values = {"$(HOST)": "127.0.0.1", "$(PORT)": str(port), "$(WORKERS)": "2"}
    return [sys.executable, "-m", "deployserver.cli", *(values.get(w, w) for w in words[1:])]


def served_version(base: str) -> str:
    result = http("GET", base + CHANNEL_URL)
    assert result.status == 200, result.body
    return str(result.json()["metadata"]["version"])


def test_restart_keeps_a_rest_rollback(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "channels", tmp_path / "channels")
    env = cli_env(tmp_path / "instance", DEPLOYSERVER_LICENSE_CACHE_SECONDS="1")
    port = free_port()
    command = make_run_command(port)
    assert re.search(r"serve --seed channels\b", " ".join(command))
    with serving(command, port, env, cwd=tmp_path) as base:
        # The first start seeded the empty database from the files.
        assert served_version(base) == "0.84.0"
        admin = admin_token(env)
        rollback = http("POST", base + "/api/v1/channels/stable/rollback", admin, {})
        assert rollback.status == 200, rollback.body
        deadline = time.monotonic() + 10  # every worker's cache bound (1 s) has passed
        while served_version(base) != "0.83.1":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    with serving(command, port, env, cwd=tmp_path) as base:
        assert served_version(base) == "0.83.1"
    # Applying the files stays an explicit sync, whose plan says what it would undo.
    plan = run_cli("channels", "sync", str(tmp_path / "channels"), "--dry-run", env=env)
    assert plan.returncode == 0, plan.stderr
    assert "drift stable 0.83.1: made head outside the files (rollback by " in plan.stdout
    assert "move head stable 0.83.1 -> 0.84.0 (promote)" in plan.stdout


def wait_for(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.2)


def test_background_work_runs_in_the_gevent_worker(tmp_path: Path) -> None:
    # The installation recorder's thread and the trust refresh are greenlets in a worker.
    env = cli_env(
        tmp_path / "instance",
        DEPLOYSERVER_LICENSE_CACHE_SECONDS="1",
        DEPLOYSERVER_INSTALLATION_FLUSH_SECONDS="1",
    )
    with running_server(env) as base:
        admin = admin_token(env)
        publish_one(base, admin)
        _, issued = issue(base, admin, channel="stable")
        headers = basic(str(issued["token"]))
        for _ in range(4):
            assert http("GET", base + CHANNEL_URL, headers).status == 200

        def recorded() -> bool:
            listing = http("GET", base + "/api/v1/installations?subject=acme", admin).json()
            return sum(item["pollCount"] for item in listing["items"]) == 4

        wait_for(recorded)
        revoked = http("POST", f"{base}/api/v1/licenses/{issued['id']}/revoke", admin, {})
        assert revoked.status == 200, revoked.body
        # Every worker's trust refresh sees the revocation within the cache bound.
        wait_for(
            lambda: all(http("GET", base + CHANNEL_URL, headers).status == 401 for _ in range(6))
        )
