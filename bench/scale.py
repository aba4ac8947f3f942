"""Scale curves: does a poll, a publish or a listing cost more as the tables grow?

For each database (SQLite, and PostgreSQL in a throwaway database on ``BENCH_POSTGRES_URL``)
the tables are seeded directly in bulk (SQLAlchemy Core executemany in batches, not through
REST) to a small and a large size, and at each size this measures, with ``deployserver
serve`` (2 workers, as it ships) running:

- poll throughput and p99 against the bare Flask view of ``bench/bare.py`` (wrk, in turns,
  median of rounds, as ``make bench`` does);
- publish latency (REST, median of ``BENCH_PUBLISHES``);
- history, release, audit and license listings: first page and a deep keyset cursor;
- ``channels sync --dry-run`` of a folder of 200 releases (in process, the service call);
- one license trust-snapshot refresh (in process) and each worker's resident memory.

The license cache bound is ``BENCH_LICENSE_CACHE_SECONDS`` (default 5 s, so every wrk round
includes trust refreshes). ``BENCH_SCALE`` shrinks the large size for a quick try (e.g.
``0.01``). Run with ``make bench-scale``.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from sqlalchemy import Engine, create_engine, func, insert, select, text, update

from bench.poll import ROOT, WORKERS, bare_command, call, free_port, serving, wrk
from deployserver.app import create_app
from deployserver.channelfiles import load_folder
from deployserver.config import Config, normalize_database_url
from deployserver.db import create_db_engine, get_session
from deployserver.extensions import state
from deployserver.licensing.verifier import license_verifier
from deployserver.models import (
    AuditEvent,
    Channel,
    ChannelEvent,
    ChannelRelease,
    Installation,
    License,
    Release,
    SigningKey,
)
from deployserver.pagination import encode_cursor
from deployserver.services.audit import Actor
from deployserver.services.sync import sync_channels
from deployserver.specs.canonical import canonical_json, digest_of, etag_for
from deployserver.specs.served import served_body

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
PUBLISHES = int(os.environ.get("BENCH_PUBLISHES", "15"))
LISTINGS = int(os.environ.get("BENCH_LISTINGS", "20"))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CACHE_SECONDS = os.environ.get("BENCH_LICENSE_CACHE_SECONDS", "5")
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 10_000
SYNC_RELEASES = 200
CHANNEL = "stable"
POLL_PATH = "/api/v1/operator/channel"
TOKEN_CREATE = ["tokens", "create", "--name", "bench", "--role", "admin"]


@dataclass(frozen=True)
class Size:
    name: str
    releases: int
    licenses: int  # and as many installations


SIZES = [
    Size("small", 10, 1_000),
    Size("large", max(10, int(100_000 * SCALE)), max(1_000, int(1_000_000 * SCALE))),
]


# Seeding ------------------------------------------------------------------------------------


def _values(version: str) -> dict[str, Any]:
    return {
        "global": {
            "host": "https://wandb.example.com",
            "bucket": {"provider": "s3", "name": "wandb-bench", "region": "us-east-1"},
        },
        "app": {"image": {"repository": "wandb/local", "tag": version}, "replicas": 2},
        "reconcileFrequency": "1h",
    }


def _chart(version: str) -> dict[str, Any]:
    return {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": version}


def _batches(start: int, stop: int) -> Iterator[range]:
    for first in range(start, stop, BATCH):
        yield range(first, min(first + BATCH, stop))


def seed_releases(engine: Engine, start: int, stop: int) -> None:
    """Releases ``0.0.start`` .. ``0.0.stop-1`` published on the channel, chained as history."""
    with engine.begin() as connection:
        channel = connection.execute(
            select(Channel.id, Channel.name, Channel.values, Channel.head_release_id).where(
                Channel.name == CHANNEL
            )
        ).one()
        previous = channel.head_release_id
        base = datetime.now(UTC)
        for numbers in _batches(start, stop):
            releases, served, events, audits = [], [], [], []
            for n in numbers:
                version = f"0.0.{n}"
                at = base + timedelta(microseconds=n - start)
                own = {"chart": _chart(version), "metadata": {}, "values": _values(version)}
                release_id = str(uuid.uuid4())
                row = {
                    "id": release_id,
                    "version": version,
                    "chart": own["chart"],
                    "values": own["values"],
                    "metadata": {},
                    "notes": "",
                    "spec": canonical_json(own),
                    "digest": digest_of(own),
                    "created_at": at,
                    "created_by": "bench",
                }
                releases.append(row)
                body = served_body(
                    SimpleNamespace(**row, meta={}),  # type: ignore[arg-type]
                    SimpleNamespace(name=channel.name, values=channel.values),  # type: ignore[arg-type]
                )
                served.append(
                    {
                        "channel_id": channel.id,
                        "release_id": release_id,
                        "body": body,
                        "etag": etag_for(body),
                        "arrived_at": at,
                    }
                )
                events.append(
                    {
                        "channel_id": channel.id,
                        "release_id": release_id,
                        "previous_release_id": previous,
                        "action": "publish",
                        "actor": "bench",
                        "at": at,
                    }
                )
                for action, target in (
                    ("release.create", f"release:{release_id}"),
                    ("channel.publish", f"channel:{CHANNEL}"),
                ):
                    audits.append(_audit(action, target, at))
                previous = release_id
            connection.execute(insert(Release), releases)
            connection.execute(insert(ChannelRelease), served)
            connection.execute(insert(ChannelEvent), events)
            connection.execute(insert(AuditEvent), audits)
        connection.execute(
            update(Channel).where(Channel.id == channel.id).values(head_release_id=previous)
        )


def _audit(action: str, target: str, at: datetime) -> dict[str, Any]:
    return {
        "actor": "bench",
        "action": action,
        "target": target,
        "before": None,
        "after": "0" * 64,
        "at": at,
        "request_id": None,
    }


def seed_licenses(engine: Engine, start: int, stop: int) -> None:
    """Licenses (1% revoked, 1% suspended) and an installation for each, with their audit."""
    with engine.begin() as connection:
        kid = connection.scalar(select(SigningKey.kid).limit(1)) or "bench"
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        for numbers in _batches(start, stop):
            licenses, installations, audits = [], [], []
            for n in numbers:
                license_id = str(uuid.uuid4())
                issued = base + timedelta(seconds=n - start)
                status = {0: "revoked", 1: "suspended"}.get(n % 100, "active")
                subject = f"customer-{n % 50_000}"
                licenses.append(
                    {
                        "id": license_id,
                        "subject": subject,
                        "channel": CHANNEL,
                        "claims": {"sub": subject, "jti": license_id, "channel": CHANNEL},
                        "status": status,
                        "kid": kid,
                        "issued_at": issued,
                        "not_before": issued,
                        "expires_at": issued + timedelta(days=365),
                        "issued_by": "bench",
                        "status_changed_at": None if status == "active" else issued,
                    }
                )
                installations.append(
                    {
                        "license_id": license_id,
                        "subject": subject,
                        "channel": CHANNEL,
                        "first_seen": issued,
                        "last_seen": issued,
                        "poll_count": n % 1000,
                        "last_release_id": None,
                        "last_address": "10.0.0.1",
                        "last_user_agent": "wandb-operator/1.0",
                    }
                )
                audits.append(_audit("license.issue", f"license:{license_id}", issued))
            connection.execute(insert(License), licenses)
            connection.execute(insert(Installation), installations)
            connection.execute(insert(AuditEvent), audits)


# Measuring ----------------------------------------------------------------------------------


def _median_ms(action: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _get(url: str, token: str) -> Callable[[], object]:
    def fetch() -> object:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    return fetch


def deep_cursors(engine: Engine) -> dict[str, tuple[int, str | None]]:
    """For each listing, a cursor 90% of the way down (offset, cursor); built from the rows."""
    cursors: dict[str, tuple[int, str | None]] = {}
    with engine.connect() as connection:
        channel_id = connection.scalar(select(Channel.id).where(Channel.name == CHANNEL))

        def at_offset(query: Any, count: int) -> Any:
            offset = int(count * 0.9)
            return offset, connection.execute(query.offset(offset).limit(1)).one()

        events = connection.scalar(
            select(func.count())
            .select_from(ChannelEvent)
            .where(ChannelEvent.channel_id == channel_id)
        )
        offset, row = at_offset(
            select(ChannelEvent.id)
            .where(ChannelEvent.channel_id == channel_id)
            .order_by(ChannelEvent.id.desc()),
            events or 0,
        )
        cursors["history"] = (offset, encode_cursor({"id": row.id}))
        offset, row = at_offset(
            select(ChannelRelease.arrived_at, ChannelRelease.release_id)
            .where(ChannelRelease.channel_id == channel_id)
            .order_by(ChannelRelease.arrived_at.desc(), ChannelRelease.release_id.desc()),
            events or 0,
        )
        cursors["releases"] = (
            offset,
            encode_cursor({"arrivedAt": row.arrived_at.isoformat(), "id": row.release_id}),
        )
        audits = connection.scalar(select(func.count()).select_from(AuditEvent)) or 0
        offset, row = at_offset(select(AuditEvent.id).order_by(AuditEvent.id.desc()), audits)
        cursors["audit"] = (offset, encode_cursor({"id": row.id}))
        licenses = connection.scalar(select(func.count()).select_from(License)) or 0
        offset, row = at_offset(
            select(License.issued_at, License.id).order_by(
                License.issued_at.desc(), License.id.desc()
            ),
            licenses,
        )
        cursors["licenses"] = (
            offset,
            encode_cursor({"at": row.issued_at.isoformat(), "id": row.id}),
        )
    return cursors


def listing_latencies(base: str, admin: str, engine: Engine) -> dict[str, float]:
    paths = {
        "history": f"/api/v1/channels/{CHANNEL}/history",
        "releases": f"/api/v1/channels/{CHANNEL}/releases",
        "audit": "/api/v1/audit",
        "licenses": "/api/v1/licenses",
    }
    results: dict[str, float] = {}
    for name, (offset, cursor) in deep_cursors(engine).items():
        first = f"{base}{paths[name]}?limit=50"
        results[f"{name}_first_ms"] = _median_ms(_get(first, admin), LISTINGS)
        results[f"{name}_deep_ms"] = _median_ms(_get(f"{first}&cursor={cursor}", admin), LISTINGS)
        results[f"{name}_deep_offset"] = offset
    return results


def publish_latency(base: str, admin: str, tag: str) -> float:
    samples = []
    for n in range(PUBLISHES):
        version = f"9.{tag}.{n}"
        body = {"version": version, "chart": _chart(version), "values": _values(version)}
        started = time.perf_counter()
        call("POST", f"{base}/api/v1/channels/{CHANNEL}/releases", admin, body)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def sync_dry_run(config: Config, folder: Path, tag: str) -> float:
    """Median time of ``channels sync --dry-run`` (the service call) for 200 new releases."""
    channels = folder / f"sync-{tag}"
    channels.mkdir()
    name = f"sync-{tag}"
    entries = [
        {"version": f"7.{tag}.{n}", "chart": _chart(f"7.{tag}.{n}"), "values": _values(str(n))}
        for n in range(SYNC_RELEASES)
    ]
    (channels / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "releases": entries}))
    files = load_folder(channels)
    app = create_app(config)
    try:
        with app.app_context():
            return _median_ms(
                lambda: sync_channels(get_session(), Actor("bench"), files, dry_run=True), 3
            )
    finally:
        state(app).engine.dispose()


def trust_refresh(config: Config) -> tuple[float, float, int]:
    """A worker's first (full) trust-snapshot read, the median of the refreshes after it
    (what every cache period costs), and how many license ids the snapshot holds."""
    app = create_app(config)
    try:
        verifier = license_verifier(state(app))
        first = _median_ms(verifier._refresh, 1)
        elapsed = _median_ms(verifier._refresh, 5)
        return first, elapsed, len(verifier.trust().license_statuses)
    finally:
        state(app).engine.dispose()


def worker_rss_mb(server: subprocess.Popen[bytes]) -> list[float]:
    """Resident memory of each gunicorn worker (children of the arbiter), from /proc."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def poll_rounds(full: str, bare: str, headers: dict[str, str]) -> dict[str, float]:
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "poll": []}
    for _ in range(ROUNDS):
        runs["bare"].append(wrk(bare + POLL_PATH, headers, SECONDS, CONNECTIONS))
        runs["poll"].append(wrk(full + POLL_PATH, headers, SECONDS, CONNECTIONS))
    if any(r["errors"] for r in runs["poll"]):
        raise SystemExit("the poll answered something other than 2xx/3xx")
    pairs = list(zip(runs["bare"], runs["poll"], strict=True))
    return {
        "poll_rps": statistics.median(p["rps"] for p in runs["poll"]),
        "poll_p99_ms": statistics.median(p["p99"] for p in runs["poll"]),
        "bare_rps": statistics.median(b["rps"] for b in runs["bare"]),
        "bare_p99_ms": statistics.median(b["p99"] for b in runs["bare"]),
        "rps_ratio": statistics.median(p["rps"] / b["rps"] for b, p in pairs),
        "p99_ratio": statistics.median(p["p99"] / b["p99"] for b, p in pairs),
    }


