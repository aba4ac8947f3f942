"""OCI chart references (``oci://registry/repository[:tag][@digest]``) as the operator parses them.

The operator reads an ``oci://`` URL without a ``version`` with oras-go's ``ParseReference``
(the OCI distribution grammar) and needs a tag or digest from it; Helm parses the URL again
to pull, with or without a version. The server publishes only references that both accept:
a registry host with optional port, lower-case repository components, a tag of at most 128
word characters, dots and dashes, and a sha256 digest. Render also needs the operator's own,
looser reading of a custom resource's chart (:func:`operator_reads_reference`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from deployserver.specs.gourl import request_uri_host_is

OCI_PREFIX = "oci://"
# One repository component, and components joined by "/": the distribution grammar, with the
# separator made non-empty (oras writes ``[-]*``; the language is the same, and a mandatory
# separator keeps Python's backtracking matcher linear on a long near-miss).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
# Go's \w is ASCII only; Python's is not, so the classes are spelled out.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")
# Digests go-digest verifies in an operator binary (its hashes are linked in by TLS).
_OPERATOR_DIGESTS = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?")

REFERENCE_HINT = (
    "must be oci://<registry>[:port]/<repository>[:tag][@sha256:<digest>] with lower-case "
    "repository components"
)


@dataclass(frozen=True)
class OciReference:
    registry: str
    repository: str
    tag: str | None
    digest: str | None


def _split(reference: str) -> tuple[str, str, str | None, str | None] | None:
    """Registry, repository, tag and digest, split where oras-go splits them."""
    registry, slash, path = reference.partition("/")
    if not slash:
        return None
    tag: str | None = None
    digest: str | None = None
    if "@" in path:
        path, _, digest = path.partition("@")
    if ":" in path:
        path, _, tag = path.partition(":")
    return registry, path, tag, digest


def _registry_ok(registry: str) -> bool:
    """A DNS name or an IPv4 or bracketed IPv6 address, with an optional port (1..65535)."""
    host = _HOST.fullmatch(registry)
    if host is None:
        return False
    port = host.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return False
    if registry.startswith("["):
        try:
            ipaddress.IPv6Address(registry[1 : registry.index("]")])
        except ValueError:
            return False
    return True


def reference_problem(url: str) -> str | None:
    """Why ``url`` is not an OCI reference the server may publish, or None when it is."""
    if not url.startswith(OCI_PREFIX):
        return f"must start with {OCI_PREFIX}"
    parts = _split(url[len(OCI_PREFIX) :])
    if parts is None:
        return REFERENCE_HINT
    registry, repository, tag, digest = parts
    if not _registry_ok(registry):
        return f"has an invalid registry {registry!r}: {REFERENCE_HINT}"
    if not _REPOSITORY.fullmatch(repository):
        return (
            f"has an invalid repository {repository!r}: components of lower-case letters and "
            "digits joined by '.', '_', '__' or dashes, separated by single '/'"
        )
    if tag is not None and not _TAG.fullmatch(tag):
        return (
            f"has an invalid tag {tag!r}: 1 to 128 of letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    if digest is not None and not _SHA256.fullmatch(digest):
        return f"has an invalid digest {digest!r}: sha256: and 64 lower-case hex digits"
    return None


def parse_reference(url: str) -> OciReference | None:
    """The parts of a publishable ``oci://`` URL (see :func:`reference_problem`), or None."""
    if reference_problem(url) is not None:
        return None
    parts = _split(url[len(OCI_PREFIX) :])
    assert parts is not None
    return OciReference(*parts)


def operator_reads_reference(url: str) -> bool:
    """Whether the operator takes ``url`` (without a version) for a tagged OCI reference.

    Its rule, looser than publishing: oras-go ``ParseReference`` on what follows
    ``oci://`` must succeed with a tag or digest; a tag before a digest is dropped unread.
    """
    parts = _split(url.removeprefix(OCI_PREFIX))
    if parts is None:
        return False
    registry, repository, tag, digest = parts
    if not request_uri_host_is(registry) or not _REPOSITORY.fullmatch(repository):
        return False
    if digest is not None:
        return _OPERATOR_DIGESTS.fullmatch(digest) is not None
    return tag is not None and _TAG.fullmatch(tag) is not None
