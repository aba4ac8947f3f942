"""Reading a license from HTTP Basic credentials (user ``license``, the JWT as password).

A license kept in a Kubernetes secret made from a file usually ends in a newline, and the
operator sends the secret's bytes untrimmed: whitespace around a license is not part of it.
"""

from __future__ import annotations

import base64

from deployserver.errors import BASIC_CHALLENGE, Unauthorized

LICENSE_USER = "license"
# Spaces, tabs, CR and LF: what a file or a copy-paste leaves around a token (a JWT has none).
SURROUNDING_WHITESPACE = " \t\r\n"


def trim_license(token: str) -> str:
    """``token`` without the whitespace a file or a copy-paste leaves around it."""
    return token.strip(SURROUNDING_WHITESPACE)


def license_from_authorization(header: str) -> str:
    """The license JWT in an ``Authorization`` header; 401 ``LICENSE_INVALID`` otherwise."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except ValueError:  # bad base64 (binascii.Error), non-ASCII input, bad UTF-8
            decoded = ""
        user, separator, password = decoded.partition(":")
        password = trim_license(password)
        if separator and user == LICENSE_USER and password:
            return password
    raise Unauthorized(
        "send the license as HTTP Basic credentials with the user name 'license'",
        "LICENSE_INVALID",
        headers={"WWW-Authenticate": BASIC_CHALLENGE},
    )
