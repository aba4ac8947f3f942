"""``deployserver publish``, ``promote``, ``rollback`` and ``rollout``: the release calls.

Each prints the release or head it produced (``--json``: the same document the REST API
answers with). A release may be named by its id or by its version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from deployserver.api.channels import ChannelSchema
from deployserver.api.releases import ReleaseSchema
from deployserver.cli.root import app_context, cli, cli_actor, echo_json
from deployserver.db import get_session
from deployserver.services import channels, releases, rollouts
from deployserver.specs.values import parse_values_yaml

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
ROLLOUT_OPTION = click.option(
    "--rollout-percent",
    type=click.IntRange(1, 99),
    help="Stage it as the channel's rollout candidate for this share (1-99) of licenses.",
)


def chart_from_options(
    url: str | None, name: str | None, version: str | None, path: str | None
) -> dict[str, Any]:
    """The chart reference the options describe: repo, OCI (``oci://`` url) or local path."""
    if path is not None:
        if url is not None or name is not None or version is not None:
            raise click.ClickException(
                "--chart-path names a local chart: give no --chart-url, --chart-name "
                "or --chart-version with it"
            )
        return {"path": path}
    if url is None:
        raise click.ClickException(
            "give --chart-url (with --chart-name for a chart repository) or --chart-path"
        )
    chart: dict[str, Any] = {"url": url}
    if url.startswith("oci://"):
        if name is not None:
            raise click.ClickException(
                "--chart-name is not used with an oci:// chart url (the url names the chart)"
            )
    else:
        if name is None:
            raise click.ClickException("--chart-name is required with a chart repository url")
        chart["name"] = name
    if version is not None:
        chart["version"] = version
    return chart


def metadata_from_options(pairs: tuple[str, ...]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.ClickException(f"--metadata {pair!r}: expected key=value")
        if key in metadata:
            raise click.ClickException(f"--metadata {key!r} is given twice")
        metadata[key] = value
    return metadata


def values_from_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot be read: {exc}") from None
    return parse_values_yaml(text, str(path))


def resolve_release(session: Session, ref: str) -> str:
    """A release id from an id or a version (versions are SemVer, ids are UUIDs)."""
    return releases.find_release_ref(session, ref).id


def _release_line(verb: str, view: releases.ReleaseView, channel: str) -> str:
    return f"{verb} {view.version} on {channel} (release {view.id}, digest {view.digest})"


@cli.command()
@click.argument("channel")
@click.option("--version", "version", required=True, help="SemVer 2.0 version of the release.")
@click.option("--chart-url", help="Chart repository URL, or oci://registry/repo/chart.")
@click.option("--chart-name", help="Chart name in the repository (not for oci://).")
@click.option("--chart-version", help="Chart version (default: the newest).")
@click.option("--chart-path", help="A chart on the operator's local disk (instead of a URL).")
@click.option(
    "--values",
    "values_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Helm values of the release (YAML).",
)
@click.option("--notes", default="", help="Release notes.")
@click.option("--metadata", "metadata", multiple=True, help="key=value (repeatable).")
@ROLLOUT_OPTION
@JSON_OPTION
def publish(
    channel: str,
    version: str,
    chart_url: str | None,
    chart_name: str | None,
    chart_version: str | None,
    chart_path: str | None,
    values_file: Path | None,
    notes: str,
    metadata: tuple[str, ...],
    rollout_percent: int | None,
    as_json: bool,
) -> None:
    """Publish an immutable release on CHANNEL and make it the head (or the candidate)."""
    chart = chart_from_options(chart_url, chart_name, chart_version, chart_path)
    meta = metadata_from_options(metadata)
    values = values_from_file(values_file) if values_file is not None else {}
    with app_context():
        published = releases.publish_release(
            get_session(),
            cli_actor(),
            channel,
            version,
            chart,
            values=values,
            metadata=meta,
            notes=notes,
            rollout_percent=rollout_percent,
        )
    if as_json:
        echo_json(ReleaseSchema().dump(published.release))
    elif published.changed:
        line = _release_line("published", published.release, channel)
        click.echo(line + _staged(rollout_percent))
    else:
        click.echo(
            _release_line("already published with this content:", published.release, channel)
            + "; nothing changed"
        )


@cli.command()
@click.argument("channel")
@click.argument("release")
@ROLLOUT_OPTION
@JSON_OPTION
def promote(channel: str, release: str, rollout_percent: int | None, as_json: bool) -> None:
    """Make RELEASE (an id or a version) the head (or the candidate) of CHANNEL too."""
    with app_context():
        session = get_session()
        promoted = releases.promote_release(
            session,
            cli_actor(),
            channel,
            resolve_release(session, release),
            rollout_percent=rollout_percent,
        )
    if as_json:
        echo_json(ReleaseSchema().dump(promoted.release))
    elif promoted.changed:
        line = _release_line("promoted", promoted.release, channel)
        click.echo(line + _staged(rollout_percent))
    else:
        where = "head" if rollout_percent is None else f"candidate at {rollout_percent}%"
        version = promoted.release.version
        click.echo(f"{version} is already the {where} of {channel}; nothing changed")


@cli.command()
@click.argument("channel")
@click.argument("release", required=False)
@JSON_OPTION
def rollback(channel: str, release: str | None, as_json: bool) -> None:
    """Move CHANNEL's head back: to the previous head, or to RELEASE (an id or a version)."""
    with app_context():
        session = get_session()
        before = channels.get_channel(session, channel).head
        target = resolve_release(session, release) if release is not None else None
        after = releases.rollback_channel(session, cli_actor(), channel, target)
    if as_json:
        echo_json(ChannelSchema().dump(after))
        return
    assert after.head is not None  # a rollback always lands on an earlier head
    if before is not None and before.id == after.head.id:
        click.echo(f"{channel} head stays at {after.head.version}; nothing changed")
    else:
        was = before.version if before is not None else "(none)"
        click.echo(f"{channel} head: {was} -> {after.head.version} (release {after.head.id})")


def _staged(percent: int | None) -> str:
    return "" if percent is None else f" as rollout candidate for {percent}% of licenses"


@cli.command()
@click.argument("channel")
@click.option("--percent", type=click.IntRange(1, 99), help="Grow the rollout to this share.")
@click.option("--complete", is_flag=True, help="Make the candidate the head for everyone.")
@click.option("--abort", is_flag=True, help="Withdraw the candidate; all get the head again.")
@JSON_OPTION
def rollout(channel: str, percent: int | None, complete: bool, abort: bool, as_json: bool) -> None:
    """Advance, complete or abort CHANNEL's staged rollout (exactly one option)."""
    if (percent is not None) + complete + abort != 1:
        raise click.ClickException("give exactly one of --percent, --complete or --abort")
    with app_context():
        session = get_session()
        if percent is not None:
            after = rollouts.advance_rollout(session, cli_actor(), channel, percent)
        elif complete:
            after = rollouts.complete_rollout(session, cli_actor(), channel)
        else:
            after = rollouts.abort_rollout(session, cli_actor(), channel)
    if as_json:
        echo_json(ChannelSchema().dump(after))
    elif after.rollout is not None:
        click.echo(
            f"{channel}: {after.rollout.version} rolled out to {after.rollout.percent}% "
            f"(release {after.rollout.release_id})"
        )
    else:
        head = after.head.version if after.head is not None else "(none)"
        click.echo(f"{channel}: no rollout in progress; head {head}")