# Orchestration ------------------------------------------------------------------------------


@contextmanager
def throwaway_database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'scale.db'}"
        return
    if backend != "postgresql":
        raise SystemExit(f"unknown database {backend!r} (sqlite, postgresql)")
    server = normalize_database_url(POSTGRES_URL)
    name = f"deployserver_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def run_database(backend: str, folder: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with throwaway_database(backend, folder) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        env["DEPLOYSERVER_INSTANCE_PATH"] = str(folder / f"instance-{backend}")
        env["DEPLOYSERVER_DATABASE_URL"] = url
        env["DEPLOYSERVER_LICENSE_CACHE_SECONDS"] = CACHE_SECONDS
        config = Config.from_env(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "deployserver.cli", "serve", "--port", str(port)]
        serve += ["--workers", str(WORKERS)]
        with serving(serve, env, base + "/healthz"):
            admin, license_token = setup(base, env)
        engine = create_db_engine(config.sqlalchemy_url)
        seeded = Size("empty", 0, 0)
        headers = {
            "Authorization": "Basic "
            + base64.b64encode(f"license:{license_token}".encode()).decode()
        }
        for size in SIZES:
            started = time.monotonic()
            seed_releases(engine, seeded.releases, size.releases)
            seed_licenses(engine, seeded.licenses, size.licenses)
            if backend == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("VACUUM ANALYZE"))
            seeded = size
            seed_seconds = time.monotonic() - started
            print(f"[{backend}/{size.name}] seeded in {seed_seconds:.0f}s", flush=True)
            result: dict[str, Any] = {"database": backend, "size": size.name}
            result.update(releases=size.releases, licenses=size.licenses, seed_s=seed_seconds)
            with serving(serve, env, base + "/healthz") as server:
                request = urllib.request.Request(base + POLL_PATH, headers=headers)
                with urllib.request.urlopen(request) as response:
                    body = response.read()
                body_file = folder / "body.json"
                body_file.write_bytes(body)
                bare_port = free_port()
                bare = f"http://127.0.0.1:{bare_port}"
                bare_env = {**env, "BENCH_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)}
                with serving(bare_command(bare_port), bare_env, bare + POLL_PATH):
                    result.update(poll_rounds(base, bare, headers))
                tag = str(10 * DATABASES.index(backend) + SIZES.index(size) + 1)
                result["publish_ms"] = publish_latency(base, admin, tag)
                result.update(listing_latencies(base, admin, engine))
                result["sync_dry_run_ms"] = sync_dry_run(config, folder, tag)
                first_ms, refresh_ms, revoked = trust_refresh(config)
                result.update(trust_first_ms=first_ms, trust_refresh_ms=refresh_ms)
                result["trust_ids"] = revoked
                result["worker_rss_mb"] = worker_rss_mb(server)
            print(json.dumps(result), flush=True)
            results.append(result)
        engine.dispose()
    return results


def setup(base: str, env: dict[str, str]) -> tuple[str, str]:
    """An admin token, the channel and one signed license to poll with."""
    created = subprocess.run(
        [sys.executable, "-m", "deployserver.cli", *TOKEN_CREATE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    admin = created.stdout.strip().splitlines()[-1]
    call("POST", f"{base}/api/v1/channels", admin, {"name": CHANNEL, "values": {}})
    issued = call(
        "POST", f"{base}/api/v1/licenses", admin, {"subject": "bench", "channel": CHANNEL}
    )
    return admin, str(issued["token"])


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("releases / licenses", lambda r: f"{r['releases']:,} / {r['licenses']:,}"),
        ("poll req/s (ratio to bare)", lambda r: f"{r['poll_rps']:.0f} ({r['rps_ratio']:.2f})"),
        ("poll p99 ms (ratio to bare)", lambda r: f"{r['poll_p99_ms']:.2f} ({r['p99_ratio']:.2f})"),
        ("publish ms (median)", lambda r: f"{r['publish_ms']:.1f}"),
    ]
    for name in ("history", "releases", "audit", "licenses"):
        rows.append(
            (
                f"{name} page ms: first / deep (offset)",
                lambda r, n=name: (
                    f"{r[n + '_first_ms']:.1f} / {r[n + '_deep_ms']:.1f} "
                    f"({r[n + '_deep_offset']:,})"
                ),
            )
        )
    rows += [
        ("sync --dry-run, 200 releases, ms", lambda r: f"{r['sync_dry_run_ms']:.0f}"),
        (
            "trust refresh ms: first / later (non-active ids)",
            lambda r: (
                f"{r.get('trust_first_ms', r['trust_refresh_ms']):.1f} / "
                f"{r['trust_refresh_ms']:.1f} ({r['trust_ids']:,})"
            ),
        ),
        ("worker RSS MB", lambda r: " / ".join(f"{m:.0f}" for m in r["worker_rss_mb"])),
    ]
    header = "| measure | " + " | ".join(f"{r['database']} {r['size']}" for r in results) + " |"
    lines = [header, "|---" * (len(results) + 1) + "|"]
    for label, render in rows:
        lines.append(f"| {label} | " + " | ".join(render(r) for r in results) + " |")
    return "\n".join(lines)


def main() -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="deployserver-scale-") as folder:
        for backend in DATABASES:
            results += run_database(backend.strip(), Path(folder))
    print(table(results))


if __name__ == "__main__":
    main()
