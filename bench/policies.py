"""Polling throughput with installation policies on: 10,000 licenses carry a pin or a
maintenance window, and the license that polls has a window (the costliest rule a poll
decides: its last served release, the window's local time), against the bare Flask view.

Same setup as ``bench.poll`` (``make bench``); run with ``make bench-policies``.
``BENCH_POLICY_LICENSES`` sets how many licenses carry policies.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert

from bench import poll
from bench.poll import call
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


def prepare(base: str, admin: str, instance: Path) -> None:
    head = call("GET", f"{base}/api/v1/channels/stable", admin)["head"]["id"]
    add_policies(instance / "deployserver.db", head, LICENSES)
    polled = call("GET", f"{base}/api/v1/licenses?limit=1&subject=bench", admin)
    window = {"days": EVERY_DAY, "start": "00:00", "end": "23:59", "timezone": "UTC"}
    call("PUT", f"{base}/api/v1/licenses/{polled['items'][0]['id']}/window", admin, window)


def main() -> None:
    title = f"{LICENSES} licenses with a pin or a window; the polled one has a window"
    poll.main(prepare, title)


if __name__ == "__main__":
    main()
