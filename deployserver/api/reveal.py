"""Who sees secret-looking values on the read paths (API.md section 3, masking).

Everyone reads them masked; an admin asking with ``?reveal=true`` reads them in clear (any
other caller asking gets 403). One policy, applied here to every view that carries a spec;
the masking itself is :func:`deployserver.specs.masking.mask_secrets`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar, cast

from marshmallow import Schema, fields

from deployserver.auth import require_role_for
from deployserver.services.channels import ChannelView
from deployserver.services.releases import ReleaseView
from deployserver.specs.diff import Change
from deployserver.specs.masking import mask_at, mask_secrets

V = TypeVar("V", ReleaseView, ChannelView)


class RevealArgsSchema(Schema):
    reveal = fields.Boolean(
        load_default=False,
        metadata={"description": "Show secret-looking values in clear (admin only)"},
    )


def reveal_allowed(reveal: bool) -> bool:
    """``reveal`` when the caller may (403 for a non-admin asking)."""
    if reveal:
        require_role_for("admin", "reveal=true")
    return reveal


def shown(view: V, reveal: bool) -> V:
    """A release or channel as this caller reads it."""
    if reveal:
        return view
    if isinstance(view, ReleaseView):
        return cast(V, _masked_release(view))
    return cast(V, replace(view, values=mask_secrets(view.values)))


def _masked_release(view: ReleaseView) -> ReleaseView:
    return replace(
        view,
        chart=mask_secrets(view.chart),
        values=mask_secrets(view.values),
        metadata=mask_secrets(view.metadata),
    )


def shown_change(change: Change, reveal: bool) -> dict[str, Any]:
    body = change.as_json()
    if not reveal:
        for side in ("from", "to"):
            if side in body:
                body[side] = mask_at(change.path, body[side])
    return body
