"""A test run that is killed leaves no server behind: no gunicorn, no private PostgreSQL.

A test run of its own starts a real ``deployserver serve`` and a private PostgreSQL, says
where they are, and is then killed (SIGKILL: no clean-up code runs at all) or interrupted
(SIGINT, as Ctrl-C does). Every process of both servers must then be gone, and the
PostgreSQL folder removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

HOLDING_TEST = """
import json
import os
import time
from pathlib import Path

from tests.private_postgres import private_postgres
from tests.servers import cli_env, running_server


def test_hold_servers(tmp_path):
    with private_postgres() as postgres, running_server(cli_env(tmp_path / "i")) as base:
        postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
        where = {"base": base, "postmaster": postmaster, "folder": str(postgres.folder)}
        Path(os.environ["HOLDING_REPORT"]).write_text(json.dumps(where))
        time.sleep(600)
"""


def serving_processes(base: str) -> list[int]:
    """Processes of ``deployserver serve`` on the port of ``base`` (master and workers)."""
    port = base.rsplit(":", 1)[1]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in arguments and port.encode() in arguments:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in all but name (its parent has not collected it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def left_behind(where: dict[str, Any]) -> list[str]:
    """What is left of a holding run's servers."""
    left = [f"gunicorn {pid}" for pid in where["gunicorn"] if alive(pid)]
    left += [f"gunicorn {pid} (new)" for pid in serving_processes(where["base"])]
    if alive(where["postmaster"]):
        left.append(f"postmaster {where['postmaster']}")
    if Path(where["folder"]).exists():
        left.append(where["folder"])
    return left


class HoldingRun:
    """A test run of its own that starts both servers and holds them until it is stopped."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        (folder / "test_holding.py").write_text(HOLDING_TEST)
        self.report = folder / "report.json"
        self.output = folder / "output.txt"
        self._log = self.output.open("w")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOLDING_REPORT": str(self.report)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_holding.py"],
            cwd=folder,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def servers(self) -> dict[str, Any]:
        """Where its servers are, once both are up."""
        assert wait_until(lambda: self.report.exists() or self.process.poll() is not None, 180)
        assert self.process.poll() is None, "the holding run ended before its servers were up"
        where = json.loads(self.report.read_text())
        where["gunicorn"] = serving_processes(where["base"])
        assert where["gunicorn"], "no gunicorn process found for the holding run"
        assert alive(where["postmaster"])
        return dict(where)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def test_killed_or_interrupted_run_leaves_no_server_behind(tmp_path: Path) -> None:
    # Both runs at once: each spends most of its time waiting for its servers to come up.
    runs = {
        signal.SIGKILL: HoldingRun(tmp_path / "killed"),
        signal.SIGINT: HoldingRun(tmp_path / "interrupted"),
    }
    try:
        servers = {signum: run.servers() for signum, run in runs.items()}
        for signum, run in runs.items():
            os.kill(run.process.pid, signum)
        for run in runs.values():
            # An interrupted run stops its servers itself first (gunicorn's graceful stop).
            try:
                run.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the run did not end: {run.output.read_text()[-2000:]}")
        assert wait_until(lambda: not any(map(left_behind, servers.values())), 60), {
            signal.Signals(signum).name: left_behind(where) for signum, where in servers.items()
        }
    finally:
        for run in runs.values():
            run.stop()
