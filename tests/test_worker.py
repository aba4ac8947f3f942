"""The gunicorn worker: its refusals, and every database driver under gevent's patching.

The driver checks run in a fresh interpreter that does what a worker does: import the
driver first (the master migrates before forking), then ``monkey.patch_all()`` and
:func:`deployserver.worker.cooperative_psycopg`. Four greenlets each sleep 0.4 s in the
database; cooperative waits overlap them, a blocking driver would take 1.6 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gunicorn.http import errors as http_errors

from deployserver.worker import problem_response, refusal_for
from tests.backends import configured_backends, temporary_database

PROBE = textwrap.dedent(
    """
    import sys, time, threading
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool
    engine = create_engine(sys.argv[1], poolclass=NullPool)
    with engine.connect() as connection:  # the driver is imported and used before the patch
        connection.execute(text("SELECT 1"))
    from gevent import monkey
    monkey.patch_all()
    from deployserver.worker import cooperative_psycopg
    cooperative_psycopg()
    import gevent
    def nap(connection):
        connection.execute(text(sys.argv[2]))
    connections = [engine.connect() for _ in range(4)]
    started = time.monotonic()
    gevent.joinall([gevent.spawn(nap, c) for c in connections], raise_error=True)
    naps = time.monotonic() - started
    # A background thread (the recorder's, the trust refresh's) is a greenlet now: it runs
    # its database work and finishes while the loop serves others.
    done = []
    worker = threading.Thread(target=lambda: (nap(connections[0]), done.append(True)))
    worker.start()
    worker.join(5)
    print(naps, bool(done))
    """
)
# SQLite calls are local and short: they block the loop while they run, by design, and
# only have to work; the network drivers must wait cooperatively.
SLEEPS = {
    "sqlite": "SELECT 1",
    "postgresql": "SELECT pg_sleep(0.4)",
    "mysql": "SELECT SLEEP(0.4)",
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", configured_backends())
def test_database_drivers_work_under_gevent(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, url, SLEEPS[backend]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    naps, thread_done = result.stdout.split()
    assert thread_done == "True"
    if backend != "sqlite":
        assert float(naps) < 1.2, naps


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (http_errors.LimitRequestLine(9000, 4094), 414, "URI_TOO_LONG"),
        (http_errors.LimitRequestHeaders("too big"), 431, "HEADERS_TOO_LARGE"),
        (http_errors.InvalidRequestLine("x"), 400, "MALFORMED_REQUEST_LINE"),
        (http_errors.InvalidHeaderName("x y"), 400, "MALFORMED_REQUEST"),
        (http_errors.UnsupportedTransferCoding("gzip"), 501, "UNSUPPORTED_TRANSFER_CODING"),
    ],
)
def test_refusals_map_to_statuses_and_codes(exc: Exception, status: int, code: str) -> None:
    refusal = refusal_for(exc)
    assert refusal is not None and (refusal[0], refusal[2]) == (status, code)


def test_application_errors_are_not_refusals() -> None:
    assert refusal_for(http_errors.InvalidResponseHeader("x")) is None
    assert refusal_for(ValueError("boom")) is None


def test_problem_response_is_complete_http() -> None:
    raw = problem_response(431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE", "big")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    document = json.loads(body)
    assert document["status"] == 431 and document["code"] == "HEADERS_TOO_LARGE"
    assert document["requestId"] == headers["X-Request-ID"]
