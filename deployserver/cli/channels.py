"""``deployserver channels``: list, show, create, delete, set base values, and sync files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deployserver.cli.client import Client, Refusal
from deployserver.cli.output import emit, emit_rows, fields_table, output_options
from deployserver.cli.root import cli, with_client
from deployserver.cli.values import SET_OPTION, VALUES_OPTION, values_from_options

# What a channels folder upload carries: channel files and the values files they name.
UPLOADED_SUFFIXES = (".yaml", ".yml", ".json")

CHANNEL_COLUMNS = (
    ("NAME", lambda c: c["name"]),
    ("HEAD", lambda c: c["head"]["version"] if c["head"] else None),
    (
        "ROLLOUT",
        lambda c: f"{c['rollout']['version']} {c['rollout']['percent']}%" if c["rollout"] else None,
    ),
    ("UPDATED", lambda c: c["updatedAt"]),
    ("DESCRIPTION", lambda c: c["description"]),
)


def channel_table(channel: dict[str, Any]) -> None:
    head = channel["head"]
    rollout = channel.get("rollout")
    fields_table(
        [
            ("name", channel["name"]),
            ("description", channel["description"]),
            ("head", f"{head['version']} ({head['id']})" if head else None),
            ("rollout", f"{rollout['version']} at {rollout['percent']}%" if rollout else None),
            ("values", channel["values"]),
            ("strictValues", channel.get("strictValues")),
            ("createdAt", channel["createdAt"]),
            ("updatedAt", channel["updatedAt"]),
        ]
    )


@cli.group("channels")
def channels_group() -> None:
    """Release channels: list, show, create, delete, set-values, sync files."""


@channels_group.command("list")
@output_options
@with_client
def list_channels(client: Client, fmt: str) -> None:
    """List channels with their head versions."""
    emit_rows(client.items("/api/v1/channels"), fmt, CHANNEL_COLUMNS)


@channels_group.command("show")
@click.argument("name")
@output_options
@with_client
def show(client: Client, fmt: str, name: str) -> None:
    """Show a channel: head, rollout, base values."""
    emit(client.get(f"/api/v1/channels/{name}"), fmt, channel_table)


@channels_group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the channel is for.")
@VALUES_OPTION
@SET_OPTION
@output_options
@with_client
def create(
    client: Client,
    fmt: str,
    name: str,
    description: str,
    values_files: tuple[Path, ...],
    set_values: tuple[str, ...],
) -> None:
    """Create a channel (admin), with optional base values."""
    body: dict[str, Any] = {"name": name, "description": description}
    values = values_from_options(values_files, set_values)
    if values is not None:
        body["values"] = values
    created = client.post("/api/v1/channels", body)
    emit(created, fmt, lambda doc: click.echo(f"created channel {doc['name']}"))


@channels_group.command("delete")
@click.argument("name")
@with_client
def delete(client: Client, name: str) -> None:
    """Delete a channel that has no history (admin)."""
    client.call("DELETE", f"/api/v1/channels/{name}")
    click.echo(f"deleted channel {name}")


@channels_group.command("set-values")
@click.argument("name")
@VALUES_OPTION
@SET_OPTION
@output_options
@with_client
def set_values(
    client: Client,
    fmt: str,
    name: str,
    values_files: tuple[Path, ...],
    set_values: tuple[str, ...],
) -> None:
    """Replace CHANNEL's base values with the merged --values files and --set pairs."""
    values = values_from_options(values_files, set_values)
    if values is None:
        raise Refusal("give the new base values with --values FILE or --set key=value")
    updated = client.call("PATCH", f"/api/v1/channels/{name}", {"values": values}).body
    emit(
        updated,
        fmt,
        lambda doc: click.echo(f"updated base values of {doc['name']}"),
        updated.get("warnings", []),
    )


def read_channel_folder(folder: Path) -> dict[str, str]:
    """Channel and values files under ``folder`` as ``{relative path: text}``.

    Hidden entries are left out, and so is anything a link takes outside the folder (a values
    file must be one of the files under review).
    """
    if not folder.is_dir():
        raise Refusal(f"{folder}: not a folder of channel files")
    root = folder.resolve()
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix not in UPLOADED_SUFFIXES or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            continue
        try:
            files[relative.as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Refusal(f"{path}: cannot be read: {exc}") from None
    return files


# The server's notes on a plan (services/sync.NOTES), named here so the client starts without
# the server stack.
PLAN_NOTES = ("drift", "skip")


@channels_group.command("sync")
@click.argument("folder", default="channels", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option(
    "--seed",
    is_flag=True,
    help="Only fill in what is missing, as a server start does: never move a head or "
    "rewrite a channel that has one.",
)
@output_options
@with_client
def sync(client: Client, fmt: str, folder: Path, dry_run: bool, seed: bool) -> None:
    """Create, update, publish, promote and move heads until the server matches FOLDER.

    The server runs it on the uploaded files in one transaction: any refusal changes
    nothing. Never deletes a channel or a release.
    """
    files = read_channel_folder(folder)
    result = client.post("/api/v1/sync", {"files": files, "dryRun": dry_run, "seed": seed})

    def table(doc: dict[str, Any]) -> None:
        for line in doc["plan"]:
            click.echo(line)
        # drift and skip lines are notes on the plan, not changes.
        count = sum(line.split(" ", 1)[0] not in PLAN_NOTES for line in doc["plan"])
        if not count:
            click.echo(f"no changes: the server matches {folder}")
        elif dry_run:
            click.echo(f"dry run: {count} change(s) planned, nothing written")
        else:
            click.echo(f"{count} change(s) applied")

    emit(result, fmt, table)
