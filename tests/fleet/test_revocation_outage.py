"""A revocation made just before a database outage is honoured within the cache bound.

One real server (2 workers, no Redis) on a private PostgreSQL. The worker that revokes applies
the new status at once and keeps it in the host's last-known-good store, so the other worker,
whose cached verdict runs out while the database is down, reads it from there. The CLI on
the same host does the same. A revocation made on another host just before the outage
reaches the workers when the database is back: a failed trust refresh is retried within a
second, not a whole bound later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator_client import basic, chart
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.servers import HttpResult, admin_token, cli_env, http, run_cli, running_server

pytestmark = pytest.mark.slow

BOUND = 8
CHANNEL = "/api/v1/operator/channel"


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


def code(result: HttpResult) -> str:
    return "served" if result.status == 200 else str(result.json()["code"])


def refused_everywhere(base: str, headers: dict[str, str], until: float) -> float:
    """When 16 polls in a row (new connections: both workers) were refused as revoked."""
    run, run_started = 0, 0.0
    last = ""
    while run < 16:
        asked = time.monotonic()
        last = code(http("GET", base + CHANNEL, headers))
        if last == "LICENSE_REVOKED":
            run, run_started = run + 1, asked if run == 0 else run_started
        else:
            run = 0
        assert time.monotonic() < until, f"the revocation was not honoured in time ({last})"
    return run_started


def test_revocations_before_an_outage_are_honoured(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path / "instance",
        postgres.url,
        DEPLOYSERVER_LICENSE_CACHE_SECONDS=str(BOUND),
        # Many refused polls from one address are the point here, not a limit.
        DEPLOYSERVER_RATE_LICENSE_FAILURES="100000/minute",
    )
    with running_server(env, workers=2) as base:
        admin = admin_token(env)
        assert http("POST", f"{base}/api/v1/channels", admin, {"name": "stable"}).status == 201
        release = {"version": "1.0.0", "chart": chart("1.0.0"), "values": {}}
        assert http("POST", f"{base}/api/v1/channels/stable/releases", admin, release).status == 201
        licenses = [
            http(
                "POST", f"{base}/api/v1/licenses", admin, {"subject": s, "channel": "stable"}
            ).json()
            for s in ("by-api", "by-cli", "elsewhere")
        ]
        holders = [basic(license["token"]) for license in licenses]
        for holder in holders:
            for _ in range(16):
                assert code(http("GET", base + CHANNEL, holder)) == "served"

        # Revoked through the server, then the database goes away at once.
        revoked = http("POST", f"{base}/api/v1/licenses/{licenses[0]['id']}/revoke", admin, {})
        assert revoked.status == 200
        written = time.monotonic()
        postgres.stop()
        honoured = refused_everywhere(base, holders[0], written + BOUND + 15)
        assert honoured - written < BOUND + 1

        # Revoked by the CLI on this host (it shares the instance folder): the same.
        postgres.start()
        time.sleep(2)  # workers reconnect (their refresh is retried every second)
        result = run_cli("licenses", "revoke", licenses[1]["id"], env=env)
        assert result.returncode == 0, result.stderr
        written = time.monotonic()
        postgres.stop()
        honoured = refused_everywhere(base, holders[1], written + BOUND + 15)
        assert honoured - written < BOUND + 1

        # Revoked on another host (its own instance folder), then an outage longer than a
        # bound: nothing this server can read knows of it until the database is back.
        postgres.start()
        time.sleep(2)
        # Another host shares the database and the server secret, not the instance folder.
        secret = (Path(env["DEPLOYSERVER_INSTANCE_PATH"]) / "secret_key").read_text().strip()
        elsewhere = {
            **env,
            "DEPLOYSERVER_INSTANCE_PATH": str(tmp_path / "elsewhere"),
            "DEPLOYSERVER_SECRET_KEY": secret,
        }
        result = run_cli("licenses", "revoke", licenses[2]["id"], env=elsewhere)
        assert result.returncode == 0, result.stderr
        postgres.stop()
        time.sleep(BOUND + 2)
        assert code(http("GET", base + CHANNEL, holders[2])) == "served"
        postgres.start()
        back = time.monotonic()
        honoured = refused_everywhere(base, holders[2], back + BOUND)
        # Read as soon as the database answers again, not a bound after the failed refresh.
        assert honoured - back < 3
