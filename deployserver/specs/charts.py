"""Chart references: the three shapes the operator accepts (operator-client.md).

The operator tries local ``{path}``, then OCI ``{url: oci://..., version}``, then repo
``{url, name, version?}``, first match wins; a chart matching none is silently ignored by it
("invalid config"), so the server refuses it at publish time instead. Fields the operator
does not read are refused too: a typo would otherwise be shipped and silently ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from deployserver.errors import Invalid
from deployserver.specs.oci import parse_reference, reference_problem
from deployserver.specs.text import unstorable, validate_text

CREDENTIAL_SECRET_FIELDS = ("name", "usernameKey", "passwordKey")
_COMMON_OPTIONAL = {"username": str, "password": str, "credentialSecret": dict, "debug": bool}
SHAPES: dict[str, dict[str, dict[str, type]]] = {
    "local": {"required": {"path": str}, "optional": {"debug": bool}},
    "oci": {
        "required": {"url": str},
        "optional": {**_COMMON_OPTIONAL, "version": str, "plainHTTP": bool},
    },
    "repo": {
        "required": {"url": str, "name": str},
        "optional": {**_COMMON_OPTIONAL, "version": str, "repoName": str},
    },
}
SHAPES_HINT = (
    'must be a local chart {"path"}, an OCI chart {"url": "oci://...", "version"} '
    'or a repo chart {"url": "https://...", "name", "version"?}'
)


def chart_shape(chart: dict[str, Any]) -> str | None:
    """Which shape the operator would take ``chart`` for (its order), or None."""
    if "path" in chart:
        return "local"
    url = chart.get("url")
    if isinstance(url, str) and url.startswith("oci://"):
        return "oci"
    if "url" in chart:
        return "repo"
    return None


def validate_chart(chart: Any, field: str = "chart") -> dict[str, Any]:
    """Return ``chart`` when the operator can use it; else raise 422 naming the field."""
    if not isinstance(chart, dict):
        raise Invalid.field(field, "must be an object")
    shape = chart_shape(chart)
    if shape is None:
        raise Invalid.field(field, SHAPES_HINT)
    rules = SHAPES[shape]
    allowed = {**rules["required"], **rules["optional"]}
    _check_strings(chart, field)
    for key in sorted(chart):
        if key not in allowed:
            raise Invalid.field(f"{field}.{key}", f"is not a field of a {shape} chart")
        expected = allowed[key]
        if not isinstance(chart[key], expected):
            kind = {str: "a string", bool: "true or false", dict: "an object"}[expected]
            raise Invalid.field(f"{field}.{key}", f"must be {kind}")
    for key in rules["required"]:
        if not chart.get(key, "").strip():
            raise Invalid.field(f"{field}.{key}", f"is required for a {shape} chart")
    if shape == "oci":
        _check_oci(chart, field)
    if shape == "repo":
        _check_repo_url(chart["url"], field)
    if "credentialSecret" in chart:
        _check_credential_secret(chart["credentialSecret"], f"{field}.credentialSecret")
    return chart


def _check_strings(chart: dict[str, Any], field: str) -> None:
    """Keys and strings, credentialSecret's included, that every backend can store."""
    for where, mapping in (
        (field, chart),
        (f"{field}.credentialSecret", chart.get("credentialSecret")),
    ):
        if not isinstance(mapping, dict):
            continue
        for key, value in mapping.items():
            if not isinstance(key, str):
                raise Invalid.field(where, f"key {key!r} is not a string")
            problem = unstorable(key)
            if problem is not None:
                raise Invalid.field(where, f"key {key!r} must not contain {problem}")
            if isinstance(value, str):
                validate_text(value, f"{where}.{key}")


def _check_oci(chart: dict[str, Any], field: str) -> None:
    url = chart["url"]
    problem = reference_problem(url)
    if problem is not None:
        raise Invalid.field(f"{field}.url", problem)
    reference = parse_reference(url)
    assert reference is not None
    version = chart.get("version", "")
    if not version.strip() and reference.tag is None and reference.digest is None:
        raise Invalid.field(
            f"{field}.version", "is required for an OCI chart unless the URL has a tag or digest"
        )
    # Helm pulls with both and refuses a version that is not the URL's own tag.
    if version and reference.tag is not None and version != reference.tag:
        raise Invalid.field(
            f"{field}.version",
            f"differs from the tag {reference.tag!r} in the URL (Helm refuses to pull it)",
        )


def _check_repo_url(url: str, field: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise Invalid.field(f"{field}.url", "is not a valid URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid.field(f"{field}.url", "must be an http(s) URL of a chart repository")
    if any(c.isspace() for c in url):
        raise Invalid.field(f"{field}.url", "is not a valid URL")


def _check_credential_secret(secret: dict[str, Any], field: str) -> None:
    for key in sorted(secret):
        if key not in CREDENTIAL_SECRET_FIELDS:
            raise Invalid.field(f"{field}.{key}", "is not a field of credentialSecret")
    for key in CREDENTIAL_SECRET_FIELDS:
        value = secret.get(key)
        if not isinstance(value, str) or not value.strip():
            raise Invalid.field(f"{field}.{key}", "must be a non-empty string")
