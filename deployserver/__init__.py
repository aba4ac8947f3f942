"""deployserver: the release-channel server that Kubernetes operators poll.

``create_app`` is resolved on first use: the command line imports this package on every
run, and as a client of a remote server it needs none of the server stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from deployserver.app import create_app

        return create_app
    raise AttributeError(f"module 'deployserver' has no attribute {name!r}")
