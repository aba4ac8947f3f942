"""POST /api/v1/channels/{name}/render: the four layers, pinning, masking, conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver import create_app
from deployserver.config import Config
from deployserver.extensions import state
from tests.api.conftest import CHART
from tests.test_errors import assert_problem

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]

OPERATOR = {"apiVersion": "apps.wandb.com/v1", "namespace": "wandb"}


def render(
    client: FlaskClient,
    headers: Headers,
    body: Any = None,
    channel: str = "stable",
    query: str = "",
) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.post(f"/api/v1/channels/{channel}/render{query}", **kwargs)


@pytest.fixture
def viewer(make_token: Callable[..., Headers]) -> Headers:
    return make_token("viewer")


def test_each_layer_in_operator_order(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel(values={"global": {"host": "base", "region": "base"}, "l": ["base"], "s": "base"})
    release = publish(
        values={"global": {"host": "release"}, "l": ["release"], "s": "release", "r": 1}
    )
    body = {
        "cr": {"values": {"app": {"image": "cr"}, "l": ["cr"], "s": "cr"}},
        "userInput": {"app": {"image": "user", "tag": "u"}, "l": ["user"], "s": "user"},
    }
    response = render(client, viewer, body)
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == {"spec", "warnings"}
    assert response.get_json()["warnings"] == []
    spec = response.get_json()["spec"]
    assert spec["values"] == {
        "app": {"image": "cr", "tag": "u"},  # CR over user input, deeply
        "l": ["cr", "user", "release", "base"],  # lists concatenate, earlier layer first
        "s": "cr",
        "r": 1,
        "global": {"host": "release", "region": "base", "operator": OPERATOR},
    }
    assert spec["chart"] == CHART  # the release's: the CR has none
    assert spec["metadata"] == {
        "channel": "stable",
        "version": "0.83.1",
        "releaseId": release["id"],
        "publishedAt": release["createdAt"],
    }


def test_user_input_beats_release_and_defaults_come_last(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    publish(values={"s": "release", "global": {"operator": {"namespace": "from-release"}}})
    spec = render(client, viewer, {"userInput": {"s": "user"}}).get_json()["spec"]
    assert spec["values"]["s"] == "user"
    # The release layer sits above the operator defaults, so it keeps its namespace.
    assert spec["values"]["global"]["operator"] == {
        "namespace": "from-release",
        "apiVersion": "apps.wandb.com/v1",
    }


def test_cr_chart_replaces_the_release_chart_whole(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    publish()
    cr_chart = {"url": "oci://registry.example/charts/wandb", "version": "9.9.9"}
    spec = render(client, viewer, {"cr": {"chart": cr_chart}}).get_json()["spec"]
    assert spec["chart"] == cr_chart
    assert spec["values"] == {"app": {"n": 1}, "global": {"operator": OPERATOR}}


def test_empty_body_renders_the_head_with_defaults(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    publish("stable", "0.1.0", values={"v": 1})
    head = publish("stable", "0.2.0", values={"v": 2})
    for response in (render(client, viewer), render(client, viewer, {})):
        assert response.status_code == 200
        spec = response.get_json()["spec"]
        assert spec["metadata"]["releaseId"] == head["id"]
        assert spec["values"] == {"v": 2, "global": {"operator": OPERATOR}}


def test_operator_namespace_comes_from_configuration(
    make_config: Callable[..., Config], app: Flask, admin_headers: Headers, make_channel: Factory
) -> None:
    make_channel()
    other = create_app(make_config(operator_namespace="wandb-system"))
    client = other.test_client()
    publish = client.post(
        "/api/v1/channels/stable/releases",
        json={"version": "1.0.0", "chart": CHART, "values": {}},
        headers=admin_headers,
    )
    assert publish.status_code == 201
    spec = render(client, admin_headers).get_json()["spec"]
    assert spec["values"]["global"]["operator"]["namespace"] == "wandb-system"
    state(other).engine.dispose()


def test_pinning_with_release_id_in_user_input(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    old = publish("stable", "0.1.0", values={"v": 1})
    publish("stable", "0.2.0", values={"v": 2})
    body = {"userInput": {"_releaseId": old["id"], "u": True}}
    spec = render(client, viewer, body).get_json()["spec"]
    assert spec["metadata"]["releaseId"] == old["id"]
    assert spec["metadata"]["version"] == "0.1.0"
    # The pin stays in the values, as it does in the operator.
    assert spec["values"] == {
        "_releaseId": old["id"],
        "u": True,
        "v": 1,
        "global": {"operator": OPERATOR},
    }
    by_field = render(client, viewer, {"releaseId": old["id"]}).get_json()["spec"]
    assert by_field["metadata"]["releaseId"] == old["id"]
    both = render(client, viewer, {"releaseId": old["id"], "userInput": {"_releaseId": old["id"]}})
    assert both.status_code == 200


def test_pin_must_have_been_head_of_the_channel(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
) -> None:
    make_channel()
    make_channel("beta")
    head = publish("stable", "0.1.0")
    elsewhere = publish("beta", "0.2.0")
    unknown = "00000000-0000-0000-0000-000000000000"
    for body, field in [
        ({"userInput": {"_releaseId": elsewhere["id"]}}, "userInput._releaseId"),
        ({"userInput": {"_releaseId": unknown}}, "userInput._releaseId"),
        ({"releaseId": elsewhere["id"]}, "releaseId"),
        ({"releaseId": "x" * 200}, "releaseId"),
    ]:
        problem = assert_problem(render(client, viewer, body), 422, "NOT_IN_CHANNEL_HISTORY")
        assert set(problem["errors"]) == {field}
    ambiguous = {"releaseId": head["id"], "userInput": {"_releaseId": elsewhere["id"]}}
    problem = assert_problem(render(client, viewer, ambiguous), 422, "VALIDATION_FAILED")
    assert set(problem["errors"]) == {"releaseId"}


SECRETS = {
    "global": {
        "license": "eyJhbGciOi.license.jwt",
        "licenseSecret": {"name": "wandb-license", "key": "license"},
        "bucket": {"name": "files", "accessKey": "AKIA123", "secretKey": "s3cr3t"},
        "mysql": {"dbPassword": "hunter2", "user": "wandb"},
    }
}
MASKED = {
    "global": {
        "license": "***",
        "licenseSecret": {"name": "wandb-license", "key": "***"},
        "bucket": {"name": "files", "accessKey": "***", "secretKey": "***"},
        "mysql": {"dbPassword": "***", "user": "wandb"},
        "operator": OPERATOR,
    }
}


def test_secrets_are_masked_unless_an_admin_reveals(
    client: FlaskClient,
    admin_headers: Headers,
    make_token: Callable[..., Headers],
    make_channel: Factory,
    publish: Factory,
) -> None:
    make_channel()
    publish(values=SECRETS, chart={**CHART, "username": "ci", "password": "chart-pass"})
    user_input = {"userInput": {"auth": {"clientSecret": "from-user"}}}
    for headers in (make_token("viewer"), make_token("publisher"), admin_headers):
        spec = render(client, headers, user_input).get_json()["spec"]
        assert spec["values"] == {**MASKED, "auth": {"clientSecret": "***"}}
        assert spec["chart"]["password"] == "***" and spec["chart"]["username"] == "ci"
    revealed = render(client, admin_headers, user_input, query="?reveal=true")
    assert revealed.status_code == 200
    spec = revealed.get_json()["spec"]
    assert spec["values"]["global"]["bucket"]["secretKey"] == "s3cr3t"
    assert spec["values"]["global"]["license"] == "eyJhbGciOi.license.jwt"
    assert spec["values"]["auth"]["clientSecret"] == "from-user"
    assert spec["chart"]["password"] == "chart-pass"
    for role in ("viewer", "publisher"):
        response = render(client, make_token(role), user_input, query="?reveal=true")
        assert "reveal" in assert_problem(response, 403, "FORBIDDEN")["detail"]
    masked = render(client, admin_headers, user_input, query="?reveal=false")
    assert masked.get_json()["spec"]["values"]["global"]["license"] == "***"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"userInput": {"app": "flat"}}, "values.app"),  # user input against the release
        ({"userInput": {"app": {"n": "one"}}}, "values.app.n"),
        ({"cr": {"values": {"app": ["x"]}}}, "values.app"),  # CR against the release
        ({"cr": {"values": {"k": "s"}}, "userInput": {"k": True}}, "values.k"),  # CR vs user
        ({"userInput": {"global": {"operator": "x"}}}, "values.global.operator"),  # vs defaults
        ({"userInput": {"base": 1}}, "values.base"),  # against the channel's base values
        ({"userInput": {"app": {"n": None}}}, "values.app.n"),  # a null meeting a value
        ({"cr": {"values": {"app": {"n": None}}}}, "values.app.n"),
        ({"cr": {"values": {"u": None}}, "userInput": {"u": {"x": 1}}}, "values.u"),
        ({"cr": {"values": {"u": None}}, "userInput": {"u": None}}, "values.u"),
        ({"userInput": {"base": None}}, "values.base"),
        ({"userInput": {"x.y": {"z": 1}}, "cr": {"values": {"x.y": 1}}}, 'values["x.y"]'),
    ],
)
def test_merge_conflicts_name_the_path(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    body: dict[str, Any],
    path: str,
) -> None:
    make_channel(values={"base": {"m": 1}})
    publish()
    problem = assert_problem(render(client, viewer, body), 422, "MERGE_CONFLICT")
    assert set(problem["errors"]) == {path}
    assert problem["detail"].startswith(f"{path}: ")
    assert " layer" in problem["errors"][path][0]  # which layer clashed, for the reader
    assert problem["detail"].endswith("the operator's reconcile fails on it too")


def test_conflict_names_the_layers(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    publish()
    problem = render(client, viewer, {"userInput": {"app": "flat"}}).get_json()
    assert problem["detail"] == (
        "values.app: string in one layer clashes with map "
        "(merging the release layer under custom resource, user input); "
        "the operator's reconcile fails on it too"
    )


def test_refusals(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    assert_problem(render(client, viewer, {}, channel="nope"), 404, "CHANNEL_NOT_FOUND")
    make_channel()
    assert_problem(render(client, viewer, {}), 404, "CHANNEL_EMPTY")
    publish()
    assert_problem(render(client, {}, {}), 401, "TOKEN_REQUIRED")
    for body, field in [
        ({"userInput": []}, "userInput"),
        ({"cr": {"values": "x"}}, "cr.values"),
        ({"cr": {"chart": "oci://r.example/c/op:1"}}, "cr.chart"),
        ({"cr": {"chart": {"path": "/c", "n": 10**310}}}, "cr.chart.n"),
        ({"userInput": {"n": 10**310}}, "userInput.n"),
        ({"cr": {"values": {"a": [-(10**310)]}}}, "cr.values.a[0]"),
        ({"cr": {"chart": {}, "metadata": {}}}, "cr.metadata"),
        ({"surprise": 1}, "surprise"),
    ]:
        problem = assert_problem(render(client, viewer, body), 422, "VALIDATION_FAILED")
        assert field in problem["errors"], (body, problem)


def test_openapi_documents_render_and_diff(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    render_op = spec["paths"]["/api/v1/channels/{name}/render"]["post"]
    assert render_op["summary"]
    assert {"200", "401", "403", "404", "422"} <= set(render_op["responses"])
    assert "requestBody" in render_op
    assert any(p["name"] == "reveal" for p in render_op["parameters"])
    diff_op = spec["paths"]["/api/v1/releases/{release_id}/diff/{other_id}"]["get"]
    assert diff_op["summary"] and {"200", "401", "403", "404"} <= set(diff_op["responses"])
    schemas = spec["components"]["schemas"]
    assert {"Render", "Rendered", "RenderedSpec", "Diff", "Change", "ValuesWarning"} <= set(schemas)
    assert "strictValues" in schemas["Channel"]["properties"]
    assert "warnings" in schemas["Published"]["properties"]


def test_candidates_that_never_became_head_cannot_be_pinned(
    client: FlaskClient,
    viewer: Headers,
    admin_headers: Headers,
    make_channel: Factory,
    publish: Factory,
) -> None:
    # The poll's rule: a pin names a release that is or was head of the channel.
    make_channel()
    publish("stable", "1.0.0")
    candidate = publish("stable", "2.0.0", rollout={"percent": 10})
    pinned = {"userInput": {"_releaseId": candidate["id"]}}
    problem = assert_problem(render(client, viewer, pinned), 422, "NOT_IN_CHANNEL_HISTORY")
    assert set(problem["errors"]) == {"userInput._releaseId"}
    # Named by releaseId, the current candidate previews what its rollout cohort gets.
    preview = render(client, viewer, {"releaseId": candidate["id"]})
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["spec"]["metadata"]["releaseId"] == candidate["id"]
    both = {"releaseId": candidate["id"], **pinned}
    assert_problem(render(client, viewer, both), 422, "NOT_IN_CHANNEL_HISTORY")

    aborted = client.post("/api/v1/channels/stable/rollout/abort", headers=admin_headers)
    assert aborted.status_code == 200, aborted.get_json()
    for body, field in [
        (pinned, "userInput._releaseId"),
        ({"releaseId": candidate["id"]}, "releaseId"),
    ]:
        problem = assert_problem(render(client, viewer, body), 422, "NOT_IN_CHANNEL_HISTORY")
        assert set(problem["errors"]) == {field}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"userInput": {"a": NaN}}', "userInput.a"),
        ('{"userInput": {"a": {"b": [Infinity]}}}', "userInput.a.b[0]"),
        ('{"cr": {"values": {"x": -Infinity}}}', "cr.values.x"),
        ('{"userInput": {"a": "\\ud800"}}', "userInput.a"),
        ('{"cr": {"values": {"x": "\\u0000"}}}', "cr.values.x"),
        ('{"cr": {"chart": {"path": "\\u0000"}}}', "cr.chart.path"),
    ],
)
def test_user_input_and_cr_values_are_checked_as_values(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    raw: str,
    field: str,
) -> None:
    # NaN made the answer invalid JSON; a lone surrogate failed with a 500.
    make_channel()
    publish()
    response = client.post(
        "/api/v1/channels/stable/render",
        data=raw,
        content_type="application/json",
        headers=viewer,
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert set(problem["errors"]) == {field}


def test_nulls_meeting_nothing_are_kept(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    # The operator merges a null only where it meets a value; lists concatenate unread.
    make_channel(values={"base": {"m": 1}})
    publish()
    body = {
        "cr": {"values": {"c": None, "app": {"extra": None}}},
        "userInput": {"u": {"v": None}, "l": [None, 1], "base": {"z": None}},
    }
    response = render(client, viewer, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["spec"]["values"] == {
        "c": None,
        "app": {"extra": None, "n": 1},
        "u": {"v": None},
        "l": [None, 1],
        "base": {"z": None, "m": 1},
        "global": {"operator": OPERATOR},
    }
