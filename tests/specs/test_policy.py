"""The policy decision: each rule, their precedence, pin expiry and the dwell rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deployserver.specs.policy import (
    ChannelPolicy,
    LastServed,
    LicensePolicy,
    Pin,
    Reason,
    decide,
)
from deployserver.specs.windows import Window

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # a Saturday, 12:00 UTC
DWELL = timedelta(minutes=10)
# Releases a < b < c < d by version; b and c are required.
CHANNEL = ChannelPolicy(
    order={"a": (1, 0, 0, 1), "b": (1, 1, 0, 1), "c": (1, 2, 0, 1), "d": (2, 0, 0, 1)},
    required=frozenset({"b", "c"}),
)
CLOSED = Window(("sun",), "02:00", "06:00", "UTC")
OPEN = Window(("sat",), "11:00", "13:00", "UTC")


def served(release: str, minutes_ago: float) -> LastServed:
    return LastServed(release, NOW - timedelta(minutes=minutes_ago))


def test_no_policy_serves_the_normal_answer() -> None:
    decision = decide(NOW, "d", Reason.HEAD, ChannelPolicy(), None, None, DWELL)
    assert (decision.release_id, decision.reason) == ("d", Reason.HEAD)


def test_a_pin_wins_over_everything() -> None:
    policy = LicensePolicy(pin=Pin("a"), window=OPEN)
    decision = decide(NOW, "d", Reason.COHORT, CHANNEL, policy, served("b", 1), DWELL)
    assert (decision.release_id, decision.reason) == ("a", Reason.PIN)


def test_an_expired_pin_ends_by_itself() -> None:
    policy = LicensePolicy(pin=Pin("a", until=NOW))
    decision = decide(NOW, "d", Reason.HEAD, CHANNEL, policy, served("d", 60), DWELL)
    assert (decision.release_id, decision.reason) == ("d", Reason.HEAD)
    holding = LicensePolicy(pin=Pin("a", until=NOW + timedelta(seconds=1)))
    assert decide(NOW, "d", Reason.HEAD, CHANNEL, holding, None, DWELL).release_id == "a"


def test_a_pin_on_a_release_the_channel_never_served_is_ignored() -> None:
    policy = LicensePolicy(pin=Pin("elsewhere"))
    assert decide(NOW, "d", Reason.HEAD, CHANNEL, policy, None, DWELL).release_id == "d"


def test_the_oldest_required_release_between_last_and_head_comes_first() -> None:
    decision = decide(NOW, "d", Reason.HEAD, CHANNEL, None, served("a", 600), DWELL)
    assert (decision.release_id, decision.reason) == ("b", Reason.REQUIRED)


def test_a_required_release_is_kept_for_the_dwell_time() -> None:
    dwelling = decide(NOW, "d", Reason.HEAD, CHANNEL, None, served("b", 9.9), DWELL)
    assert (dwelling.release_id, dwelling.reason) == ("b", Reason.REQUIRED)
    # Dwell over: on to the next required release, then to the head.
    assert decide(NOW, "d", Reason.HEAD, CHANNEL, None, served("b", 10), DWELL).release_id == "c"
    assert decide(NOW, "d", Reason.HEAD, CHANNEL, None, served("c", 10), DWELL).release_id == "d"


def test_a_required_release_at_or_above_the_target_is_no_step() -> None:
    # Head is c itself: it is served as the head, nothing required stands between.
    decision = decide(NOW, "c", Reason.HEAD, CHANNEL, None, served("b", 60), DWELL)
    assert (decision.release_id, decision.reason) == ("c", Reason.HEAD)


def test_new_installations_get_the_head_despite_required_releases() -> None:
    decision = decide(NOW, "d", Reason.HEAD, CHANNEL, None, None, DWELL)
    assert (decision.release_id, decision.reason) == ("d", Reason.HEAD)


def test_outside_its_window_a_license_keeps_what_it_was_served() -> None:
    channel = ChannelPolicy(order=CHANNEL.order)
    closed = LicensePolicy(window=CLOSED)
    decision = decide(NOW, "d", Reason.HEAD, channel, closed, served("a", 60), DWELL)
    assert (decision.release_id, decision.reason) == ("a", Reason.WINDOW)
    inside = decide(
        NOW, "d", Reason.HEAD, channel, LicensePolicy(window=OPEN), served("a", 60), DWELL
    )
    assert (inside.release_id, inside.reason) == ("d", Reason.HEAD)


def test_a_window_never_holds_back_a_new_installation_or_an_urgent_release() -> None:
    channel = ChannelPolicy(order=CHANNEL.order, urgent=frozenset({"d"}))
    closed = LicensePolicy(window=CLOSED)
    assert decide(NOW, "d", Reason.HEAD, channel, closed, None, DWELL).release_id == "d"
    assert decide(NOW, "d", Reason.HEAD, channel, closed, served("a", 60), DWELL).release_id == "d"


def test_a_window_keeps_nothing_the_channel_no_longer_serves() -> None:
    channel = ChannelPolicy(order={"d": (2, 0, 0, 1)})
    closed = LicensePolicy(window=CLOSED)
    assert (
        decide(NOW, "d", Reason.HEAD, channel, closed, served("gone", 60), DWELL).release_id == "d"
    )


def test_required_comes_before_the_window() -> None:
    closed = LicensePolicy(window=CLOSED)
    decision = decide(NOW, "d", Reason.HEAD, CHANNEL, closed, served("a", 60), DWELL)
    assert (decision.release_id, decision.reason) == ("b", Reason.REQUIRED)


def test_the_window_comes_before_the_cohort() -> None:
    channel = ChannelPolicy(order=CHANNEL.order)
    closed = LicensePolicy(window=CLOSED)
    decision = decide(NOW, "d", Reason.COHORT, channel, closed, served("c", 60), DWELL)
    assert (decision.release_id, decision.reason) == ("c", Reason.WINDOW)
