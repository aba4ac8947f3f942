"""Tables of deployserver. Import models from here."""

from deployserver.db import Base
from deployserver.models.audit import AuditEvent
from deployserver.models.channels import Channel, ChannelEvent, ChannelRelease, Release
from deployserver.models.console import ConsoleSession
from deployserver.models.installations import AnonymousPolls, Installation
from deployserver.models.licenses import License, SigningKey
from deployserver.models.policies import LicensePin, MaintenanceWindow
from deployserver.models.tokens import ApiToken
from deployserver.models.vocabularies import (
    HEAD_ACTIONS,
    HistoryAction,
    KeyStatus,
    LicenseStatus,
    Role,
    words,
)

__all__ = [
    "HEAD_ACTIONS",
    "AnonymousPolls",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Channel",
    "ChannelEvent",
    "ChannelRelease",
    "ConsoleSession",
    "HistoryAction",
    "Installation",
    "KeyStatus",
    "License",
    "LicensePin",
    "LicenseStatus",
    "MaintenanceWindow",
    "Release",
    "Role",
    "SigningKey",
    "words",
]
