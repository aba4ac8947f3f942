"""The spec the operator is served for a release on a channel, as exact canonical bytes.

Built when a release arrives on a channel and when the channel's base values change, and
stored with its ETag, so polls return stored bytes. It must stay byte-for-byte stable: the
operator re-deploys on any difference, so nothing per-request ever goes into it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from deployserver.specs.canonical import canonical_json
from deployserver.specs.merge import merge_values

if TYPE_CHECKING:
    from deployserver.models import Channel, Release


def rfc3339(moment: datetime) -> str:
    """UTC with a ``Z`` at seconds precision, as every time in the API is written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def served_spec(release: Release, channel: Channel) -> dict[str, Any]:
    """The operator's view of ``release`` on ``channel``; raises ``MergeConflict``."""
    metadata = {
        **release.meta,
        "channel": channel.name,
        "version": release.version,
        "releaseId": release.id,
        "publishedAt": rfc3339(release.created_at),
    }
    return {
        "chart": release.chart,
        "metadata": metadata,
        "values": merge_values(release.values, channel.values or {}),
    }


def served_body(release: Release, channel: Channel) -> str:
    """Canonical JSON of :func:`served_spec`: the exact bytes a poll returns."""
    return canonical_json(served_spec(release, channel))
