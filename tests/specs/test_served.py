"""The served body: exact canonical bytes with the four reserved metadata keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deployserver.models import Channel, Release
from deployserver.specs.canonical import canonical_json, digest_of, etag_for
from deployserver.specs.merge import MergeConflict
from deployserver.specs.served import rfc3339, served_body

CHART = {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.83.1"}


def make(values: dict[str, object], base: dict[str, object]) -> tuple[Release, Channel]:
    release = Release(
        id="8f1c2b9e-0000-4000-8000-000000000001",
        version="0.83.1",
        chart=CHART,
        values=values,
        meta={"gitSha": "abc"},
        created_at=datetime(2026, 11, 28, 10, 0, 0, 654321, tzinfo=UTC),
    )
    return release, Channel(name="stable", values=base)


def test_served_body_is_canonical_and_complete() -> None:
    release, channel = make({"hosts": ["r"], "n": 2.0}, {"hosts": ["b"], "global": {"x": "y"}})
    body = served_body(release, channel)
    assert body == (
        '{"chart":{"name":"operator-wandb","url":"https://charts.wandb.ai","version":"0.83.1"},'
        '"metadata":{"channel":"stable","gitSha":"abc","publishedAt":"2026-11-28T10:00:00Z",'
        '"releaseId":"8f1c2b9e-0000-4000-8000-000000000001","version":"0.83.1"},'
        '"values":{"global":{"x":"y"},"hosts":["r","b"],"n":2}}'
    )
    assert canonical_json(__import__("json").loads(body)) == body
    assert served_body(release, channel) == body  # stable bytes
    # sha256sum of the body above: its first 32 hex digits, quoted, are the strong ETag.
    assert etag_for(body) == '"d9b91e3fe63aeccf1c2c3cc117c67a29"'


def test_digest_golden_value() -> None:
    own = {"chart": CHART, "metadata": {"gitSha": "abc"}, "values": {"app": {"n": 1.0}}}
    assert canonical_json(own) == (
        '{"chart":{"name":"operator-wandb","url":"https://charts.wandb.ai","version":"0.83.1"},'
        '"metadata":{"gitSha":"abc"},"values":{"app":{"n":1}}}'
    )
    # sha256sum of those bytes.
    assert digest_of(own) == "65a81899c8a3fa5fd5467f31e29b6717f30beda56d27b510bcf9f39a15ab730f"


def test_served_body_refuses_clashes() -> None:
    release, channel = make({"global": "flat"}, {"global": {"x": "y"}})
    with pytest.raises(MergeConflict) as caught:
        served_body(release, channel)
    assert caught.value.path == "global"


def test_rfc3339_converts_to_utc() -> None:
    from datetime import timedelta, timezone

    moment = datetime(2026, 1, 1, 12, 30, 5, 999999, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2026-01-01T10:30:05Z"
