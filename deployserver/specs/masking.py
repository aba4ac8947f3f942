"""Masking of secret-looking values in specs shown to people (API.md section 3, masking).

A key is secret-looking when its name, ignoring case, ends with ``password``, ``secret``,
``token`` or ``license`` (``dbPassword``, ``MYSQL_PASSWORD``, ``clientSecret``,
``licenseToken``), or has ``key`` as a whole word or suffix (``key``, ``apiKey``,
``accessKey``, ``secretKey``, ``API_KEY``, ``ACCESSKEY``; not ``monkey``). The operator
masks fewer keys when it logs a spec; real values name secrets in more ways. Masking too
much is harmless in a view (an admin can reveal); too little leaks. Every read path for
people uses :func:`mask_secrets`; the operator's poll never does.
"""

from __future__ import annotations

import re
from typing import Any

from deployserver.specs.paths import last_key

MASK = "***"
SECRET_SUFFIXES = ("password", "secret", "token", "license", "accesskey", "secretkey")
# "key" alone, after a separator, or as a camel-case word (an upper-case K after a lower-case
# letter or digit): apiKey, api_key, API-KEY, secretKey; never the tail of a word (monkey).
_KEY_WORD = re.compile(r"(?:^|[^A-Za-z]|(?<=[a-z0-9])(?=K))(?:key|Key|KEY)$")


def is_secret_key(key: str) -> bool:
    return key.lower().endswith(SECRET_SUFFIXES) or _KEY_WORD.search(key) is not None


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


def mask_at(path: str, value: Any) -> Any:
    """``value`` found at ``path`` (API.md path syntax), masked as :func:`mask_secrets` would.

    For a diff: the value of a secret-looking key (or an item of a list under one) is the
    mask; a map is walked.
    """
    key = last_key(path)
    if key is not None and is_secret_key(key) and not isinstance(value, dict):
        return MASK
    return mask_secrets(value)
