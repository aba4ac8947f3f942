"""``deployserver render`` and ``deployserver diff``: previews for release engineers."""

from __future__ import annotations

import json
import math
from typing import IO, Any

import click
import yaml

from deployserver.cli.client import Client, Refusal
from deployserver.cli.output import emit, output_options
from deployserver.cli.root import cli, with_client


def read_document(handle: IO[str] | None, option: str) -> Any:
    """A YAML or JSON file given to ``option``, as plain data (None when not given)."""
    if handle is None:
        return None
    # The server's strict YAML rules, imported only when a file is given.
    from deployserver.errors import DeployServerError
    from deployserver.specs.values import load_plain_yaml

    try:
        return load_plain_yaml(handle.read(), option)
    except DeployServerError as exc:
        raise Refusal(str(exc)) from None


def cr_layer(document: Any) -> Any:
    """``{chart?, values?}``, also from a whole WeightsAndBiases resource (its ``spec``)."""
    if isinstance(document, dict) and isinstance(document.get("spec"), dict) and "kind" in document:
        document = document["spec"]
    if isinstance(document, dict) and not document.keys() <= {"chart", "values"}:
        # str(): a YAML key may be a number, and numbers and strings do not sort together.
        unknown = ", ".join(sorted(str(key) for key in document.keys() - {"chart", "values"}))
        raise Refusal(f"--cr: holds {unknown}; a custom resource layer has chart, values")
    return document


def json_ready(document: Any, where: str) -> Any:
    """Refuse what JSON cannot carry (YAML allows number keys, .nan, .inf), naming the path.

    Request fields are named as the server names them (``userInput.a[0]``, ``cr.values``).
    """
    if isinstance(document, dict):
        for key, value in document.items():
            if not isinstance(key, str):
                raise Refusal(f"{where}: key {key!r} is not a string; quote it in the YAML")
            json_ready(value, f"{where}.{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            json_ready(item, f"{where}[{index}]")
    elif isinstance(document, float) and not math.isfinite(document):
        raise Refusal(f"{where}: NaN and infinities are not values")
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
@output_options
@with_client
def render_command(
    client: Client,
    fmt: str,
    channel: str,
    release_ref: str | None,
    user_input: IO[str] | None,
    cr: IO[str] | None,
    reveal: bool,
) -> None:
    """Print the spec the operator would apply on CHANNEL (CR > user input > release >
    operator defaults). Table mode prints the spec as YAML."""
    body: dict[str, Any] = {}
    request_user_input = read_document(user_input, "--user-input")
    request_cr = cr_layer(read_document(cr, "--cr"))
    if request_user_input is not None:
        body["userInput"] = json_ready(request_user_input, "userInput")
    if request_cr is not None:
        body["cr"] = json_ready(request_cr, "cr")
    if release_ref:
        body["releaseId"] = client.release_id(release_ref)
    rendered = client.post(
        f"/api/v1/channels/{channel}/render", body, reveal="true" if reveal else None
    )
    emit(
        rendered,
        fmt,
        lambda doc: click.echo(
            yaml.safe_dump(doc["spec"], sort_keys=True, allow_unicode=True), nl=False
        ),
        rendered.get("warnings", []),
    )


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--reveal", is_flag=True, help="Show secrets-looking values instead of ***.")
@output_options
@with_client
def diff_command(client: Client, fmt: str, old: str, new: str, reveal: bool) -> None:
    """Print what changes in chart and values from release OLD to NEW (ids or versions)."""
    old_id, new_id = client.release_id(old), client.release_id(new)
    diff = client.get(f"/api/v1/releases/{old_id}/diff/{new_id}", reveal="true" if reveal else None)

    def table(doc: dict[str, Any]) -> None:
        if not doc["changes"]:
            click.echo("no changes")
        for change in doc["changes"]:
            if change["op"] == "add":
                click.echo(f"+ {change['path']}: {_show(change['to'])}")
            elif change["op"] == "remove":
                click.echo(f"- {change['path']}: {_show(change['from'])}")
            else:
                click.echo(f"~ {change['path']}: {_show(change['from'])} -> {_show(change['to'])}")

    emit(diff, fmt, table)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
