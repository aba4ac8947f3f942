"""The ``deployserver`` command line: a client of the REST API, remote or on the server host.

The root group lives in ``cli/root.py``; importing the command modules here adds their
commands to it. Command modules import the server stack only where a command needs it (the
local transport, ``serve``, ``db``), so a command sent to a remote server starts fast.
"""

from __future__ import annotations

# Imported for the commands each adds to the root group.
from deployserver.cli import (  # noqa: F401
    audit,
    channels,
    database,
    installations,
    keys,
    licenses,
    policies,
    preview,
    releases,
    rollout,
    serve,
    session,
    tokens,
)
from deployserver.cli.root import cli


def main() -> None:
    cli(prog_name="deployserver")


__all__ = ["cli", "main"]
