"""The one HTTP client of the command line: every command talks to the REST API through it.

Remote: httpx with timeouts, retrying only failures to connect (nothing was sent, so a
retried write cannot be applied twice). Local (on the server host, no ``--server``): the same
requests answered in-process by the app (``deployserver.cli.local``). Either way an error
answer becomes an ``ApiError`` carrying the problem's ``code`` and ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import click

TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
CONNECT_RETRIES = 3
PAGE_LIMIT = 100
USER_AGENT = "deployserver-cli"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Refusal(click.ClickException):
    """The server (or the command, before asking it) refused: exit 2."""

    exit_code = 2


class ApiError(Refusal):
    """A problem+json answer: one line with its code and detail."""

    def __init__(self, status: int, body: Any) -> None:
        problem = body if isinstance(body, dict) else {}
        self.status = status
        self.code = str(problem.get("code") or f"HTTP_{status}")
        self.detail = str(problem.get("detail") or problem.get("title") or "no detail")
        self.errors = problem.get("errors") or {}
        super().__init__(f"{self.code}: {' '.join(self.detail.split())}")
        # A server failure is not a refusal of what was asked.
        self.exit_code = 1 if status >= 500 else 2  # type: ignore[misc]


class TransportError(click.ClickException):
    """The server could not be reached or answered nothing usable: exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class Transport(Protocol):
    def send(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> tuple[int, Any]: ...

    def close(self) -> None: ...


@dataclass
class Client:
    """Requests to the REST API (paths start with ``/api/v1``) over one transport."""

    transport: Transport
    where: str
    _closed: bool = field(default=False, repr=False)

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Answer:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        status, document = self.transport.send(method, path, body, query or None)
        if status >= 400:
            raise ApiError(status, document)
        return Answer(status, document)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params).body

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("POST", path, body, params).body

    def items(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, fetched a page at a time as they are read."""
        cursor = None
        while True:
            page = self.get(path, limit=PAGE_LIMIT, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def release_id(self, ref: str) -> str:
        """A release id from an id or an exact version."""
        if UUID_RE.fullmatch(ref):
            return ref
        return str(self.get("/api/v1/releases", version=ref)["id"])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.transport.close()


class HttpTransport:
    """httpx against a remote server with a bearer token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        import httpx

        self.httpx = httpx
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            # httpx retries only connection failures: nothing reached the server.
            transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
            follow_redirects=False,
        )
        self.base_url = base_url

    def send(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> tuple[int, Any]:
        try:
            response = self.http.request(method, path, json=body, params=params)
        except self.httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise TransportError(f"cannot reach {self.base_url}: {reason}") from None
        if response.status_code == 204 or not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError:
            raise TransportError(
                f"{self.base_url} answered {response.status_code} with no JSON "
                "(is it a deployserver?)"
            ) from None

    def close(self) -> None:
        self.http.close()


def remote_client(base_url: str, token: str | None) -> Client:
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise Refusal(f"--server {base_url!r}: give an http:// or https:// URL")
    return Client(HttpTransport(base_url, token), base_url)
