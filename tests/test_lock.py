"""The lock files pin, with hashes, every dependency pyproject.toml declares, within its range.

A dependency added to or moved in pyproject.toml without `make lock` fails here, before an
install from the lock leaves it out or at a version outside the supported range.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every requirement in a lock file."""
    found: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            found[name] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
    return found


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(text) for text in project["dependencies"]]
    dev = [Requirement(text) for text in project["optional-dependencies"]["dev"]]
    return runtime, dev


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_declared_dependency_is_pinned_in_range_with_hashes(lock: str) -> None:
    runtime, dev = declared()
    wanted = runtime + (dev if lock == "requirements-dev.lock" else [])
    pinned = pins(ROOT / lock)
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {lock}: run make lock"
        version, hashes = pinned[name]
        assert requirement.specifier.contains(version), f"{name}=={version} vs {requirement}"
        assert hashes > 0, f"{name} has no hash in {lock}"
    for extra in ("psycopg-binary",):  # from psycopg[binary]
        assert extra in pinned


def test_every_pin_has_a_hash_and_both_locks_agree() -> None:
    runtime = pins(ROOT / "requirements.lock")
    dev = pins(ROOT / "requirements-dev.lock")
    assert all(hashes for _, hashes in runtime.values())
    assert all(hashes for _, hashes in dev.values())
    # The runtime lock is a subset of the dev lock at the same versions: tests run on what
    # the server runs on.
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: dev.get(name, ("missing",))[0] for name in runtime
    }


def test_supported_majors_are_stated() -> None:
    runtime, dev = declared()
    for requirement in runtime + dev:
        operators = {spec.operator for spec in requirement.specifier}
        assert {">=", "<"} <= operators, f"{requirement} needs a lower bound and a major cap"
