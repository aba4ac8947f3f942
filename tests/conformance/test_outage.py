"""Database outage: known answers keep being served, unknown ones are 503, recovery is automatic.

A private PostgreSQL is started for this module, the server polls against it, the database is
stopped, and the answers are checked, including after the workers are recycled; the database
is started again and the server recovers without a restart.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.operator_client import basic, decode_spec
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.servers import admin_token, cli_env, http, running_server

pytestmark = pytest.mark.slow

CACHE_SECONDS = 1
CHANNEL = "/api/v1/operator/channel"


def chart(version: str) -> dict[str, str]:
    return {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": version}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def deployment(
    postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    instance = tmp_path_factory.mktemp("outage") / "instance"
    env = cli_env(instance, postgres.url, DEPLOYSERVER_LICENSE_CACHE_SECONDS=str(CACHE_SECONDS))
    with running_server(env, workers=2) as base:
        admin = admin_token(env)
        for name in ("stable", "beta"):
            assert http("POST", f"{base}/api/v1/channels", admin, {"name": name}).status == 201
        # Head once, never polled: during the outage nothing is known of it.
        oldest = http(
            "POST",
            f"{base}/api/v1/channels/stable/releases",
            admin,
            {"version": "0.9.0", "chart": chart("0.9.0"), "values": {"v": "0"}},
        ).json()
        first = http(
            "POST",
            f"{base}/api/v1/channels/stable/releases",
            admin,
            {"version": "1.0.0", "chart": chart("1.0.0"), "values": {"v": "1"}},
        ).json()
        second = http(
            "POST",
            f"{base}/api/v1/channels/stable/releases",
            admin,
            {"version": "1.1.0", "chart": chart("1.1.0"), "values": {"v": "2"}},
        ).json()
        http(
            "POST",
            f"{base}/api/v1/channels/beta/releases",
            admin,
            {"version": "2.0.0", "chart": chart("2.0.0"), "values": {}},
        )
        good = http(
            "POST", f"{base}/api/v1/licenses", admin, {"subject": "good", "channel": "stable"}
        ).json()
        revoked = http(
            "POST", f"{base}/api/v1/licenses", admin, {"subject": "bad", "channel": "stable"}
        ).json()
        beta = http(
            "POST", f"{base}/api/v1/licenses", admin, {"subject": "beta", "channel": "beta"}
        ).json()
        yield {
            "base": base,
            "admin": admin,
            "env": env,
            "instance": instance,
            "oldest": oldest,
            "first": first,
            "second": second,
            "good": good,
            "revoked": revoked,
            "beta": beta,
        }


def poll(base: str, headers: dict[str, str] | None = None, path: str = CHANNEL) -> Any:
    return http("GET", base + path, headers)


def gunicorn_workers(base: str) -> list[int]:
    """The worker processes of the server on ``base``'s port, read from /proc (``ps`` may
    cut long command lines)."""
    port = base.rsplit(":", 1)[1]
    processes: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        processes[int(entry.name)] = (parent, args)
    masters = {
        pid
        for pid, (_, args) in processes.items()
        if "serve" in args and "--port" in args and port in args
    }
    return [pid for pid, (parent, _) in processes.items() if parent in masters]


def test_outage_serves_known_answers_and_recovers(
    postgres: PrivatePostgres, deployment: dict[str, Any]
) -> None:
    base = deployment["base"]
    good = basic(deployment["good"]["token"])
    revoked = basic(deployment["revoked"]["token"])
    pin = f"{CHANNEL}/release/{deployment['first']['id']}"

    # Before: every answer the server will be asked for during the outage, once.
    known_latest = poll(base, good)
    assert known_latest.status == 200
    known_anonymous = poll(base)
    known_pin = poll(base, good, pin)
    assert known_pin.status == 200
    http(
        "POST", f"{base}/api/v1/licenses/{deployment['revoked']['id']}/revoke", deployment["admin"]
    )
    time.sleep(CACHE_SECONDS + 0.5)
    assert poll(base, revoked).json()["code"] == "LICENSE_REVOKED"

    postgres.stop()
    try:
        time.sleep(CACHE_SECONDS + 0.5)
        for _ in range(2):  # both workers, whichever answers
            assert_known_answers(
                base, good, revoked, pin, known_latest, known_anonymous, known_pin, deployment
            )

        # A worker recycle during the outage: new workers know only the shared store.
        killed = set(gunicorn_workers(base))
        assert killed
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        wait_for_new_workers(base, killed)
        assert_known_answers(
            base, good, revoked, pin, known_latest, known_anonymous, known_pin, deployment
        )
    finally:
        postgres.start()

    # Recovery without a restart: writes work again and a new head reaches the poll.
    deadline = time.monotonic() + 30
    while http("GET", base + "/readyz").status != 200:
        assert time.monotonic() < deadline, "server did not recover"
        time.sleep(0.5)
    published = http(
        "POST",
        f"{base}/api/v1/channels/stable/releases",
        deployment["admin"],
        {"version": "1.2.0", "chart": chart("1.2.0"), "values": {"v": "3"}},
    )
    assert published.status == 201, published.body
    time.sleep(CACHE_SECONDS + 0.5)
    latest = poll(base, good)
    assert latest.status == 200
    assert decode_spec(latest.body)["metadata"]["version"] == "1.2.0"


def assert_known_answers(
    base: str,
    good: dict[str, str],
    revoked: dict[str, str],
    pin: str,
    known_latest: Any,
    known_anonymous: Any,
    known_pin: Any,
    deployment: dict[str, Any],
) -> None:
    latest = poll(base, good)
    assert latest.status == 200, latest.body
    assert latest.body == known_latest.body
    assert latest.headers["ETag"] == known_latest.headers["ETag"]
    assert poll(base).body == known_anonymous.body
    assert poll(base, good, pin).body == known_pin.body
    # Revocation still holds, garbage is still refused.
    assert poll(base, revoked).json()["code"] == "LICENSE_REVOKED"
    assert poll(base, basic("garbage")).status == 401
    # Nothing known: 503, never a guess.
    never_polled = poll(base, good, f"{CHANNEL}/release/{deployment['oldest']['id']}")
    assert never_polled.status == 503
    assert never_polled.json()["code"] == "DATABASE_UNAVAILABLE"
    beta = poll(base, basic(deployment["beta"]["token"]))
    assert beta.status == 503 and beta.json()["code"] == "DATABASE_UNAVAILABLE"
    # Writes and readiness report the outage.
    write = http("POST", f"{base}/api/v1/channels", deployment["admin"], {"name": "new"})
    assert write.status == 503
    assert http("GET", base + "/readyz").status == 503


def wait_for_new_workers(base: str, killed: set[int]) -> None:
    deadline = time.monotonic() + 60
    while True:
        workers = set(gunicorn_workers(base))
        if workers and not workers & killed and http("GET", base + "/healthz").status == 200:
            return
        assert time.monotonic() < deadline, f"workers did not come back: now {workers}"
        time.sleep(0.2)


def test_store_lives_in_the_instance_folder(deployment: dict[str, Any]) -> None:
    store = Path(deployment["instance"]) / "lkg"
    assert store.is_dir()
    assert any(p.name.startswith("head-") for p in store.iterdir())
    # Only public material is kept there.
    for path in store.iterdir():
        assert "PRIVATE KEY" not in path.read_text()
