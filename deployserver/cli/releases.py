"""``deployserver publish``, ``promote``, ``rollback``, ``history`` and ``releases``.

A release may be named by its id or by its version. Publish and promote print the values
warnings the server answers with (stderr in table mode, in the document otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deployserver.cli.client import UUID_RE, Client, Refusal
from deployserver.cli.output import emit, emit_rows, fields_table, output_options
from deployserver.cli.root import cli, with_client
from deployserver.cli.values import SET_OPTION, VALUES_OPTION, values_from_options

ROLLOUT_OPTION = click.option(
    "--rollout-percent",
    type=click.IntRange(1, 99),
    help="Stage it as the channel's rollout candidate for this share (1-99) of licenses.",
)
RELEASE_COLUMNS = (
    ("VERSION", lambda r: r["version"]),
    ("ID", lambda r: r["id"]),
    ("DIGEST", lambda r: r["digest"][:12]),
    ("CREATED", lambda r: r["createdAt"]),
    ("BY", lambda r: r["createdBy"]),
    ("CHANNELS", lambda r: r["channels"]),
)
HISTORY_COLUMNS = (
    ("AT", lambda e: e["at"]),
    ("ACTION", lambda e: e["action"]),
    ("VERSION", lambda e: e["version"]),
    ("PREVIOUS", lambda e: e["previousVersion"]),
    ("PERCENT", lambda e: e.get("percent")),
    ("ACTOR", lambda e: e["actor"]),
)


def chart_from_options(
    url: str | None, name: str | None, version: str | None, path: str | None
) -> dict[str, Any]:
    """The chart reference the options describe: repo, OCI (``oci://`` url) or local path."""
    if path is not None:
        if url is not None or name is not None or version is not None:
            raise Refusal(
                "--chart-path names a local chart: give no --chart-url, --chart-name "
                "or --chart-version with it"
            )
        return {"path": path}
    if url is None:
        raise Refusal("give --chart-url (with --chart-name for a chart repository) or --chart-path")
    chart: dict[str, Any] = {"url": url}
    if url.startswith("oci://"):
        if name is not None:
            raise Refusal(
                "--chart-name is not used with an oci:// chart url (the url names the chart)"
            )
    else:
        if name is None:
            raise Refusal("--chart-name is required with a chart repository url")
        chart["name"] = name
    if version is not None:
        chart["version"] = version
    return chart


def metadata_from_options(pairs: tuple[str, ...]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Refusal(f"--metadata {pair!r}: expected key=value")
        if key in metadata:
            raise Refusal(f"--metadata {key!r} is given twice")
        metadata[key] = value
    return metadata


def release_ref(ref: str) -> dict[str, str]:
    """How a request body names a release: by id, or by version."""
    return {"releaseId": ref} if UUID_RE.fullmatch(ref) else {"version": ref}


def release_line(verb: str, release: dict[str, Any], channel: str) -> str:
    return (
        f"{verb} {release['version']} on {channel} "
        f"(release {release['id']}, digest {release['digest']})"
    )


def release_table(release: dict[str, Any]) -> None:
    fields_table(
        [
            ("version", release["version"]),
            ("id", release["id"]),
            ("digest", release["digest"]),
            ("chart", release["chart"]),
            ("values", release["values"]),
            ("metadata", release["metadata"]),
            ("notes", release["notes"]),
            ("channels", release["channels"]),
            ("createdAt", release["createdAt"]),
            ("createdBy", release["createdBy"]),
        ]
    )


def _staged(percent: int | None) -> str:
    return "" if percent is None else f" as rollout candidate for {percent}% of licenses"


URGENT_OPTION = click.option(
    "--urgent", is_flag=True, help="Reach licenses outside their maintenance windows too."
)


@cli.command()
@click.argument("channel")
@click.option("--version", "version", required=True, help="SemVer 2.0 version of the release.")
@click.option("--chart-url", help="Chart repository URL, or oci://registry/repo/chart.")
@click.option("--chart-name", help="Chart name in the repository (not for oci://).")
@click.option("--chart-version", help="Chart version (default: the newest).")
@click.option("--chart-path", help="A chart on the operator's local disk (instead of a URL).")
@VALUES_OPTION
@SET_OPTION
@click.option("--notes", default="", help="Release notes.")
@click.option("--metadata", "metadata", multiple=True, help="key=value (repeatable).")
@ROLLOUT_OPTION
@URGENT_OPTION
@output_options
@with_client
def publish(
    client: Client,
    fmt: str,
    channel: str,
    version: str,
    chart_url: str | None,
    chart_name: str | None,
    chart_version: str | None,
    chart_path: str | None,
    values_files: tuple[Path, ...],
    set_values: tuple[str, ...],
    notes: str,
    metadata: tuple[str, ...],
    rollout_percent: int | None,
    urgent: bool,
) -> None:
    """Publish an immutable release on CHANNEL and make it the head (or the candidate)."""
    body: dict[str, Any] = {
        "version": version,
        "chart": chart_from_options(chart_url, chart_name, chart_version, chart_path),
        "values": values_from_options(values_files, set_values) or {},
        "metadata": metadata_from_options(metadata),
        "notes": notes,
    }
    if rollout_percent is not None:
        body["rollout"] = {"percent": rollout_percent}
    if urgent:
        body["urgent"] = True
    answer = client.call("POST", f"/api/v1/channels/{channel}/releases", body)
    release = answer.body

    def table(doc: dict[str, Any]) -> None:
        if answer.status == 201:
            click.echo(release_line("published", doc, channel) + _staged(rollout_percent))
        else:
            click.echo(
                release_line("already published with this content:", doc, channel)
                + "; nothing changed"
            )

    emit(release, fmt, table, release.get("warnings", []))


@cli.command()
@click.argument("channel")
@click.argument("release")
@ROLLOUT_OPTION
@URGENT_OPTION
@output_options
@with_client
def promote(
    client: Client,
    fmt: str,
    channel: str,
    release: str,
    rollout_percent: int | None,
    urgent: bool,
) -> None:
    """Make RELEASE (an id or a version) the head (or the candidate) of CHANNEL too."""
    before = client.get(f"/api/v1/channels/{channel}")
    body: dict[str, Any] = release_ref(release)
    if rollout_percent is not None:
        body["rollout"] = {"percent": rollout_percent}
    if urgent:
        body["urgent"] = True
    promoted = client.post(f"/api/v1/channels/{channel}/promote", body)

    def table(doc: dict[str, Any]) -> None:
        where = "head" if rollout_percent is None else "rollout"
        unchanged = (
            (before["head"] or {}).get("id") == doc["id"]
            if rollout_percent is None
            else (before.get("rollout") or {}).get("releaseId") == doc["id"]
            and before["rollout"]["percent"] == rollout_percent
        )
        if unchanged:
            what = "head" if where == "head" else f"candidate at {rollout_percent}%"
            click.echo(f"{doc['version']} is already the {what} of {channel}; nothing changed")
        else:
            click.echo(release_line("promoted", doc, channel) + _staged(rollout_percent))

    emit(promoted, fmt, table, promoted.get("warnings", []))


@cli.command()
@click.argument("channel")
@click.argument("release", required=False)
@output_options
@with_client
def rollback(client: Client, fmt: str, channel: str, release: str | None) -> None:
    """Move CHANNEL's head back: to the previous head, or to RELEASE (an id or a version)."""
    before = client.get(f"/api/v1/channels/{channel}")["head"]
    body = release_ref(release) if release is not None else {}
    after = client.post(f"/api/v1/channels/{channel}/rollback", body)

    def table(doc: dict[str, Any]) -> None:
        head = doc["head"]
        if before is not None and before["id"] == head["id"]:
            click.echo(f"{channel} head stays at {head['version']}; nothing changed")
        else:
            was = before["version"] if before is not None else "(none)"
            click.echo(f"{channel} head: {was} -> {head['version']} (release {head['id']})")

    emit(after, fmt, table)


@cli.command()
@click.argument("channel")
@output_options
@with_client
def history(client: Client, fmt: str, channel: str) -> None:
    """Every head change and rollout step of CHANNEL, newest first."""
    emit_rows(client.items(f"/api/v1/channels/{channel}/history"), fmt, HISTORY_COLUMNS)


@cli.group("releases")
def releases_group() -> None:
    """Releases: list a channel's, show one by id or version."""


@releases_group.command("list")
@click.argument("channel")
@output_options
@with_client
def list_releases(client: Client, fmt: str, channel: str) -> None:
    """Every release that has been CHANNEL's head, newest arrival first."""
    emit_rows(client.items(f"/api/v1/channels/{channel}/releases"), fmt, RELEASE_COLUMNS)


@releases_group.command("show")
@click.argument("release")
@output_options
@with_client
def show_release(client: Client, fmt: str, release: str) -> None:
    """Show a release named by its id or its version."""
    if UUID_RE.fullmatch(release):
        found = client.get(f"/api/v1/releases/{release}")
    else:
        found = client.get("/api/v1/releases", version=release)
    emit(found, fmt, release_table)
