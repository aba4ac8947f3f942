"""Channels, immutable releases, which releases each channel has carried, and head history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Digest, ExactString255, Json, LongText, Name, Uuid
from deployserver.models.vocabularies import HistoryAction, one_of


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Base layer under every release served on this channel.
    values: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Publish warnings become refusals when set (values-safety issue).
    strict_values: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept equal to the release of the latest channel event, in the same transaction.
    head_release_id: Mapped[str | None] = mapped_column(
        Uuid, ForeignKey("releases.id"), nullable=True
    )
    # Staged rollout: a candidate served to a share of licenses (services/rollouts.py).
    candidate_release_id: Mapped[str | None] = mapped_column(
        Uuid, ForeignKey("releases.id"), nullable=True
    )
    rollout_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Release(Base):
    __tablename__ = "releases"

    id: Mapped[str] = mapped_column(Uuid, primary_key=True)
    # Unique as an exact string (the API promises it), so case-sensitive on MySQL and MariaDB too.
    version: Mapped[str] = mapped_column(ExactString255, unique=True)
    chart: Mapped[dict[str, Any]] = mapped_column(Json)
    values: Mapped[dict[str, Any]] = mapped_column(Json)
    # ``metadata`` is taken by the declarative base; the column keeps the API's name.
    meta: Mapped[dict[str, str]] = mapped_column("metadata", Json)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Canonical JSON of the release's own {chart, metadata, values}, and its sha256.
    spec: Mapped[str] = mapped_column(LongText)
    digest: Mapped[str] = mapped_column(Digest)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(Name)


class ChannelRelease(Base):
    """A release that has been head of a channel, with the exact bytes served for it there.

    The body is the canonical served spec (channel metadata, values over the channel's base
    values), built when the release arrives on the channel or the base values change, so the
    polling path only returns stored bytes.
    """

    __tablename__ = "channel_releases"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"), primary_key=True)
    body: Mapped[str] = mapped_column(LongText)
    etag: Mapped[str] = mapped_column(String(80))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Staged as a rollout candidate and never head: servable (cohort polls, pins) but not
    # in the channel's head history (rollback targets, the channel's release list).
    candidate_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Installation policies: a required release is not skipped by installations below it;
    # a release that arrived as urgent reaches licenses outside their maintenance windows.
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # The channel's release listing walks (arrived_at, release_id) newest first, keyset-paged;
    # a release's channels are looked up by release_id alone, which the primary key (channel
    # first) cannot serve.
    __table_args__ = (
        Index(None, "channel_id", "arrived_at", "release_id"),
        Index(None, "release_id"),
    )

    @hybrid_property
    def was_head(self) -> bool:
        """The rule "this release is or was head of this channel", in Python and in SQL.

        A staged candidate that never became head is servable to its cohort but is not in
        the channel's head history: no pin, rollback, render or listing may reach it.
        """
        return not self.candidate_only

    @was_head.inplace.expression
    @classmethod
    def _was_head_expression(cls) -> ColumnElement[bool]:
        return cls.candidate_only == false()


class ChannelEvent(Base):
    """One head change or rollout step. The head is the latest head-changing event.

    Head changes (publish, promote, rollback, rollout-complete) form one chain through
    ``previous_release_id``. Rollout steps that leave the head alone (rollout-start,
    rollout-advance, rollout-abort) name the candidate as ``release_id`` and the head it is
    staged against as ``previous_release_id``, with the percentage reached.
    """

    __tablename__ = "channel_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    previous_release_id: Mapped[str | None] = mapped_column(
        ForeignKey("releases.id"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(Name)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    percent: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index(None, "channel_id", "id"), one_of("action", HistoryAction))
