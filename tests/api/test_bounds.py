"""Inputs that once crashed the server (500) now answer a 4xx problem naming the field.

Each test is a reproducer found by schema fuzzing or by hand; it runs on every configured
backend (the NUL and surrogate cases failed on PostgreSQL and SQLite alike), and checks that
nothing was written.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.extensions import state
from deployserver.licensing.verifier import license_verifier
from deployserver.models import AuditEvent, Channel, License, Release, SigningKey
from tests.api.conftest import CHART
from tests.licensing.factories import good_claims, sign
from tests.test_errors import assert_problem

Headers = dict[str, str]
Count = Callable[[Any], int]
Factory = Callable[..., dict[str, Any]]

FIVE_THOUSAND_DIGITS = "1" * 5000


def nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` deep: ``{"a": {"a": ... {"x": 1}}}`` (the outer one is level 1)."""
    value: dict[str, Any] = {"x": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def path_of(levels: int, field: str) -> str:
    """The path at which a value nested ``levels`` deep passes the 30-level bound."""
    return field + ".a" * 30


def post_raw(client: FlaskClient, path: str, body: str, headers: Headers | None = None) -> Any:
    return client.post(path, data=body, headers=headers or {}, content_type="application/json")


def errors_of(response: Any, status: int = 422, code: str = "VALIDATION_FAILED") -> list[str]:
    return list(assert_problem(response, status, code)["errors"])


# --- numbers past Python's int limit ---------------------------------------------------------


def test_a_5000_digit_integer_in_values_names_the_path(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel()
    chart = json.dumps(CHART)
    body = '{"version":"1.0.0","chart":' + chart + ',"values":{"app":{"n":' + FIVE_THOUSAND_DIGITS
    body += "}}}"
    response = post_raw(client, "/api/v1/channels/stable/releases", body, admin_headers)
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert problem["errors"] == {
        "values.app.n": ["an integer of 5000 digits is over the bound of 400 digits"]
    }
    assert count(Release) == 0


def test_a_5000_digit_integer_unauthenticated_on_validate(client: FlaskClient) -> None:
    response = post_raw(
        client, "/api/v1/licenses/validate", f'{{"license":{FIVE_THOUSAND_DIGITS}}}'
    )
    assert errors_of(response) == ["license"]


def test_a_5000_digit_integer_in_values_yaml_names_line_and_column(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel()
    body = {
        "version": "1.0.0",
        "chart": CHART,
        "valuesYaml": f"app:\n  n: {FIVE_THOUSAND_DIGITS}\n",
    }
    response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert problem["errors"] == {
        "valuesYaml": [
            "line 2, column 6: an integer of 5000 digits is over the bound of 400 digits"
        ]
    }
    assert count(Release) == 0


def test_the_digit_bound_is_400(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    over = post_raw(
        client, "/api/v1/channels", '{"name":"c","values":{"n":' + "9" * 401 + "}}", admin_headers
    )
    assert assert_problem(over, 422, "VALIDATION_FAILED")["errors"] == {
        "values.n": ["an integer of 401 digits is over the bound of 400 digits"]
    }
    # 400 digits pass the parser; whatever the value rules say then, it is not this bound.
    within = post_raw(
        client, "/api/v1/channels", '{"name":"c","values":{"n":' + "9" * 400 + "}}", admin_headers
    )
    assert "digits" not in json.dumps(within.get_json())


# --- nesting ---------------------------------------------------------------------------------


def test_values_nested_500_deep_are_refused_at_the_path(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel()
    body = {"version": "1.0.0", "chart": CHART, "values": nested(500)}
    response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert list(problem["errors"]) == [path_of(500, "values")]
    assert "nested deeper than 30 levels" in problem["detail"]
    assert count(Release) == 0


def test_30_levels_are_accepted_31_are_not(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    ok = client.post(
        "/api/v1/channels", json={"name": "ok", "values": nested(30)}, headers=admin_headers
    )
    assert ok.status_code == 201, ok.get_json()
    deep = client.post(
        "/api/v1/channels", json={"name": "deep", "values": nested(31)}, headers=admin_headers
    )
    assert errors_of(deep) == ["values" + ".a" * 30]
    # Lists count as levels too.
    listed: Any = 1
    for _ in range(30):
        listed = [listed]
    response = client.post(
        "/api/v1/channels", json={"name": "lists", "values": {"l": listed}}, headers=admin_headers
    )
    assert errors_of(response) == ["values.l" + "[0]" * 29]


def test_render_user_input_nested_500_deep(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    publish()
    response = client.post(
        "/api/v1/channels/stable/render", json={"userInput": nested(500)}, headers=admin_headers
    )
    assert errors_of(response) == [path_of(500, "userInput")]
    response = client.post(
        "/api/v1/channels/stable/render",
        json={"cr": {"values": nested(500)}},
        headers=admin_headers,
    )
    assert errors_of(response) == [path_of(500, "cr.values")]


def test_yaml_nested_1000_deep(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    make_channel()
    for document in (
        "a: " + "[" * 1000 + "]" * 1000,
        "".join("  " * i + "a:\n" for i in range(1000)) + "  " * 1000 + "b: 1\n",
    ):
        body = {"version": "1.0.0", "chart": CHART, "valuesYaml": document}
        response = client.post("/api/v1/channels/stable/releases", json=body, headers=admin_headers)
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert next(iter(problem["errors"])).startswith("valuesYaml")
        assert "nested deeper than 30 levels" in problem["detail"]
    assert count(Release) == 0


def test_base_values_nested_600_deep_are_refused_and_publishing_still_works(
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Factory,
    publish: Factory,
    count: Count,
) -> None:
    make_channel()
    create = client.post(
        "/api/v1/channels", json={"name": "deep", "values": nested(600)}, headers=admin_headers
    )
    assert errors_of(create) == [path_of(600, "values")]
    patch = client.patch(
        "/api/v1/channels/stable", json={"values": nested(600)}, headers=admin_headers
    )
    assert errors_of(patch) == [path_of(600, "values")]
    assert count(Channel) == 1
    assert client.get("/api/v1/channels/stable", headers=admin_headers).get_json()["values"] == {}
    publish()  # the channel still takes releases


def test_json_too_deep_for_the_parser_says_so(
    client: FlaskClient, admin_headers: Headers, count: Count
) -> None:
    body = '{"name":"x","values":{"a":' + "[" * 5000 + "]" * 5000 + "}}"
    response = post_raw(client, "/api/v1/channels", body, admin_headers)
    problem = assert_problem(response, 422, "NESTING_TOO_DEEP")
    assert "not valid JSON" not in problem["detail"] and "30 levels" in problem["detail"]
    assert count(Channel) == 0


# --- times, text, ids ------------------------------------------------------------------------


def test_seen_since_outside_the_calendar_in_utc(
    client: FlaskClient, admin_headers: Headers
) -> None:
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = client.get(
            "/api/v1/installations", query_string={"seenSince": moment}, headers=admin_headers
        )
        assert errors_of(response) == ["seenSince"]
    fine = client.get(
        "/api/v1/installations",
        query_string={"seenSince": "2026-01-01T00:00:00+14:00"},
        headers=admin_headers,
    )
    assert fine.status_code == 200


@pytest.mark.usefixtures("make_channel")
@pytest.mark.parametrize("channel", ["\\ud800", "st\\u0000able", "\\udfffstable"])
def test_license_channel_with_unstorable_text(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count, channel: str
) -> None:
    make_channel()
    body = f'{{"subject":"acme","channel":"{channel}"}}'
    response = post_raw(client, "/api/v1/licenses", body, admin_headers)
    assert errors_of(response) == ["channel"]
    assert count(License) == 0


def test_retire_a_key_id_no_key_can_have(
    client: FlaskClient, admin_headers: Headers, count: Count
) -> None:
    for path in (
        "/api/v1/keys/a%00b/retire",
        "/api/v1/keys/%ED%A0%80/retire",
        "/api/v1/keys/" + "k" * 65 + "/retire",
    ):
        problem = assert_problem(client.post(path, headers=admin_headers), 404, "KEY_NOT_FOUND")
        assert list(problem["errors"]) == ["kid"]
    assert count(SigningKey) == 0 and count(AuditEvent) == 1  # the token's creation only


def test_path_ids_of_the_wrong_shape_are_404_naming_the_parameter(
    client: FlaskClient, admin_headers: Headers
) -> None:
    for path, code, parameter in [
        ("/api/v1/releases/abc", "RELEASE_NOT_FOUND", "releaseId"),
        ("/api/v1/releases/ABCDEF00-0000-0000-0000-000000000000", "RELEASE_NOT_FOUND", "releaseId"),
        ("/api/v1/channels/Stable", "CHANNEL_NOT_FOUND", "name"),
        ("/api/v1/licenses/a%00b", "LICENSE_NOT_FOUND", "licenseId"),
    ]:
        problem = assert_problem(client.get(path, headers=admin_headers), 404, code)
        assert list(problem["errors"]) == [parameter], path


def test_validate_is_not_shadowed_by_a_license_id(
    client: FlaskClient, admin_headers: Headers
) -> None:
    response = client.get("/api/v1/licenses/validate", headers=admin_headers)
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"].split(", ").count("POST") == 1


# --- license dates beyond any float ----------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_date_of_2_to_the_1024_is_a_cached_malformed_verdict(
    app: Flask, client: FlaskClient, claim: str
) -> None:
    token = sign(app, good_claims(app, **{claim: 2**1024}))
    verifier = license_verifier(state(app))
    before = verifier.cache_size
    validate = client.post("/api/v1/licenses/validate", json={"license": token})
    assert validate.status_code == 200
    verdict = validate.get_json()
    assert verdict["valid"] is False and verdict["code"] == "MALFORMED"
    assert claim in verdict["detail"]
    assert verifier.cache_size == before + 1  # remembered: a retry does no work again
    password = base64.b64encode(f"license:{token}".encode()).decode()
    poll = client.get("/api/v1/operator/channel", headers={"Authorization": f"Basic {password}"})
    assert_problem(poll, 401, "LICENSE_INVALID")
    assert verifier.cache_size == before + 1


# --- body hygiene ----------------------------------------------------------------------------


def test_json_without_its_content_type_is_415(
    client: FlaskClient, admin_headers: Headers, count: Count
) -> None:
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = dict(admin_headers)
        if content_type:
            headers["Content-Type"] = content_type
        response = client.post("/api/v1/channels", data='{"name": "beta"}', headers=headers)
        assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert count(Channel) == 0
    # No body at all is still fine where the body is optional.
    assert client.post("/api/v1/licenses/validate").status_code == 422


def test_a_chunked_body_over_the_limit_is_413(
    client: FlaskClient, admin_headers: Headers, count: Count
) -> None:
    limit = 1024 * 1024
    for size, status in ((limit + 1, 413), (limit - 100, 422)):
        body = b'{"name":"beta","description":"' + b"a" * (size - 32) + b'"}'
        response = client.post(
            "/api/v1/channels",
            input_stream=io.BytesIO(body),
            headers={
                **admin_headers,
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            },
            environ_overrides={"wsgi.input_terminated": True},
        )
        if status == 413:
            assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
        else:
            # Read whole: the description is over its column bound, and named.
            assert errors_of(response) == ["description"]
    assert count(Channel) == 0


def test_entitlements_at_the_bound_are_stored_on_every_backend(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, count: Count
) -> None:
    # The claims column holds entitlements one level down: 30 levels of them are 31 stored.
    make_channel()
    body = {"subject": "acme", "channel": "stable", "entitlements": nested(30)}
    issued = client.post("/api/v1/licenses", json=body, headers=admin_headers)
    assert issued.status_code == 201, issued.get_json()
    body["entitlements"] = nested(31)
    refused = client.post("/api/v1/licenses", json=body, headers=admin_headers)
    assert errors_of(refused) == [path_of(31, "entitlements")]
    assert count(License) == 1


# --- honest audit: the caller's request id is its own ----------------------------------------


def test_a_rest_call_cannot_pose_as_a_sync_in_the_audit_log(
    client: FlaskClient, admin_headers: Headers, make_token: Any
) -> None:
    response = client.post(
        "/api/v1/channels",
        json={"name": "beta"},
        headers={**admin_headers, "X-Request-ID": "sync-0123456789abcdef"},
    )
    assert response.status_code == 201
    own = response.headers["X-Request-ID"]
    events = client.get("/api/v1/audit?target=channel:beta", headers=make_token("viewer"))
    [event] = events.get_json()["items"]
    assert event["requestId"] == own and not own.startswith("sync-")
    assert event["clientRequestId"] == "sync-0123456789abcdef"
    plain = client.post("/api/v1/channels", json={"name": "gamma"}, headers=admin_headers)
    assert plain.status_code == 201
    events = client.get("/api/v1/audit?target=channel:gamma", headers=admin_headers)
    assert events.get_json()["items"][0]["clientRequestId"] is None
