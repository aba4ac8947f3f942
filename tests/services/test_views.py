"""One convention for services: callers get frozen views, never ORM rows.

The few helpers that hand a row to another service (inside that service's transaction) are
named here, and nothing outside ``deployserver/services/`` uses them.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import deployserver
import deployserver.services
from deployserver.db import Base

# Row helpers shared between services, each used inside the caller's transaction.
ROW_HELPERS = {
    ("deployserver.services.channels", "find_channel"),
    ("deployserver.services.channels", "lock_channel"),
    ("deployserver.services.heads", "channel_release"),
}


def service_functions() -> Iterator[tuple[str, str, Callable[..., Any]]]:
    for info in pkgutil.iter_modules(deployserver.services.__path__):
        module = importlib.import_module(f"deployserver.services.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield module.__name__, name, function


def types_in(hint: Any) -> Iterator[Any]:
    yield hint
    yield typing.get_origin(hint)
    for argument in typing.get_args(hint):
        yield from types_in(argument)


def is_row(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Base)


def test_public_service_functions_return_no_orm_rows() -> None:
    returning_rows = {
        (module, name)
        for module, name, function in service_functions()
        if any(is_row(t) for t in types_in(typing.get_type_hints(function).get("return")))
    }
    assert returning_rows == ROW_HELPERS


def test_what_services_return_are_frozen_dataclasses() -> None:
    returned = {
        t
        for _module, _name, function in service_functions()
        for t in types_in(typing.get_type_hints(function).get("return"))
        if dataclasses.is_dataclass(t) and isinstance(t, type)
    }
    assert {t.__name__ for t in returned if not t.__dataclass_params__.frozen} == set()
    assert {"Page", "KeyView", "LicenseRecord", "TokenView", "AuditEntry", "ReleaseView"} <= {
        t.__name__ for t in returned
    }


def test_row_helpers_stay_inside_the_services() -> None:
    package = Path(deployserver.__file__).parent
    helpers = {name for _module, name in ROW_HELPERS}
    users = set()
    for path in package.rglob("*.py"):
        if path.parent.name == "services":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = (
                {alias.name for alias in node.names} if isinstance(node, ast.ImportFrom) else set()
            )
            attribute = {node.attr} if isinstance(node, ast.Attribute) else set()
            if (named | attribute) & helpers:
                users.add(str(path.relative_to(package)))
    # The console's move preview reads rows in its own transaction, as a service does; it is
    # the one reader outside services/ (moving it there is the follow-up).
    assert users == {"console/preview.py"}
