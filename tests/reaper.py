"""Servers a test run starts do not outlive it, however the run ends.

Each server (gunicorn, a private PostgreSQL) gets a reaper: a small process of its own
session that holds the read end of a pipe whose write end only the test process has. When
the test process goes, by a normal exit, an exception, Ctrl-C or SIGKILL, the kernel closes
that end, the reaper reads end-of-file and stops the server: SIGTERM to its process group
(then SIGKILL), or SIGQUIT (PostgreSQL's immediate shutdown) to the postmaster named in a
``postmaster.pid``; then it removes the server's folder if told to.

Run as a script (``python tests/reaper.py ...``) it uses the standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

GRACE_SECONDS = 10


class Reaper:
    """The test process's side: keeps the pipe open; :meth:`release` lets the reaper act now."""

    def __init__(self, arguments: list[str]) -> None:
        read, self._write = os.pipe()
        # Only the reaper gets the read end; the write end stays in this process alone (pipes
        # are not inherited by other children), so its end-of-file means this process ended.
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *arguments],
            stdin=read,
            start_new_session=True,
        )
        os.close(read)

    def release(self) -> None:
        """Stop the server now (it is already being stopped) and wait for the reaper."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        self.process.wait(timeout=GRACE_SECONDS * 3)


def reap_process_group(group: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def reap_postmaster(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return  # never started or already stopped
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--process-group", type=int)
    parser.add_argument("--postmaster-pid-file", type=Path)
    parser.add_argument("--remove", type=Path)
    arguments = parser.parse_args()
    # Ctrl-C reaches the test's process group, not this session; still, never die of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    if arguments.process_group is not None:
        reap_process_group(arguments.process_group)
    if arguments.postmaster_pid_file is not None:
        reap_postmaster(arguments.postmaster_pid_file)
    if arguments.remove is not None:
        shutil.rmtree(arguments.remove, ignore_errors=True)


if __name__ == "__main__":
    main()
