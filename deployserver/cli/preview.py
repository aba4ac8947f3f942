"""``deployserver render`` and ``deployserver diff``: previews for release engineers."""

from __future__ import annotations

import json
from typing import IO, Any

import click
import yaml

from deployserver.cli.root import app_context, cli, echo_json
from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.extensions import state
from deployserver.services import releases, render
from deployserver.specs.values import load_plain_yaml


def read_document(handle: IO[str] | None, option: str) -> Any:
    """A YAML or JSON file given to ``option``, as plain data (None when not given)."""
    if handle is None:
        return None
    return load_plain_yaml(handle.read(), option)


def cr_layer(document: Any) -> Any:
    """``{chart?, values?}``, also from a whole WeightsAndBiases resource (its ``spec``)."""
    if isinstance(document, dict) and isinstance(document.get("spec"), dict) and "kind" in document:
        document = document["spec"]
    if isinstance(document, dict) and not document.keys() <= {"chart", "values"}:
        # str(): a YAML key may be a number, and numbers and strings do not sort together.
        unknown = ", ".join(sorted(str(key) for key in document.keys() - {"chart", "values"}))
        raise Invalid.field("--cr", f"holds {unknown}; a custom resource layer has chart, values")
    return document


@cli.command("render")
@click.argument("channel")
@click.option(
    "--release",
    "release_ref",
    help="Release id or version (default: the head; a _releaseId in the user input pins).",
)
@click.option(
    "--user-input",
    type=click.File("r"),
    help="YAML or JSON file of user input values (as set in the System Console).",
)
@click.option(
    "--cr",
    type=click.File("r"),
    help="YAML or JSON file: {chart?, values?} or a whole WeightsAndBiases resource.",
)
@click.option("--reveal", is_flag=True, help="Show secrets-looking values instead of ***.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def render_command(
    channel: str,
    release_ref: str | None,
    user_input: IO[str] | None,
    cr: IO[str] | None,
    reveal: bool,
    as_json: bool,
) -> None:
    """Print the spec the operator would apply on CHANNEL (CR > user input > release >
    operator defaults)."""
    request_user_input = read_document(user_input, "--user-input")
    request_cr = cr_layer(read_document(cr, "--cr"))
    with app_context() as app:
        session = get_session()
        release_id = releases.find_release_ref(session, release_ref).id if release_ref else None
        rendered = render.render_spec(
            session,
            channel,
            render.RenderRequest(release_id, request_user_input, request_cr),
            state(app).config.operator_namespace,
            reveal=reveal,
        )
    for warning in rendered.warnings:
        click.echo(f"warning: {warning['code']} {warning['path']}: {warning['detail']}", err=True)
    if as_json:
        echo_json(rendered.spec)
    else:
        click.echo(yaml.safe_dump(rendered.spec, sort_keys=True, allow_unicode=True), nl=False)


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print {changes: [...]} as JSON.")
def diff_command(old: str, new: str, as_json: bool) -> None:
    """Print what changes in chart and values from release OLD to NEW (ids or versions)."""
    with app_context():
        session = get_session()
        old_id = releases.find_release_ref(session, old).id
        new_id = releases.find_release_ref(session, new).id
        changes = releases.diff_releases(session, old_id, new_id)
    if as_json:
        echo_json({"changes": [change.as_json() for change in changes]})
        return
    if not changes:
        click.echo("no changes")
    for change in changes:
        if change.op == "add":
            click.echo(f"+ {change.path}: {_show(change.to)}")
        elif change.op == "remove":
            click.echo(f"- {change.path}: {_show(change.from_)}")
        else:
            click.echo(f"~ {change.path}: {_show(change.from_)} -> {_show(change.to)}")


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
