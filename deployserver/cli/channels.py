"""``deployserver channels sync``: make the server match the channel files (API.md 6)."""

from __future__ import annotations

from pathlib import Path

import click

from deployserver.channelfiles import load_folder
from deployserver.cli.root import app_context, cli, cli_actor, echo_json
from deployserver.db import get_session
from deployserver.services.sync import sync_channels


@cli.group("channels")
def channels_group() -> None:
    """Release channels kept as files."""


@channels_group.command("sync")
@click.argument("folder", default="channels", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def sync(folder: Path, dry_run: bool, as_json: bool) -> None:
    """Create, update, publish, promote and move heads until the server matches FOLDER.

    One transaction: any refusal changes nothing. Never deletes a channel or a release.
    """
    # Every file is read and validated before the database is opened.
    files = load_folder(folder)
    with app_context():
        result = sync_channels(get_session(), cli_actor(), files, dry_run=dry_run)
    if as_json:
        echo_json(
            {
                "dryRun": result.dry_run,
                "changed": result.changed,
                "requestId": result.request_id,
                "actions": [
                    {
                        "action": action.action,
                        "channel": action.channel,
                        "version": action.version,
                        "previous": action.previous,
                        "line": action.line,
                    }
                    for action in result.actions
                ],
            }
        )
        return
    for action in result.actions:
        click.echo(action.line)
    count = len(result.actions)
    if not count:
        click.echo(f"no changes: the server matches {folder}")
    elif dry_run:
        click.echo(f"dry run: {count} change(s) planned, nothing written")
    else:
        click.echo(f"{count} change(s) applied")
