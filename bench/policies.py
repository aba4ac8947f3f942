"""Polling throughput with installation policies on: 10,000 licenses carry a pin or a
maintenance window, and the license that polls has a window (the costliest rule a poll
decides: its last served release, the window's local time), against the bare Flask view.

Same setup as ``bench.poll`` (``make bench``); run with ``make bench-policies``.
``BENCH_POLICY_LICENSES`` sets how many licenses carry policies.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert

from bench.poll import (
    ROOT,
    WORKERS,
    bare_command,
    call,
    free_port,
    report,
    seed,
    serving,
    worker_rss,
)
from deployserver.models import License, LicensePin, MaintenanceWindow

LICENSES = int(os.environ.get("BENCH_POLICY_LICENSES", "10000"))
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def add_policies(database: Path, release_id: str, count: int) -> None:
    """``count`` licenses (as rows: they need not be signed to carry policies), half pinned
    to the head, half with a nightly window."""
    now = datetime.now(UTC)
    licenses, pins, windows = [], [], []
    for index in range(count):
        license_id = str(uuid.uuid4())
        licenses.append(
            {
                "id": license_id,
                "subject": f"customer-{index}",
                "channel": "stable",
                "claims": {},
                "status": "active",
                "kid": "bench",
                "issued_at": now,
                "not_before": now,
                "expires_at": now + timedelta(days=365),
                "issued_by": "bench",
            }
        )
        common = {"license_id": license_id, "created_at": now, "created_by": "bench"}
        if index % 2:
            pins.append({**common, "release_id": release_id, "until": None, "reason": "bench"})
        else:
            window = {"days": EVERY_DAY[5:], "start": "02:00", "end": "06:00"}
            windows.append({**common, **window, "timezone": "Europe/Berlin"})
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(insert(License), licenses)
        connection.execute(insert(LicensePin), pins)
        connection.execute(insert(MaintenanceWindow), windows)
    engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="deployserver-bench-") as folder:
        instance = Path(folder) / "instance"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYSERVER_")}
        env["DEPLOYSERVER_INSTANCE_PATH"] = str(instance)
        full_port, bare_port = free_port(), free_port()
        full = f"http://127.0.0.1:{full_port}"
        bare = f"http://127.0.0.1:{bare_port}"
        serve = [sys.executable, "-m", "deployserver.cli", "serve"]
        serve += ["--port", str(full_port), "--workers", str(WORKERS)]
        with serving(serve, env, full + "/healthz") as server:
            license_token, admin = seed(full, env, with_admin=True)
            head = call("GET", f"{full}/api/v1/channels/stable", admin)["head"]["id"]
            add_policies(instance / "deployserver.db", head, LICENSES)
            polled = call("GET", f"{full}/api/v1/licenses?limit=1&subject=bench", admin)
            window = {"days": EVERY_DAY, "start": "00:00", "end": "23:59", "timezone": "UTC"}
            license_id = polled["items"][0]["id"]
            call("PUT", f"{full}/api/v1/licenses/{license_id}/window", admin, window)
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
                print(f"{LICENSES} licenses with a pin or a window; the polled one has a window")
                report(full, bare, headers, len(body))
                print(
                    f"worker RSS MB: poll {worker_rss(server.pid)}, "
                    f"bare {worker_rss(bare_server.pid)}"
                )


if __name__ == "__main__":
    main()
