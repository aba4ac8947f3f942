"""The operator's merge rules for values (operator-client.md): the one implementation.

``first`` is the earlier, winning layer. Maps merge key by key, lists concatenate (``first``'s
items first), scalars keep ``first``'s value. The operator fails the whole reconcile on a kind
clash or a null meeting anything, so the server refuses those instead of serving them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from deployserver.errors import Invalid
from deployserver.specs.paths import key_path, under


class MergeConflict(ValueError):
    """Two layers hold incompatible values at ``path`` (a kind clash or a null)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'}: {message}")
        self.path = path
        self.message = message


def merge_conflict(path: str, message: str, detail: str | None = None) -> Invalid:
    """The one 422 ``MERGE_CONFLICT``: ``message`` at ``path`` (relative to ``values``).

    ``detail`` says more than ``message`` in the problem's detail line when given.
    """
    where = under("values", path)
    return Invalid(f"{where}: {detail or message}", "MERGE_CONFLICT", errors={where: [message]})


def kind_of(value: Any) -> str:
    """The kind the operator compares: map, list, string, number, bool or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before number: bool is an int in Python
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def merge_values(first: Any, second: Any, path: str = "") -> Any:
    """Merge ``second`` under ``first``; raises :class:`MergeConflict` naming the path.

    Neither argument is modified; the result shares no containers with them.
    """
    first_kind, second_kind = kind_of(first), kind_of(second)
    if first_kind == "null" or second_kind == "null":
        raise MergeConflict(path, "null cannot be merged with another value")
    if first_kind != second_kind:
        raise MergeConflict(path, f"{first_kind} in one layer clashes with {second_kind}")
    if first_kind == "map":
        merged = {key: copy.deepcopy(value) for key, value in second.items()}
        for key, value in first.items():
            if key in second:
                merged[key] = merge_values(value, second[key], key_path(path, key))
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if first_kind == "list":
        return copy.deepcopy(list(first)) + copy.deepcopy(list(second))
    return first


class LayerConflict(MergeConflict):
    """A :class:`MergeConflict` met while folding in ``layers[layer]`` (see ``merge_specs``)."""

    def __init__(self, path: str, message: str, layer: int) -> None:
        super().__init__(path, message)
        self.layer = layer


def merge_specs(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Fold spec layers ``{chart?, metadata?, values?}``, the earliest first, as the operator does.

    ``chart`` and ``metadata`` are taken whole from the first layer that has one (they are never
    merged); ``values`` fold with :func:`merge_values`, each earlier layer winning. A layer
    without a key (or with it set to None) does not take part for that key. A clash raises
    :class:`LayerConflict` carrying the index of the layer being folded in.
    """
    merged: dict[str, Any] = {"chart": None, "metadata": None, "values": None}
    for index, layer in enumerate(layers):
        for whole in ("chart", "metadata"):
            if merged[whole] is None and layer.get(whole) is not None:
                merged[whole] = copy.deepcopy(layer[whole])
        values = layer.get("values")
        if values is None:
            continue
        if merged["values"] is None:
            merged["values"] = copy.deepcopy(values)
            continue
        try:
            merged["values"] = merge_values(merged["values"], values)
        except MergeConflict as exc:
            raise LayerConflict(exc.path, exc.message, index) from None
    return merged
