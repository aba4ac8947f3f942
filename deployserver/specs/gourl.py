"""The parts of Go's ``net/url`` parsing that decide whether the operator reads a chart URL.

The operator accepts a custom resource's repo chart when go-playground's ``url`` validator
passes (Go's ``url.Parse`` succeeds with a scheme and a host, fragment or opaque part), and an
OCI registry when ``url.ParseRequestURI("dummy://" + registry)`` keeps it whole as the host.
Only the checks that can fail are reproduced: control bytes, the scheme, userinfo, host
characters, the port and percent-escapes.
"""

from __future__ import annotations

import ipaddress
import re

# Bytes Go's parser allows unescaped in a host name: unreserved, sub-delims, ":" and "<>\""
# (brackets only around an IPv6 address, since Go 1.25.2).
_HOST_BYTES = re.compile(r"[A-Za-z0-9\-_.~!$&'()*+,;=:<>\"%\x80-\U0010ffff]*")
_USERINFO = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
_PORT = re.compile(r"(?::[0-9]*)?")
_HEX = "0123456789abcdefABCDEF"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")


def _escapes_ok(text: str, host: bool) -> bool:
    """Every ``%`` starts a two-hex-digit escape; in a host, only of a non-ASCII byte (or %25)."""
    i = 0
    while i < len(text):
        if text[i] == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) < 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                return False
            if host and int(pair[0], 16) < 8 and pair != "25":
                return False
            i += 3
        else:
            i += 1
    return True


def host_ok(host: str) -> bool:
    """Whether Go's ``parseHost`` accepts ``host`` (``[v6]:port``, ``name:port``, ``name``)."""
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0 or not _PORT.fullmatch(host[end + 1 :]):
            return False
        address = host[1:end].replace("%25", "%", 1)
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return False
        return True
    if ":" in host and not _PORT.fullmatch(host[host.rfind(":") :]):
        return False
    return _HOST_BYTES.fullmatch(host) is not None and _escapes_ok(host, host=True)


def _control_free(text: str) -> bool:
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def parses_with_host(url: str) -> bool:
    """go-playground's ``url`` rule: ``url.Parse`` of the lower-cased URL succeeds with a
    scheme, and (but for ``file:``) a host, fragment or opaque part."""
    text = url.lower()
    if not text or not _control_free(text):
        return False
    text, _, fragment = text.partition("#")
    if not _escapes_ok(fragment, host=False):
        return False
    scheme_match = re.match(r"([^:/?#]*):", text)
    if scheme_match is None or not _SCHEME.fullmatch(scheme_match.group(1)):
        return False
    scheme, rest = scheme_match.group(1), text[scheme_match.end() :]
    rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        # opaque ("mailto:x"): it or a fragment will do, but a file URL needs a path
        return scheme != "file" and (bool(rest) or bool(fragment))
    host, path = "", rest
    if rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        path = slash + tail
        userinfo, at, host = authority.rpartition("@")
        if at and not (_USERINFO.fullmatch(userinfo) and _escapes_ok(userinfo, host=False)):
            return False
        if not host_ok(host):
            return False
    if not _escapes_ok(path, host=False):
        return False
    if scheme == "file":
        return path not in ("", "/")
    return bool(host) or bool(fragment)


def request_uri_host_is(registry: str) -> bool:
    """``url.ParseRequestURI("dummy://" + registry)`` succeeds and keeps all of it as host."""
    if not registry or not _control_free(registry) or any(c in registry for c in "/?@#"):
        return False
    return host_ok(registry)
