"""Who is calling: the client's address, as ``DEPLOYSERVER_TRUSTED_PROXIES`` decides it
(installation insights and rate limits use the same rule)."""

from __future__ import annotations

from typing import Any


def client_address(environ: dict[str, Any], trusted_proxies: int) -> str | None:
    """With ``trusted_proxies`` proxies in front, the ``X-Forwarded-For`` entry the outermost
    trusted proxy added (entries before it are whatever the client sent); else the peer."""
    if trusted_proxies:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            hops = forwarded.split(",")
            if len(hops) >= trusted_proxies:
                return str(hops[-trusted_proxies].strip())
    return environ.get("REMOTE_ADDR")
