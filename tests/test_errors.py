"""Every error leaves as problem+json with a stable code and the request id."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from deployserver.extensions import state

probe = Blueprint("probe", __name__, url_prefix="/probe")


class ProbeSchema(Schema):
    name = fields.String(required=True)
    count = fields.Integer()


@probe.route("/echo")
class Echo(MethodView):
    @probe.arguments(ProbeSchema)
    @probe.response(200, ProbeSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        return data


@probe.route("/boom")
class Boom(MethodView):
    def get(self) -> None:
        raise RuntimeError("secret internals: password=hunter2")


@pytest.fixture
def probe_client(app: Flask) -> FlaskClient:
    state(app).api.register_blueprint(probe)
    return app.test_client()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert body["requestId"] == response.headers["X-Request-ID"]
    return body


def test_unknown_path_is_problem_404(client: FlaskClient) -> None:
    assert_problem(client.get("/nowhere"), 404, "NOT_FOUND")


def test_wrong_method_is_problem_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/healthz")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(probe_client: FlaskClient) -> None:
    response = probe_client.post("/probe/echo", data="{not json", content_type="application/json")
    assert_problem(response, 400, "MALFORMED_JSON")


def test_validation_failure_is_422_naming_fields(probe_client: FlaskClient) -> None:
    response = probe_client.post("/probe/echo", json={"count": "many", "extra": 1})
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert set(body["errors"]) == {"name", "count", "extra"}


def test_body_over_limit_is_413(make_config: Any) -> None:
    from deployserver import create_app

    app = create_app(make_config(max_content_length=2048))
    state(app).api.register_blueprint(probe)
    response = app.test_client().post("/probe/echo", json={"name": "x" * 5000})
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    state(app).engine.dispose()


def test_unexpected_error_is_500_without_internals(probe_client: FlaskClient) -> None:
    response = probe_client.get("/probe/boom")
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in body["detail"]


def test_the_server_always_uses_its_own_request_id(client: FlaskClient) -> None:
    # A caller's id is kept apart (audit events record it as clientRequestId), never adopted.
    response = client.get("/nowhere", headers={"X-Request-ID": "abc-123"})
    own = response.headers["X-Request-ID"]
    assert own != "abc-123" and len(own) == 32 and int(own, 16) >= 0
    assert response.get_json(force=True)["requestId"] == own


def test_unsafe_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; drop table"})
    generated = response.headers["X-Request-ID"]
    assert generated != "bad id; drop table"
    assert len(generated) == 32


def test_a_client_request_id_with_a_trailing_newline_is_dropped() -> None:
    from deployserver.request_id import CLIENT_ENVIRON_KEY, ENVIRON_KEY, RequestIdMiddleware

    seen: dict[str, Any] = {}

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        return []

    RequestIdMiddleware(wsgi_app)({"HTTP_X_REQUEST_ID": "abc-123\n"}, lambda *a: None)
    assert len(seen[ENVIRON_KEY]) == 32 and CLIENT_ENVIRON_KEY not in seen
    RequestIdMiddleware(wsgi_app)({"HTTP_X_REQUEST_ID": "abc-123"}, lambda *a: None)
    assert seen[CLIENT_ENVIRON_KEY] == "abc-123" and seen[ENVIRON_KEY] != "abc-123"


def test_log_records_carry_the_request_id(app: Flask) -> None:
    import logging

    from deployserver.app import RequestIdFilter
    from deployserver.request_id import ENVIRON_KEY

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    with app.test_request_context(environ_overrides={ENVIRON_KEY: "req-42"}):
        assert RequestIdFilter().filter(record)
    assert record.request_id == "req-42"  # type: ignore[attr-defined]
    assert RequestIdFilter().filter(record) and record.request_id == "-"  # type: ignore[attr-defined]


def test_json_nested_too_deeply_is_422_not_500(client: FlaskClient) -> None:
    # Unauthenticated and parsed before anything else: must stay a clean refusal, and say
    # what is wrong (it is valid JSON, only deeper than the parser reads).
    body = '{"license":' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/api/v1/licenses/validate", data=body, content_type="application/json")
    problem = assert_problem(response, 422, "NESTING_TOO_DEEP")
    assert "nested too deeply" in problem["detail"] and "30 levels" in problem["detail"]
