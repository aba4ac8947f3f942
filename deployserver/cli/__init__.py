"""The ``deployserver`` command line: the same services as the REST API.

The root group lives in ``cli/root.py``; importing the command modules here adds their
commands to it.
"""

from __future__ import annotations

# Imported for the commands each adds to the root group.
from deployserver.cli import (  # noqa: F401
    channels,
    database,
    installations,
    keys,
    licenses,
    preview,
    releases,
    serve,
    tokens,
)
from deployserver.cli.root import cli


def main() -> None:
    cli(prog_name="deployserver")


__all__ = ["cli", "main"]
