"""What changed between two specs: the changes a diff shows, and the values changes that
break installations (warnings on publish and promote).

Both walk keys in sorted order and list items by index, so the same two inputs always give
the same list in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployserver.specs.merge import kind_of
from deployserver.specs.paths import index_path, key_path, under

KIND_CHANGED = "KIND_CHANGED"
KEY_REMOVED = "KEY_REMOVED"


@dataclass(frozen=True)
class Change:
    """One difference: ``op`` is add (only ``to``), remove (only ``from_``) or change (both)."""

    path: str
    op: str
    from_: Any = None
    to: Any = None

    def as_json(self) -> dict[str, Any]:
        """The API's shape: only the sides the op has (``from`` may well be false or 0)."""
        body: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op != "add":
            body["from"] = self.from_
        if self.op != "remove":
            body["to"] = self.to
        return body


@dataclass(frozen=True)
class ValuesWarning:
    """A values key that changes kind or disappears; ``from_``/``to`` are kinds (to: None when
    removed)."""

    code: str
    path: str
    from_: str
    to: str | None


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: ``True`` is not ``1`` here, although Python says it is."""
    if kind_of(a) != kind_of(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def value_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every difference from ``old`` to ``new``, at the deepest place where it shows.

    Maps are compared key by key and lists item by item (an item added or removed at the end
    is one add or remove); anything else that differs, a kind change included, is a change.
    """
    if same(old, new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(old.keys() | new.keys()):
            where = key_path(path, key)
            if key not in new:
                changes.append(Change(where, "remove", from_=old[key]))
            elif key not in old:
                changes.append(Change(where, "add", to=new[key]))
            else:
                changes.extend(value_changes(old[key], new[key], where))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            where = index_path(path, i)
            if i >= len(new):
                changes.append(Change(where, "remove", from_=old[i]))
            elif i >= len(old):
                changes.append(Change(where, "add", to=new[i]))
            else:
                changes.extend(value_changes(old[i], new[i], where))
        return changes
    return [Change(path, "change", from_=old, to=new)]


def spec_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes over ``chart`` then ``values``, paths starting ``chart.`` or ``values.``."""
    changes: list[Change] = []
    for part in ("chart", "values"):
        for change in value_changes(old.get(part) or {}, new.get(part) or {}):
            changes.append(
                Change(under(part, change.path), change.op, from_=change.from_, to=change.to)
            )
    return changes


def values_warnings(
    old: dict[str, Any], new: dict[str, Any], path: str = ""
) -> list[ValuesWarning]:
    """Keys of ``old`` that change kind or disappear in ``new`` (paths relative to values).

    An installation whose own overrides set such a key stops reconciling (a kind clash fails
    the operator's merge) or silently loses its meaning (the key is gone). Only maps are
    walked: the operator concatenates lists whole, so list items never meet an override.
    """
    warnings: list[ValuesWarning] = []
    for key in sorted(old):
        where = key_path(path, key)
        if key not in new:
            warnings.append(ValuesWarning(KEY_REMOVED, where, kind_of(old[key]), None))
            continue
        old_kind, new_kind = kind_of(old[key]), kind_of(new[key])
        if old_kind != new_kind:
            warnings.append(ValuesWarning(KIND_CHANGED, where, old_kind, new_kind))
        elif old_kind == "map":
            warnings.extend(values_warnings(old[key], new[key], where))
    return warnings
