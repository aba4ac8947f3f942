"""``deployserver licenses``: issue, list, revoke, suspend, reinstate and verify licenses."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from deployserver.cli.keys import cli_actor
from deployserver.cli.root import app_context, cli, echo_json
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.licensing.verifier import license_verifier
from deployserver.services import licenses
from deployserver.services.licenses import STATUSES


def license_document(row: licenses.LicenseRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "subject": row.subject,
        "channel": row.channel,
        "status": row.status,
        "kid": row.kid,
        "issuedAt": row.issued_at.isoformat(),
        "notBefore": row.not_before.isoformat(),
        "expiresAt": row.expires_at.isoformat() if row.expires_at else None,
        "entitlements": row.claims.get("entitlements", {}),
        "issuedBy": row.issued_by,
    }


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


@cli.group("licenses")
def licenses_group() -> None:
    """Signed licenses: issue, list, revoke, suspend, reinstate, verify."""


@licenses_group.command("issue")
@click.option("--subject", required=True, help="Customer or organisation id.")
@click.option("--channel", help="Release channel (default: the configured default channel).")
@click.option("--ttl-days", type=click.IntRange(1, licenses.MAX_TTL_DAYS), help="Lifetime.")
@click.option("--expires", callback=parse_expiry, help="Expiry date or time (UTC if no zone).")
@click.option("--perpetual", is_flag=True, help="Never expires (no exp claim).")
@click.option(
    "--entitlement",
    "entitlements",
    multiple=True,
    callback=parse_entitlements,
    help='key=value; repeatable. JSON values (100, true, ["sso"]) keep their type.',
)
@click.option("--json", "as_json", is_flag=True, help="Print the license record as JSON.")
def issue(
    subject: str,
    channel: str | None,
    ttl_days: int | None,
    expires: datetime | None,
    perpetual: bool,
    entitlements: dict[str, Any],
    as_json: bool,
) -> None:
    """Issue a license; the JWT is printed alone on the last line."""
    with app_context() as app:
        config = state(app).config
        row, token = licenses.issue_license(
            get_session(),
            cli_actor(),
            config,
            subject=subject,
            channel=channel or config.default_channel,
            expires_at=expires,
            ttl_days=ttl_days,
            perpetual=perpetual,
            entitlements=entitlements,
        )
    if as_json:
        echo_json(license_document(row))
    else:
        expiry = row.expires_at.isoformat() if row.expires_at else "never (perpetual)"
        click.echo(f"license {row.id} for {row.subject} on {row.channel}, expires {expiry}")
    click.echo(token)


@licenses_group.command("list")
@click.option("--subject", help="Only this subject's licenses.")
@click.option("--status", type=click.Choice(STATUSES), help="Only licenses with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print the licenses as JSON.")
def list_licenses(subject: str | None, status: str | None, as_json: bool) -> None:
    """List licenses, newest first."""
    with app_context():
        found: list[licenses.LicenseRecord] = []
        cursor = None
        while True:
            page = licenses.list_licenses(
                get_session(), cursor=cursor, subject=subject, status=status
            )
            found.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    if as_json:
        echo_json([license_document(row) for row in found])
        return
    for row in found:
        expiry = f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "perpetual"
        click.echo(f"{row.id}  {row.status:<9}  {row.channel:<12}  {expiry:<10}  {row.subject}")


def _status_command(name: str, summary: str) -> None:
    change = getattr(licenses, f"{name}_license")

    @licenses_group.command(name, help=summary)
    @click.argument("license_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the license as JSON.")
    def command(license_id: str, as_json: bool) -> None:
        with app_context():
            row = change(get_session(), cli_actor(), license_id)
        if as_json:
            echo_json(license_document(row))
        else:
            click.echo(f"{row.id} {row.status}")


_status_command("revoke", "Revoke a license for good.")
_status_command("suspend", "Suspend a license until it is reinstated.")
_status_command("reinstate", "Reinstate a suspended license.")


@licenses_group.command("verify")
@click.argument("token")
def verify(token: str) -> None:
    """Print the verdict on a license as JSON; exit 0 only when it is valid."""
    with app_context() as app:
        verdict = license_verifier(state(app)).verify(token.strip())
    echo_json(verdict.as_dict())
    sys.exit(0 if verdict.valid else 1)
