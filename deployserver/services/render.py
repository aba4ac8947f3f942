"""Render: the spec an operator would apply on a channel, built from its four layers.

The operator folds, first wins: the custom resource (``spec.chart``, ``spec.values``), the
user input values (System Console), this server's answer for the channel (or for the release
``_releaseId`` pins), and its own defaults (``global.operator``). Render folds the same
layers with the same merge, so what a release engineer previews is what installations get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from deployserver.db import read_transaction
from deployserver.errors import Invalid, NotFound
from deployserver.services.channels import find_channel
from deployserver.services.heads import channel_release
from deployserver.specs.charts import validate_chart
from deployserver.specs.masking import mask_secrets
from deployserver.specs.merge import LayerConflict, merge_conflict, merge_specs, null_path
from deployserver.specs.values import validate_values

OPERATOR_API_VERSION = "apps.wandb.com/v1"
PIN_KEY = "_releaseId"
LAYER_NAMES = ("custom resource", "user input", "release", "operator defaults")


@dataclass(frozen=True)
class RenderRequest:
    """What an installation brings: its pin or a release to try, its own overrides."""

    release_id: str | None = None
    user_input: dict[str, Any] | None = None
    cr: dict[str, Any] | None = None


def operator_defaults(namespace: str) -> dict[str, Any]:
    """The operator's own last layer (its ``Defaults``), for a given operator namespace."""
    return {
        "values": {
            "global": {"operator": {"apiVersion": OPERATOR_API_VERSION, "namespace": namespace}}
        }
    }


def render_spec(
    session: Session,
    channel_name: str,
    request: RenderRequest,
    operator_namespace: str,
    reveal: bool = False,
) -> dict[str, Any]:
    """``{metadata, chart, values}`` as the operator would build it; secrets masked unless
    ``reveal``.

    The release is the one ``userInput._releaseId`` pins, else ``request.release_id``, else
    the channel's head. It must be, or have been, head of the channel (422
    ``NOT_IN_CHANNEL_HISTORY``), the rule of the operator's pinned poll: a pin to anything
    else gets nothing there. A rollout candidate that never became head (staged, or aborted)
    is not in that history, so it cannot be pinned. One exception, on purpose: the channel's
    current candidate may be named by ``releaseId`` (not pinned), to preview what the
    licenses in its rollout cohort are served.

    The user input and the custom resource's values are checked as values are at publish
    (no NaN or infinities, string keys, storable text): what render answers is always JSON.
    """
    user_input = request.user_input
    cr = request.cr or {}
    objects = (("userInput", user_input), ("cr", request.cr), ("cr.values", cr.get("values")))
    for where, given in objects:
        if given is not None and not isinstance(given, dict):
            raise Invalid.field(where, "must be an object")
    if cr.get("chart") is not None:
        validate_chart(cr["chart"], "cr.chart")
    layers: list[dict[str, Any]] = [
        {"chart": cr.get("chart"), "values": cr.get("values")},
        {"values": user_input},
    ]
    for where, given in (("cr.values", cr.get("values")), ("userInput", user_input)):
        if given is not None:
            validate_values(given, where, allow_null=True)
    for name, layer in zip(LAYER_NAMES, layers, strict=False):
        _refuse_nulls(layer["values"], name)
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        release_id = _chosen_release(request)
        field = "userInput._releaseId" if release_id != request.release_id else "releaseId"
        release_id = release_id or channel.head_release_id
        if release_id is None:
            raise NotFound(f"channel {channel_name!r} has no release yet", "CHANNEL_EMPTY")
        served = channel_release(session, channel, release_id)
        previewing_candidate = (
            request.release_id == channel.candidate_release_id
            and (request.user_input or {}).get(PIN_KEY) is None
        )
        if served is None or not (served.was_head or previewing_candidate):
            raise Invalid.field(
                field,
                f"release {release_id!r} has never been head of channel {channel_name!r}",
                "NOT_IN_CHANNEL_HISTORY",
            )
        # The stored body is the exact answer the operator's poll gets for this release here.
        layers.append(json.loads(served.body))
    layers.append(operator_defaults(operator_namespace))
    try:
        spec = merge_specs(*layers)
    except LayerConflict as exc:
        earlier = ", ".join(LAYER_NAMES[: exc.layer])
        message = f"{exc.message} (merging the {LAYER_NAMES[exc.layer]} layer under {earlier})"
        raise merge_conflict(exc.path, message) from None
    spec["values"] = spec["values"] or {}
    return spec if reveal else mask_secrets(spec)


def _chosen_release(request: RenderRequest) -> str | None:
    """The pin in the user input wins, as in the operator; a different ``releaseId`` is an
    ambiguous request rather than something to pick silently."""
    pin = (request.user_input or {}).get(PIN_KEY)
    if pin is None:
        return request.release_id
    if not isinstance(pin, str) or not pin:
        raise Invalid.field(f"userInput.{PIN_KEY}", "must be a release id (a string)")
    if request.release_id is not None and request.release_id != pin:
        raise Invalid.field(
            "releaseId", f"differs from userInput.{PIN_KEY}, which pins the release already"
        )
    return pin


def _refuse_nulls(values: Any, layer: str) -> None:
    where = null_path(values) if values is not None else None
    if where is not None:
        raise merge_conflict(where, f"null in the {layer} layer: the operator's merge fails on it")
