"""Who is in a staged rollout's cohort.

A license falls in one of 10,000 buckets, fixed by the sha256 of its id and the candidate's
release id; it is in the cohort while its bucket is below ``percent * 100``. So membership
never flips while the percentage only grows, a larger percentage keeps every earlier member,
and each candidate draws a fresh cohort (the same licenses are not always first).
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def cohort_bucket(license_id: str, release_id: str) -> int:
    """The license's bucket in ``[0, BUCKETS)`` for the rollout of ``release_id``."""
    digest = hashlib.sha256(f"{release_id}:{license_id}".encode("utf-8", "surrogatepass"))
    return int.from_bytes(digest.digest()[:8], "big") % BUCKETS


def in_cohort(license_id: str, release_id: str, percent: int) -> bool:
    """Whether the license gets the candidate ``release_id`` rolled out to ``percent``%."""
    return cohort_bucket(license_id, release_id) < percent * (BUCKETS // 100)
