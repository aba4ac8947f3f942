"""The release spec: what a publish was given, validated, with its canonical JSON and digest.

Pure rules about a release before it is stored: the body's fields, the shape of a release
id, and a staged rollout's percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployserver.errors import Invalid
from deployserver.specs.canonical import NotCanonicalizable, canonical_json, digest_of
from deployserver.specs.charts import validate_chart
from deployserver.specs.text import is_uuid, validate_text
from deployserver.specs.values import (
    parse_values_yaml,
    validate_metadata,
    validate_values,
    validate_version,
)

# Bytes of UTF-8: MariaDB's TEXT column holds 65,535 of them, whatever the characters.
MAX_NOTES_BYTES = 65_535
# History actions that move the head; the others (rollout-start, rollout-advance,


@dataclass(frozen=True)
class ReleaseSpec:
    """A validated release body and its canonical JSON and digest, computed once."""

    version: str
    chart: dict[str, Any]
    values: dict[str, Any]
    metadata: dict[str, str]
    notes: str
    spec: str
    digest: str


def release_spec(
    version: Any,
    chart: Any,
    values: Any = None,
    values_yaml: str | None = None,
    metadata: Any = None,
    notes: Any = "",
) -> ReleaseSpec:
    """Validate what a publish was given; every refusal is a 422 naming the field."""
    validate_version(version)
    validate_chart(chart)
    if values is not None and values_yaml is not None:
        raise Invalid.field("valuesYaml", "give either values or valuesYaml, not both")
    if values_yaml is not None:
        values = parse_values_yaml(values_yaml)
    values = validate_values({} if values is None else values)
    metadata = validate_metadata(metadata)
    if not isinstance(notes, str):
        raise Invalid.field("notes", "must be a string")
    validate_text(notes, "notes")
    if len(notes.encode("utf-8")) > MAX_NOTES_BYTES:
        raise Invalid.field("notes", f"must be at most {MAX_NOTES_BYTES} bytes of UTF-8")
    own = {"chart": chart, "metadata": metadata, "values": values}
    try:
        spec = canonical_json(own)
    except NotCanonicalizable as exc:
        raise Invalid.field(exc.path or "values", exc.message) from None
    return ReleaseSpec(
        version=version,
        chart=chart,
        values=values,
        metadata=metadata,
        notes=notes,
        spec=spec,
        digest=digest_of(own),
    )


def is_release_id(text: Any) -> bool:
    """True when ``text`` has the shape of a release id (whether or not such a release exists).

    Release ids are the server's own uuid4 strings. Anything else names no release, and is not
    sent to the database (a NUL in it is an error there on PostgreSQL, not an empty result).
    """
    return is_uuid(text)


def validate_rollout_percent(percent: Any, field: str = "rollout.percent") -> int:
    """A staged rollout's percentage: an integer from 1 to 99 (100% is a completed rollout)."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 99:
        raise Invalid.field(field, "must be an integer from 1 to 99")
    return percent
