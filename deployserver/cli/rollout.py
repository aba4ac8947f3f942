"""``deployserver rollout start|set|complete|abort``: staged rollouts of a channel."""

from __future__ import annotations

from typing import Any

import click

from deployserver.cli.client import Client
from deployserver.cli.output import emit, output_options
from deployserver.cli.releases import release_line, release_ref
from deployserver.cli.root import cli, with_client


def rollout_line(channel: str, doc: dict[str, Any]) -> str:
    rollout = doc.get("rollout")
    if rollout is not None:
        return (
            f"{channel}: {rollout['version']} rolled out to {rollout['percent']}% "
            f"(release {rollout['releaseId']})"
        )
    head = doc["head"]["version"] if doc.get("head") else "(none)"
    return f"{channel}: no rollout in progress; head {head}"


@cli.group("rollout")
def rollout_group() -> None:
    """Staged rollouts: start a candidate, set its share, complete or abort."""


@rollout_group.command("start")
@click.argument("channel")
@click.argument("release")
@click.option("--percent", required=True, type=click.IntRange(1, 99), help="Share of licenses.")
@output_options
@with_client
def start(client: Client, fmt: str, channel: str, release: str, percent: int) -> None:
    """Stage RELEASE (an id or a version) as CHANNEL's candidate for PERCENT of licenses."""
    body = {**release_ref(release), "rollout": {"percent": percent}}
    promoted = client.post(f"/api/v1/channels/{channel}/promote", body)
    emit(
        promoted,
        fmt,
        lambda doc: click.echo(
            release_line("staged", doc, channel) + f" for {percent}% of licenses"
        ),
        promoted.get("warnings", []),
    )


@rollout_group.command("set")
@click.argument("channel")
@click.argument("percent", type=click.IntRange(1, 99))
@output_options
@with_client
def set_percent(client: Client, fmt: str, channel: str, percent: int) -> None:
    """Grow (or shrink) CHANNEL's rollout to PERCENT of licenses."""
    after = client.post(f"/api/v1/channels/{channel}/rollout", {"percent": percent})
    emit(after, fmt, lambda doc: click.echo(rollout_line(channel, doc)))


@rollout_group.command("complete")
@click.argument("channel")
@output_options
@with_client
def complete(client: Client, fmt: str, channel: str) -> None:
    """Make the candidate CHANNEL's head for everyone."""
    after = client.post(f"/api/v1/channels/{channel}/rollout/complete")
    emit(after, fmt, lambda doc: click.echo(rollout_line(channel, doc)))


@rollout_group.command("abort")
@click.argument("channel")
@output_options
@with_client
def abort(client: Client, fmt: str, channel: str) -> None:
    """Withdraw the candidate: every license gets the head again."""
    after = client.post(f"/api/v1/channels/{channel}/rollout/abort")
    emit(after, fmt, lambda doc: click.echo(rollout_line(channel, doc)))
