"""Body limits on the server ``deployserver serve`` runs: a chunked body over the limit is 413.

gunicorn marks a chunked body as terminated by the server (no Content-Length); the limit must
hold for it as for a declared length, and the answer must say 413, not "malformed JSON".
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.servers import admin_token, cli_env, running_server

pytestmark = pytest.mark.slow

LIMIT = 64 * 1024


def post_chunked(base: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={**headers, "Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_on_the_real_server(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "instance", DEPLOYSERVER_MAX_CONTENT_LENGTH=str(LIMIT))
    with running_server(env, workers=1) as base:
        headers = admin_token(env)  # after serve has migrated the database
        over = b'{"name":"beta","description":"' + b"a" * LIMIT + b'"}'
        status, problem = post_chunked(base, "/api/v1/channels", headers, over)
        assert (status, problem["code"]) == (413, "PAYLOAD_TOO_LARGE")
        within = b'{"name":"beta","description":"chunked"}'
        status, channel = post_chunked(base, "/api/v1/channels", headers, within)
        assert status == 201 and channel["description"] == "chunked"
