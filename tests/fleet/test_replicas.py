"""Two real ``deployserver serve`` replicas (2 gunicorn workers each) on one database and one
Redis (a private redis-server): every kind of change made through one is served by every
worker of both within 1 s, with a license cache bound of an hour; Redis outages and recovery;
metrics merged across workers; failure limits shared by the replicas.

"Every worker": before each change both replicas are polled often enough to have cached the
old answer in both workers; after it, a replica counts as converged once a run of
consecutive polls (new connections, so spread over its workers) all show the change.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from deployserver.feed.cohorts import in_cohort
from tests.backends import configured_backends, temporary_database
from tests.operator_client import basic, chart
from tests.private_redis import PrivateRedis, private_redis
from tests.servers import HttpResult, admin_token, cli_env, http, running_server

pytestmark = pytest.mark.slow

CHANNEL_URL = "/api/v1/operator/channel"
BOUND = 1.0
RUN = 16  # consecutive polls per replica that must all show a change
WARM = 16  # polls per replica before a change, so every worker caches the old answer
_addresses = (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in itertools.count(1))


def poll(base: str, headers: dict[str, str] | None = None) -> HttpResult:
    # Each poll from its own client address, so the refusals checked here (revoked and
    # suspended licenses) never reach the failure limit; the limit test uses one address.
    return http("GET", base + CHANNEL_URL, {"X-Forwarded-For": next(_addresses), **(headers or {})})


def seen(result: HttpResult) -> Any:
    """What a poll showed: the version served, or the refusal code."""
    body = result.json()
    return body["metadata"]["version"] if result.status == 200 else body["code"]


class Fleet:
    def __init__(self, bases: list[str], admin: dict[str, str]) -> None:
        self.bases = bases
        self.admin = admin
        self.delays: dict[str, float] = {}

    def write(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        # Writes go through the first replica; the second must learn of them.
        result = http(method, self.bases[0] + path, self.admin, body)
        assert result.status == status, (path, result.status, result.body[:300])
        return result.json() if result.body else None

    def warm(self, headers: dict[str, str] | None = None) -> None:
        for base in self.bases:
            for _ in range(WARM):
                poll(base, headers)

    def converge(
        self,
        kind: str,
        check: Callable[[HttpResult], bool],
        headers: dict[str, str] | None = None,
        since: float | None = None,
        bound: float = BOUND,
    ) -> float:
        """Seconds from ``since`` until every replica answered RUN polls in a row that pass
        ``check``; recorded under ``kind`` and asserted within ``bound``."""
        started = time.monotonic() if since is None else since
        # Round robin over the replicas: runs[base] = (polls in a row passing, first's time).
        runs = {base: (0, 0.0) for base in self.bases}
        last_miss: dict[str, Any] = {}
        while any(run < RUN for run, _ in runs.values()):
            for base, (run, run_started) in runs.items():
                if run >= RUN:
                    continue
                asked = time.monotonic()
                result = poll(base, headers)
                if check(result):
                    runs[base] = (run + 1, asked if run == 0 else run_started)
                else:
                    runs[base] = (0, 0.0)
                    last_miss[base] = (round(asked - started, 3), result.status, seen(result))
            assert time.monotonic() - started < bound + 10, f"{kind}: never converged"
        converged_at = {base: run_started for base, (_, run_started) in runs.items()}
        delay = max(converged_at.values()) - started
        self.delays[kind] = delay
        assert delay < bound, f"{kind}: served everywhere only after {delay:.3f}s ({last_miss})"
        return delay

    def change(
        self,
        kind: str,
        write: Callable[[], Any],
        check: Callable[[HttpResult], bool],
        headers: dict[str, str] | None = None,
    ) -> float:
        self.warm(headers)
        assert not all(check(poll(base, headers)) for base in self.bases for _ in range(4)), (
            f"{kind}: already served before the change"
        )
        written = time.monotonic()
        write()
        return self.converge(kind, check, headers, since=written)


def version(expected: str) -> Callable[[HttpResult], bool]:
    return lambda result: result.status == 200 and seen(result) == expected


def refused(code: str) -> Callable[[HttpResult], bool]:
    return lambda result: result.status == 401 and seen(result) == code


# Replicas share a server database (PostgreSQL here; MariaDB below for one kind): two
# servers on one SQLite file is no supported fleet, and it raced at start under load.
@pytest.fixture(params=[b for b in configured_backends() if b == "postgresql"])
def fleet_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


def start_fleet(
    stack: ExitStack, tmp_path: Path, database_url: str, redis_url: str, **settings: str
) -> Fleet:
    shared = {
        "DEPLOYSERVER_SECRET_KEY": "fleet-test-secret-" + uuid.uuid4().hex,
        "DEPLOYSERVER_LICENSE_CACHE_SECONDS": "3600",
        "DEPLOYSERVER_REDIS_URL": redis_url,
        "DEPLOYSERVER_REDIS_PREFIX": f"fleet-{uuid.uuid4().hex[:8]}",
        "DEPLOYSERVER_TRUSTED_PROXIES": "1",
        "DEPLOYSERVER_INSTALLATION_FLUSH_SECONDS": "1",
        **settings,
    }
    envs = [cli_env(tmp_path / f"replica-{i}", database_url, **shared) for i in (1, 2)]
    bases = [stack.enter_context(running_server(env, workers=2)) for env in envs]
    return Fleet(bases, admin_token(envs[0]))


def test_every_change_reaches_every_worker_of_both_replicas_within_a_second(
    tmp_path: Path, fleet_database: str, redis_server: PrivateRedis
) -> None:
    with ExitStack() as stack:
        fleet = start_fleet(
            stack,
            tmp_path,
            fleet_database,
            redis_server.url,
            DEPLOYSERVER_RATE_LICENSE_FAILURES="5/minute",
        )
        write = fleet.write
        write("POST", "/api/v1/channels", {"name": "stable"}, 201)
        write("POST", "/api/v1/channels", {"name": "beta"}, 201)
        first = write("POST", "/api/v1/channels/stable/releases", release("1.0.0"), 201)
        beta = write("POST", "/api/v1/channels/beta/releases", release("9.0.0"), 201)

        def publish(v: str, **extra: Any) -> Callable[[], Any]:
            return lambda: write(
                "POST", "/api/v1/channels/stable/releases", release(v, **extra), 201
            )

        fleet.change("publish", publish("1.0.1"), version("1.0.1"))
        fleet.change(
            "promote",
            lambda: write("POST", "/api/v1/channels/stable/promote", {"releaseId": beta["id"]}),
            version("9.0.0"),
        )
        fleet.change(
            "rollback",
            lambda: write("POST", "/api/v1/channels/stable/rollback", {"releaseId": first["id"]}),
            version("1.0.0"),
        )

        # Rollout: a candidate at 1%, then advanced to 99%, for a license outside the 1%
        # cohort and inside the 99% one; then completed (the head for everyone).
        candidate = write(
            "POST",
            "/api/v1/channels/stable/releases",
            release("2.0.0", rollout={"percent": 1}),
            201,
        )
        license = next(
            issued
            for issued in (issue(fleet) for _ in range(20))
            if not in_cohort(issued["id"], candidate["id"], 1)
            and in_cohort(issued["id"], candidate["id"], 99)
        )
        holder = basic(license["token"])
        fleet.change(
            "rollout advance",
            lambda: write("POST", "/api/v1/channels/stable/rollout", {"percent": 99}),
            version("2.0.0"),
            holder,
        )
        fleet.change(
            "rollout complete",
            lambda: write("POST", "/api/v1/channels/stable/rollout/complete", {}),
            version("2.0.0"),
        )
        fleet.change(
            "base values",
            lambda: write("PATCH", "/api/v1/channels/stable", {"values": {"fleet": {"n": 2}}}),
            lambda result: (
                result.status == 200 and result.json()["values"].get("fleet") == {"n": 2}
            ),
        )
        path = f"/api/v1/licenses/{license['id']}"
        # Installation policies: a pin of this license, then its removal.
        fleet.change(
            "pin",
            lambda: write("PUT", path + "/pin", {"version": "1.0.0"}),
            version("1.0.0"),
            holder,
        )
        fleet.change(
            "unpin", lambda: write("DELETE", path + "/pin", None, 204), version("2.0.0"), holder
        )
        fleet.change(
            "suspend",
            lambda: write("POST", path + "/suspend", {}),
            refused("LICENSE_SUSPENDED"),
            holder,
        )
        fleet.change(
            "reinstate", lambda: write("POST", path + "/reinstate", {}), version("2.0.0"), holder
        )
        fleet.change(
            "revoke",
            lambda: write("POST", path + "/revoke", {}),
            refused("LICENSE_REVOKED"),
            holder,
        )
        # Key retirement: a license signed by the first key stops verifying everywhere.
        old_kid = write("GET", "/api/v1/keys")["items"][0]["kid"]
        signed_by_old = basic(issue(fleet)["token"])
        write("POST", "/api/v1/keys", {"alg": "EdDSA"}, 201)
        fleet.change(
            "key retirement",
            lambda: write("POST", f"/api/v1/keys/{old_kid}/retire", {}),
            refused("LICENSE_INVALID"),
            signed_by_old,
        )
        print("\npropagation delays (s):", {k: round(v, 3) for k, v in fleet.delays.items()})

        check_metrics_are_merged_across_workers(fleet)
        check_limits_are_shared_by_the_replicas(fleet)
        check_redis_outage_and_recovery(fleet, redis_server)


def release(v: str, **extra: Any) -> dict[str, Any]:
    return {"version": v, "chart": chart(v), "values": {"app": {"v": v}}, **extra}


def issue(fleet: Fleet) -> dict[str, Any]:
    return fleet.write("POST", "/api/v1/licenses", {"subject": "acme", "channel": "stable"}, 201)


def metric(fleet: Fleet, base: str, line_start: str) -> float:
    result = http("GET", base + "/metrics", fleet.admin)
    assert result.status == 200
    total = 0.0
    for line in result.body.decode().splitlines():
        if line.startswith(line_start):
            total += float(line.rsplit(" ", 1)[1])
    return total


def check_metrics_are_merged_across_workers(fleet: Fleet) -> None:
    base = fleet.bases[1]
    served = 'deployserver_polls_total{channel="stable",outcome="served"}'
    # Each worker moves its counts into the shared files every second: let the earlier
    # polls land before counting from here.
    time.sleep(2.5)
    before = metric(fleet, base, served)
    for _ in range(40):
        assert poll(base).status == 200
    time.sleep(2.5)
    # Forty polls spread over two workers: the merged count has every one of them.
    assert metric(fleet, base, served) - before == 40
    assert (
        metric(fleet, base, 'deployserver_channel_head_info{channel="stable",version="2.0.0"}') == 1
    )
    assert metric(fleet, base, "deployserver_poll_duration_seconds_count") >= 40
    assert metric(fleet, fleet.bases[0], 'deployserver_writes_total{action="key.retire"}') == 1


def check_limits_are_shared_by_the_replicas(fleet: Fleet) -> None:
    one_client = {"X-Forwarded-For": "203.0.113.77", **basic("not-a-license")}
    results = [http("GET", fleet.bases[i % 2] + CHANNEL_URL, one_client).status for i in range(6)]
    # 5/minute across both replicas and all their workers: the sixth is refused with 429.
    assert results == [401] * 5 + [429]
    limited = http("GET", fleet.bases[0] + CHANNEL_URL, one_client)
    assert limited.status == 429 and limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1


def check_redis_outage_and_recovery(fleet: Fleet, redis_server: PrivateRedis) -> None:
    fleet.warm()
    redis_server.stop()
    time.sleep(0.5)
    started = time.monotonic()
    fleet.write("POST", "/api/v1/channels/stable/releases", release("3.0.0"), 201)
    assert time.monotonic() - started < 1.0, "a write waited for Redis"
    # Polls go on meanwhile; the second replica cannot have heard of the change.
    assert all(seen(poll(fleet.bases[1])) == "2.0.0" for _ in range(8))
    # Limits fall back to each worker's memory: refusals are still answered.
    assert http("GET", fleet.bases[1] + CHANNEL_URL, basic("x")).status in (401, 429)
    redis_server.start()
    back = time.monotonic()
    fleet.converge("redis recovery", version("3.0.0"), since=back, bound=5.0)
    fleet.change(
        "publish after recovery",
        lambda: fleet.write("POST", "/api/v1/channels/stable/releases", release("3.0.1"), 201),
        version("3.0.1"),
    )
    print(
        "after recovery (s):",
        {k: round(fleet.delays[k], 3) for k in ("redis recovery", "publish after recovery")},
    )


@pytest.mark.parametrize("backend", configured_backends())
def test_a_publish_propagates_on_every_backend(
    backend: str, tmp_path: Path, redis_server: PrivateRedis
) -> None:
    with temporary_database(backend, tmp_path) as url, ExitStack() as stack:
        fleet = start_fleet(stack, tmp_path, url, redis_server.url)
        fleet.write("POST", "/api/v1/channels", {"name": "stable"}, 201)
        fleet.write("POST", "/api/v1/channels/stable/releases", release("1.0.0"), 201)
        fleet.change(
            "publish",
            lambda: fleet.write("POST", "/api/v1/channels/stable/releases", release("1.0.1"), 201),
            version("1.0.1"),
        )
        print(f"\n{backend}: publish served everywhere after {fleet.delays['publish']:.3f}s")
