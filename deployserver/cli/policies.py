"""``deployserver licenses pin|unpin|window|unwindow|decision`` and ``releases require``:
installation policies, through the REST API (remote, or in-process on the server host)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from deployserver.cli.client import UUID_RE, Client
from deployserver.cli.licenses import licenses_group, parse_expiry
from deployserver.cli.output import emit, fields_table, output_options
from deployserver.cli.releases import releases_group
from deployserver.cli.root import with_client

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _pin_line(doc: dict[str, Any]) -> None:
    until = f" until {doc['until']}" if doc.get("until") else ""
    reason = f" ({doc['reason']})" if doc.get("reason") else ""
    click.echo(f"license {doc['licenseId']} pinned to {doc['version']}{until}{reason}")


@licenses_group.command("pin")
@click.argument("license_id")
@click.argument("release")
@click.option(
    "--until", callback=parse_expiry, help="The pin ends by itself then (UTC if no zone)."
)
@click.option("--reason", default="", help="Why (shown with the pin).")
@output_options
@with_client
def pin(
    client: Client,
    fmt: str,
    license_id: str,
    release: str,
    until: datetime | None,
    reason: str,
) -> None:
    """Serve LICENSE_ID the RELEASE (an id or a version) of its channel until unpinned."""
    body: dict[str, Any] = {"reason": reason}
    body.update({"releaseId": release} if UUID_RE.fullmatch(release) else {"version": release})
    if until is not None:
        body["until"] = until.isoformat()
    emit(client.call("PUT", f"/api/v1/licenses/{license_id}/pin", body).body, fmt, _pin_line)


@licenses_group.command("unpin")
@click.argument("license_id")
@with_client
def unpin(client: Client, license_id: str) -> None:
    """Remove a license's pin."""
    client.call("DELETE", f"/api/v1/licenses/{license_id}/pin")
    click.echo(f"license {license_id} unpinned")


@licenses_group.command("window")
@click.argument("license_id")
@click.option("--day", "days", multiple=True, required=True, type=click.Choice(DAYS))
@click.option("--start", required=True, help="Local start time HH:MM.")
@click.option("--end", required=True, help="Local end time HH:MM (before start: overnight).")
@click.option("--timezone", required=True, help="IANA time zone, e.g. Europe/Berlin.")
@output_options
@with_client
def window(
    client: Client,
    fmt: str,
    license_id: str,
    days: tuple[str, ...],
    start: str,
    end: str,
    timezone: str,
) -> None:
    """Give a license a maintenance window: outside it, it keeps the release it runs."""
    body = {"days": list(days), "start": start, "end": end, "timezone": timezone}
    answer = client.call("PUT", f"/api/v1/licenses/{license_id}/window", body).body
    emit(
        answer,
        fmt,
        lambda doc: click.echo(
            f"license {license_id} window {','.join(doc['days'])} "
            f"{doc['start']}-{doc['end']} {doc['timezone']}"
        ),
    )


@licenses_group.command("unwindow")
@click.argument("license_id")
@with_client
def unwindow(client: Client, license_id: str) -> None:
    """Remove a license's maintenance window."""
    client.call("DELETE", f"/api/v1/licenses/{license_id}/window")
    click.echo(f"license {license_id} has no maintenance window")


@licenses_group.command("decision")
@click.argument("license_id")
@output_options
@with_client
def decision(client: Client, fmt: str, license_id: str) -> None:
    """Which release LICENSE_ID's next poll gets, and the rule that chose it."""
    answer = client.get(f"/api/v1/licenses/{license_id}/decision")
    names = ("channel", "version", "releaseId", "reason", "detail", "lastServedReleaseId")
    emit(answer, fmt, lambda doc: fields_table([(name, doc.get(name)) for name in names]))


@releases_group.command("require")
@click.argument("channel")
@click.argument("release")
@click.option("--off", is_flag=True, help="No longer required.")
@output_options
@with_client
def require(client: Client, fmt: str, channel: str, release: str, off: bool) -> None:
    """Mark RELEASE (an id or a version) of CHANNEL required: installations below it are
    served it before anything newer."""
    release_id = client.release_id(release)
    answer = client.call(
        "PATCH", f"/api/v1/channels/{channel}/releases/{release_id}", {"required": not off}
    ).body
    state = "required" if answer["required"] else "not required"
    emit(answer, fmt, lambda doc: click.echo(f"{doc['version']} is {state} on {channel}"))
