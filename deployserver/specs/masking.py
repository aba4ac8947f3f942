"""Masking of secrets-looking values in specs shown to people (render previews).

The operator masks the keys ``password``, ``secret``, ``accessKey`` and ``license`` when it
logs a spec. Real values name secrets in many more ways (``dbPassword``, ``MYSQL_PASSWORD``,
``bucket.secretKey``), so a key is secret-looking when its name, ignoring case, ends with one
of those words or with ``secretKey`` (the partner of ``accessKey`` in bucket credentials).
Masking too much is harmless in a preview (an admin can reveal); too little leaks.
"""

from __future__ import annotations

from typing import Any

MASK = "***"
SECRET_SUFFIXES = ("password", "secret", "accesskey", "secretkey", "license")


def is_secret_key(key: str) -> bool:
    return key.lower().endswith(SECRET_SUFFIXES)


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every non-map value under a secret-looking key replaced.

    Maps under such keys are walked instead of hidden: ``licenseSecret: {name, key}`` names
    a Kubernetes secret, it does not hold one, and the names are what a reviewer checks.
    """
    if isinstance(value, dict):
        return {
            key: MASK if is_secret_key(key) and not isinstance(item, dict) else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value
