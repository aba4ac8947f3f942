"""Render: the spec an operator would apply on a channel, built from its four layers.

The operator folds, first wins: the custom resource (``spec.chart``, ``spec.values``), the
user input values (System Console), this server's answer for the channel (or for the release
``_releaseId`` pins), and its own defaults (``global.operator``). Render folds the same
layers with the same merge, so what a release engineer previews is what installations get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from deployserver.db import read_transaction
from deployserver.errors import Invalid, NotFound
from deployserver.services.channels import find_channel
from deployserver.services.heads import channel_release, not_in_history
from deployserver.specs.charts import SHAPES_HINT
from deployserver.specs.masking import mask_secrets
from deployserver.specs.merge import LayerConflict, merge_conflict, merge_specs
from deployserver.specs.operator_chart import read_chart_as_operator
from deployserver.specs.values import check_plain_values

OPERATOR_API_VERSION = "apps.wandb.com/v1"
PIN_KEY = "_releaseId"
LAYER_NAMES = ("custom resource", "user input", "release", "operator defaults")


@dataclass(frozen=True)
class RenderRequest:
    """What an installation brings: its pin or a release to try, its own overrides."""

    release_id: str | None = None
    user_input: dict[str, Any] | None = None
    cr: dict[str, Any] | None = None


@dataclass(frozen=True)
class Rendered:
    """The spec the operator would apply, and what it would read differently from the input."""

    spec: dict[str, Any]
    warnings: list[dict[str, str]] = field(default_factory=list)


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
) -> Rendered:
    """``{metadata, chart, values}`` as the operator would build it, and warnings; secrets
    masked unless ``reveal``.

    The release is the one ``userInput._releaseId`` pins, else ``request.release_id``, else
    the channel's head. It must be, or have been, head of the channel (422
    ``NOT_IN_CHANNEL_HISTORY``), the rule of the operator's pinned poll: a pin to anything
    else gets nothing there. A rollout candidate that never became head (staged, or aborted)
    is not in that history, so it cannot be pinned. One exception, on purpose: the channel's
    current candidate may be named by ``releaseId`` (not pinned), to preview what the
    licenses in its rollout cohort are served.

    The layers an installation brings are read as the operator reads them, leniently: a CR
    chart it cannot read is dropped (warning ``CHART_IGNORED``), a ``_releaseId`` that is not
    a non-empty string pins nothing (``PIN_IGNORED``), a null that meets nothing is kept.
    Where its reconcile fails (a kind clash, a null meeting a value) render answers 422
    ``MERGE_CONFLICT``. What render answers is always JSON: the layers must be plain data.
    """
    user_input = request.user_input
    cr = request.cr or {}
    objects = (("userInput", user_input), ("cr", request.cr), ("cr.values", cr.get("values")))
    for where, given in objects:
        if given is not None and not isinstance(given, dict):
            raise Invalid.field(where, "must be an object")
    for where, given in (
        ("cr.chart", cr.get("chart")),
        ("cr.values", cr.get("values")),
        ("userInput", user_input),
    ):
        if given is not None:
            check_plain_values(given, where, allow_null=True)
    warnings: list[dict[str, str]] = []
    layers: list[dict[str, Any]] = [
        {"chart": _cr_chart(cr.get("chart"), warnings), "values": cr.get("values")},
        {"values": user_input},
    ]
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        pin = _pin(user_input, warnings)
        release_id = _chosen_release(pin, request.release_id)
        named = "userInput._releaseId" if pin is not None else "releaseId"
        release_id = release_id or channel.head_release_id
        if release_id is None:
            raise NotFound(f"channel {channel_name!r} has no release yet", "CHANNEL_EMPTY")
        served = channel_release(session, channel, release_id)
        previewing_candidate = request.release_id == channel.candidate_release_id and pin is None
        if served is None or not (served.was_head or previewing_candidate):
            raise not_in_history(named, release_id, channel_name)
        # The stored body is the exact answer the operator's poll gets for this release here.
        layers.append(json.loads(served.body))
    layers.append(operator_defaults(operator_namespace))
    try:
        spec = merge_specs(*layers)
    except LayerConflict as exc:
        earlier = ", ".join(LAYER_NAMES[: exc.layer])
        message = (
            f"{exc.message} (merging the {LAYER_NAMES[exc.layer]} layer under {earlier}); "
            "the operator's reconcile fails on it too"
        )
        raise merge_conflict(exc.path, message) from None
    spec["values"] = spec["values"] or {}
    return Rendered(spec if reveal else mask_secrets(spec), warnings)


def _cr_chart(chart: Any, warnings: list[dict[str, str]]) -> dict[str, Any] | None:
    """The CR's chart as the operator reads it; one it cannot read is dropped, with a warning."""
    if chart is None:
        return None
    read = read_chart_as_operator(chart)
    if read is None:
        warnings.append(
            {
                "code": "CHART_IGNORED",
                "path": "cr.chart",
                "detail": "the operator cannot read this chart and ignores it "
                f"(the next layer's chart is used): it {SHAPES_HINT}",
            }
        )
        return None
    return read[1]


def _pin(user_input: dict[str, Any] | None, warnings: list[dict[str, str]]) -> str | None:
    """The release ``_releaseId`` pins, as the operator reads it: only a non-empty string."""
    if user_input is None or PIN_KEY not in user_input:
        return None
    pin = user_input[PIN_KEY]
    if isinstance(pin, str) and pin:
        return pin
    warnings.append(
        {
            "code": "PIN_IGNORED",
            "path": f"userInput.{PIN_KEY}",
            "detail": "not a non-empty string: the operator pins nothing and polls the "
            "channel's head (the key stays in the values)",
        }
    )
    return None


def _chosen_release(pin: str | None, release_id: str | None) -> str | None:
    """The pin in the user input wins, as in the operator; a different ``releaseId`` is an
    ambiguous request rather than something to pick silently."""
    if pin is None:
        return release_id
    if release_id is not None and release_id != pin:
        raise Invalid.field(
            "releaseId", f"differs from userInput.{PIN_KEY}, which pins the release already"
        )
    return pin
