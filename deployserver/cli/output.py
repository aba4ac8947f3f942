"""How commands print: ``-o table`` (default), ``json`` or ``yaml``; warnings; streamed lists.

Documents are the REST API's own (same field names, RFC 3339 ``Z`` times). In table mode
warnings go to stderr; in json and yaml they stay in the document. Lists are printed a page
at a time as they arrive.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click
import yaml

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml")
Column = tuple[str, Callable[[dict[str, Any]], Any]]


def output_options(command: F) -> F:
    """``-o table|json|yaml`` and ``--json`` (an alias of ``-o json``), passed as ``fmt``."""

    @click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Same as -o json.")
    @functools.wraps(command)
    def wrapper(*args: Any, output: str, as_json: bool, **kwargs: Any) -> Any:
        return command(*args, fmt="json" if as_json else output, **kwargs)

    return wrapper  # type: ignore[return-value]


def dump(document: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(yaml.safe_dump(document, sort_keys=True, allow_unicode=True), nl=False)


def warning_line(warning: dict[str, Any]) -> str:
    code = warning.get("code", "WARNING")
    path = warning.get("path")
    if "from" in warning or "to" in warning:
        change = f"{warning.get('from')} -> {warning.get('to') or '(removed)'}"
        return f"warning: {code} {path}: {change}"
    detail = warning.get("detail") or ""
    return f"warning: {code} {path}: {detail}" if path else f"warning: {code}: {detail}"


def emit(
    document: Any,
    fmt: str,
    table: Callable[[Any], None],
    warnings: Sequence[dict[str, Any]] = (),
) -> None:
    """Print one document: as the API answered it, or as ``table`` writes it."""
    if fmt != "table":
        dump(document, fmt)
        return
    table(document)
    for warning in warnings:
        click.echo(warning_line(warning), err=True)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(item) for item in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def emit_rows(items: Iterable[dict[str, Any]], fmt: str, columns: Sequence[Column]) -> None:
    """Print a list as it streams in: a table with a header, a JSON array or a YAML list."""
    if fmt == "json":
        first = True
        for item in items:
            prefix = "[\n" if first else ",\n"
            text = json.dumps(item, indent=2, sort_keys=True, ensure_ascii=False)
            click.echo(prefix + "\n".join("  " + line for line in text.splitlines()), nl=False)
            first = False
        click.echo("[]" if first else "\n]")
        return
    if fmt == "yaml":
        empty = True
        for item in items:
            click.echo(yaml.safe_dump([item], sort_keys=True, allow_unicode=True), nl=False)
            empty = False
        if empty:
            click.echo("[]")
        return
    headers = [name for name, _ in columns]
    widths = [len(name) for name in headers]
    batch: list[list[str]] = []
    printed = False

    def flush() -> None:
        nonlocal printed
        for row in batch:
            for index, text in enumerate(row):
                widths[index] = max(widths[index], len(text))
        if not printed:
            click.echo(_row(headers, widths))
            printed = True
        for row in batch:
            click.echo(_row(row, widths))
        batch.clear()

    for item in items:
        batch.append([cell(get(item)) for _, get in columns])
        # Widths settle on the first rows; later pages print as they come.
        if len(batch) >= 100:
            flush()
    flush()


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)).rstrip()


def fields_table(pairs: Sequence[tuple[str, Any]]) -> None:
    """One object as a two-column table."""
    emit_rows(({"field": name, "value": value} for name, value in pairs), "table", FIELD_COLUMNS)


FIELD_COLUMNS: Sequence[Column] = (
    ("FIELD", lambda row: row["field"]),
    ("VALUE", lambda row: row["value"]),
)
