"""Running as a fleet: what a committed write changed, and telling every worker about it.

``changes`` turns a transaction's audit events into :class:`~deployserver.fleet.changes.Change`
messages and drops exactly the cache entries each one concerns; ``bus`` carries them over
Redis publish/subscribe between the workers of every replica. Redis is an accelerator: without
it (or while it is down) every cache still expires within ``license_cache_seconds``.
"""
