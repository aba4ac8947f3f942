"""Rollout cohorts: deterministic, monotone in the percentage, fresh per candidate."""

from __future__ import annotations

import uuid

from deployserver.feed.cohorts import BUCKETS, cohort_bucket, in_cohort

LICENSES = [str(uuid.UUID(int=n * 7919 + 13)) for n in range(3000)]
CANDIDATE = "8f1c2b9e-0000-4000-8000-000000000001"
OTHER = "8f1c2b9e-0000-4000-8000-000000000002"


def test_bucket_is_deterministic_and_in_range() -> None:
    for license_id in LICENSES[:200]:
        bucket = cohort_bucket(license_id, CANDIDATE)
        assert 0 <= bucket < BUCKETS
        assert cohort_bucket(license_id, CANDIDATE) == bucket


def test_membership_is_monotone_in_percent() -> None:
    previous: set[str] = set()
    for percent in range(1, 100):
        members = {lid for lid in LICENSES if in_cohort(lid, CANDIDATE, percent)}
        assert previous <= members, f"a member left the cohort when growing to {percent}%"
        previous = members


def test_cohort_size_follows_percent() -> None:
    for percent in (1, 10, 30, 50, 90, 99):
        share = sum(in_cohort(lid, CANDIDATE, percent) for lid in LICENSES) / len(LICENSES)
        # 3000 draws: the share is within a few points of the percentage.
        assert abs(share - percent / 100) < 0.04, (percent, share)


def test_each_candidate_draws_its_own_cohort() -> None:
    first = {lid for lid in LICENSES if in_cohort(lid, CANDIDATE, 20)}
    second = {lid for lid in LICENSES if in_cohort(lid, OTHER, 20)}
    assert first != second
    # Independent draws overlap about 20% of 20%, far from all of them.
    assert len(first & second) < len(first) / 2
