"""The closed vocabularies stored in text columns, one enum each, and their CHECK constraints.

Each is a ``StrEnum``: a member is the very string stored, sent and compared, so code names
the member and never re-types the literal. The database refuses anything else (a CHECK
constraint per column, added by migration ``0006_vocabulary_checks``).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class LicenseStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class KeyStatus(StrEnum):
    """Active signs and verifies; verify-only verifies what it signed; retired does neither."""

    ACTIVE = "active"
    VERIFY_ONLY = "verify-only"
    RETIRED = "retired"


class Role(StrEnum):
    """API token roles, each allowing what the one before it does and more."""

    VIEWER = "viewer"
    PUBLISHER = "publisher"
    ADMIN = "admin"


class HistoryAction(StrEnum):
    """What a channel event records: a head change, or a rollout step that leaves the head."""

    PUBLISH = "publish"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ROLLOUT_START = "rollout-start"
    ROLLOUT_ADVANCE = "rollout-advance"
    ROLLOUT_COMPLETE = "rollout-complete"
    ROLLOUT_ABORT = "rollout-abort"


# The actions that move the head; the other rollout steps leave it where it is.
HEAD_ACTIONS = (
    HistoryAction.PUBLISH,
    HistoryAction.PROMOTE,
    HistoryAction.ROLLBACK,
    HistoryAction.ROLLOUT_COMPLETE,
)


def words(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The stored strings, in declaration order (plain ``str``: for schemas and choices)."""
    return tuple(member.value for member in vocabulary)


def one_of(column: str, vocabulary: type[StrEnum]) -> CheckConstraint:
    """``column IN (...)`` over every member, named ``ck_<table>_<column>``."""
    members = ", ".join(f"'{word}'" for word in words(vocabulary))
    return CheckConstraint(f"{column} IN ({members})", name=column)
