"""``deployserver licenses``: issue, list, show, revoke, suspend, reinstate and verify."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from deployserver.cli.client import Client
from deployserver.cli.output import emit, emit_rows, fields_table, output_options
from deployserver.cli.root import cli, with_client

STATUSES = ("active", "suspended", "revoked")
# The server's bound (services/licenses.MAX_TTL_DAYS) refuses more; this one fails early.
MAX_TTL_DAYS = 36500
LICENSE_COLUMNS = (
    ("ID", lambda row: row["id"]),
    ("SUBJECT", lambda row: row["subject"]),
    ("CHANNEL", lambda row: row["channel"]),
    ("STATUS", lambda row: row["status"]),
    ("EXPIRES", lambda row: row.get("expiresAt") or "perpetual"),
    ("ISSUED", lambda row: row.get("issuedAt")),
)


def parse_expiry(_ctx: click.Context, _param: click.Parameter, raw: str | None) -> Any:
    """A date (midnight UTC) or an ISO 8601 time; without a zone it is read as UTC."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter("give a date (2027-01-31) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_entitlements(
    _ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (100, true, ["sso"]) is kept as such."""
    granted: dict[str, Any] = {}
    for pair in pairs:
        key, separator, raw = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} is not key=value")
        if key in granted:
            raise click.BadParameter(f"{key!r} is given twice")
        try:
            granted[key] = json.loads(raw)
        except ValueError:
            granted[key] = raw
    return granted


def license_table(row: dict[str, Any]) -> None:
    fields_table(
        [
            (name, row.get(name))
            for name in (
                "id",
                "subject",
                "channel",
                "status",
                "kid",
                "issuedAt",
                "notBefore",
                "expiresAt",
                "entitlements",
                "issuedBy",
            )
        ]
    )


@cli.group("licenses")
def licenses_group() -> None:
    """Signed licenses: issue, list, show, revoke, suspend, reinstate, verify."""


@licenses_group.command("issue")
@click.option("--subject", required=True, help="Customer or organisation id.")
@click.option("--channel", help="Release channel (default: the server's default channel).")
@click.option("--ttl-days", type=click.IntRange(1, MAX_TTL_DAYS), help="Lifetime.")
@click.option("--expires", callback=parse_expiry, help="Expiry date or time (UTC if no zone).")
@click.option("--perpetual", is_flag=True, help="Never expires (no exp claim).")
@click.option(
    "--entitlement",
    "entitlements",
    multiple=True,
    callback=parse_entitlements,
    help='key=value; repeatable. JSON values (100, true, ["sso"]) keep their type.',
)
@output_options
@with_client
def issue(
    client: Client,
    fmt: str,
    subject: str,
    channel: str | None,
    ttl_days: int | None,
    expires: datetime | None,
    perpetual: bool,
    entitlements: dict[str, Any],
) -> None:
    """Issue a license; the JWT is printed alone on the last line."""
    body: dict[str, Any] = {"subject": subject, "entitlements": entitlements}
    if channel is not None:
        body["channel"] = channel
    if ttl_days is not None:
        body["ttlDays"] = ttl_days
    if expires is not None:
        body["expiresAt"] = expires.isoformat()
    if perpetual:
        body["perpetual"] = True
    issued = client.post("/api/v1/licenses", body)
    if fmt != "table":
        emit({key: value for key, value in issued.items() if key != "token"}, fmt, print)
    else:
        expiry = issued.get("expiresAt") or "never (perpetual)"
        click.echo(
            f"license {issued['id']} for {issued['subject']} on {issued['channel']}, "
            f"expires {expiry}"
        )
    click.echo(issued["token"])


@licenses_group.command("list")
@click.option("--subject", help="Only this subject's licenses.")
@click.option("--channel", help="Only licenses on this channel.")
@click.option("--status", type=click.Choice(STATUSES), help="Only licenses with this status.")
@output_options
@with_client
def list_licenses(
    client: Client, fmt: str, subject: str | None, channel: str | None, status: str | None
) -> None:
    """List licenses, newest first."""
    rows = client.items("/api/v1/licenses", subject=subject, channel=channel, status=status)
    emit_rows(rows, fmt, LICENSE_COLUMNS)


@licenses_group.command("show")
@click.argument("license_id")
@output_options
@with_client
def show(client: Client, fmt: str, license_id: str) -> None:
    """Show one license."""
    emit(client.get(f"/api/v1/licenses/{license_id}"), fmt, license_table)


def _status_command(name: str, summary: str) -> None:
    @licenses_group.command(name, help=summary)
    @click.argument("license_id")
    @output_options
    @with_client
    def command(client: Client, fmt: str, license_id: str) -> None:
        row = client.post(f"/api/v1/licenses/{license_id}/{name}")
        emit(row, fmt, lambda doc: click.echo(f"{doc['id']} {doc['status']}"))


_status_command("revoke", "Revoke a license for good.")
_status_command("suspend", "Suspend a license until it is reinstated.")
_status_command("reinstate", "Reinstate a suspended license.")


@licenses_group.command("verify")
@click.argument("token")
@output_options
@with_client
def verify(client: Client, fmt: str, token: str) -> None:
    """Print the verdict on a license; exit 0 only when it is valid (1 otherwise)."""
    verdict = client.post("/api/v1/licenses/validate", {"license": token.strip()})
    emit(
        verdict,
        "json" if fmt == "table" else fmt,
        print,
    )
    sys.exit(0 if verdict.get("valid") else 1)
