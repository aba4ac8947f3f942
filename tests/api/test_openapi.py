"""The OpenAPI document is valid, complete about errors and auth, and /docs works offline.

A bounded schemathesis run (property-based requests generated from the document) checks
that no generated request gets a 5xx and that every answer matches the document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import checks

from tests.licensing.factories import signer

Headers = dict[str, str]
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)  # raises on any violation of the OpenAPI 3 schema
    assert len(operations(document)) >= 30


def test_no_null_formats_or_patterns(document: dict[str, Any]) -> None:
    text = str(document)
    assert "'format': None" not in text and "'pattern': None" not in text
    created = document["components"]["schemas"]["Channel"]["properties"]["createdAt"]
    assert created == {"type": "string", "format": "date-time"}


def test_security_schemes_are_declared_per_operation(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token",
    }
    assert schemes["basicAuth"]["scheme"] == "basic"
    by_path = {(path, method): op for path, method, op in operations(document)}
    assert by_path[("/api/v1/channels", "post")]["security"] == [{"bearerAuth": []}]
    assert by_path[("/api/v1/operator/channel", "get")]["security"] == [{}, {"basicAuth": []}]
    assert by_path[("/api/v1/licenses/validate", "post")]["security"] == [{}, {"basicAuth": []}]
    assert "security" not in by_path[("/healthz", "get")]
    for path, method, operation in operations(document):
        if operation.get("security") == [{"bearerAuth": []}]:
            assert {"401", "403"} <= set(operation["responses"]), (path, method)


def test_every_refusal_an_operation_can_give_is_documented(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        responses = set(operation["responses"])
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= responses, (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        assert "default" in responses, (path, method)  # 405, 500: problem documents too
        for status in responses - {"200", "201", "204", "304"}:
            if (path, status) == ("/readyz", "503"):
                continue  # not ready: the same JSON report as when ready
            content = operation["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (path, method, status)


def test_path_ids_are_documented_with_their_shape(document: dict[str, Any]) -> None:
    [parameter] = document["paths"]["/api/v1/keys/{kid}/retire"]["parameters"]
    assert parameter["schema"] == {"type": "string", "pattern": "[A-Za-z0-9_-]{1,64}"}
    release = document["paths"]["/api/v1/releases/{release_id}"]["parameters"][0]
    assert release["schema"]["pattern"].startswith("[0-9a-f]{8}-")


# --- /docs with no internet ------------------------------------------------------------------


def test_docs_load_nothing_from_another_origin(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SwaggerUIBundle" in html
    assert re.search(r"(https?:)?//", html) is None, "the page names another origin"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3  # the stylesheet and two scripts
    for asset in assets:
        assert asset.startswith("/docs/assets/"), asset
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            assert len(response.get_data()) > 1000
    assert '"validatorUrl": null' in html  # no badge fetched from the validator service
    spec_url = re.search(r'url: "([^"]+)"', html)
    assert spec_url is not None and client.get(spec_url.group(1)).status_code == 200


# --- schema fuzzing --------------------------------------------------------------------------


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_generated_requests_get_documented_answers(app: Flask, admin_headers: Headers) -> None:
    """Every operation, a few generated requests each (as an admin, so past the auth check).

    Bounded: six examples per operation, derandomized (the same requests on every run).
    """
    signer(app)  # a ready server: /readyz answers 503 without a signing key, as it should
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers=admin_headers)
            case.validate_response(response, checks=CHECKS)

        tried += 1
        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collected: one report names every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert tried >= 30
    assert not failures, "\n\n".join(failures)
