"""Template filters: times in UTC with a relative hint, values as YAML, short ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from flask import Flask
from markupsafe import Markup, escape

from deployserver.db import utcnow


def relative(moment: datetime, now: datetime | None = None) -> str:
    """``3 min ago``, ``in 2 h``: a hint next to the exact time, never instead of it."""
    seconds = int(((now or utcnow()) - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in ((86_400 * 365, "y"), (86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = round(seconds / size)
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    return "just now"


def when(moment: datetime | None) -> Markup:
    """A ``<time>`` in UTC, with the relative hint beside it."""
    if moment is None:
        return Markup('<span class="muted">never</span>')
    exact = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(
        f'<time datetime="{moment.strftime("%Y-%m-%dT%H:%M:%SZ")}" title="{exact}">'
        f'{escape(exact)}</time> <span class="rel">({escape(relative(moment))})</span>'
    )


def as_yaml(value: Any) -> str:
    if value in ({}, None):
        return "{}\n"
    return yaml.safe_dump(value, sort_keys=True, allow_unicode=True, default_flow_style=False)


def short_id(value: str | None) -> str:
    return value[:8] if value else ""


def register_filters(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(as_yaml, "yaml")
    app.add_template_filter(short_id, "short")
