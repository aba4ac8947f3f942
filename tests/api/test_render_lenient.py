"""Render reads what installations bring as the operator does: CR charts, pins, reconcile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import CHART
from tests.api.test_render import render

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture
def viewer(make_token: Callable[..., Headers]) -> Headers:
    return make_token("viewer")


@pytest.mark.parametrize(
    ("cr_chart", "used"),
    [
        ({"path": "/charts/wandb"}, {"path": "/charts/wandb"}),
        ({"PATH": "/charts/wandb", "debug": "yes"}, {"path": "/charts/wandb"}),
        (
            {"URL": "s3://bucket/charts", "Name": "op", "unknown": [1]},
            {"url": "s3://bucket/charts", "name": "op"},
        ),
        (
            {"url": "oci://Registry.example/Charts/Op", "version": "9.9.9"},
            {"url": "oci://Registry.example/Charts/Op", "version": "9.9.9"},
        ),
        ({"url": f"oci://r.example/c/op@{DIGEST}"}, {"url": f"oci://r.example/c/op@{DIGEST}"}),
        (
            {"url": "https://c.example", "name": "op", "version": None, "password": "pw"},
            {"url": "https://c.example", "name": "op", "password": "***"},
        ),
    ],
)
def test_cr_charts_the_operator_reads_are_used(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    cr_chart: dict[str, Any],
    used: dict[str, Any],
) -> None:
    make_channel()
    publish()
    response = render(client, viewer, {"cr": {"chart": cr_chart}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["spec"]["chart"] == used
    assert response.get_json()["warnings"] == []


@pytest.mark.parametrize(
    "cr_chart",
    [
        {},
        {"nothing": 1},
        {"url": "ftp://x"},  # a repo chart needs a name
        {"path": ""},
        {"url": "oci://r.example/Charts/op"},  # no version and no parseable tag
        {"url": "oci://r.example/c/op:v1+build"},
        {"url": "oci://r.example/c/op@sha256:abc"},
        {"url": "oci://r.example/c/op:1", "plainHTTP": "yes"},
        {"url": "https://c.example", "name": "op", "debug": 1},
        {"url": "https://", "name": "op"},
    ],
)
def test_cr_charts_the_operator_drops_are_dropped_with_a_warning(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    cr_chart: dict[str, Any],
) -> None:
    make_channel()
    publish()
    response = render(client, viewer, {"cr": {"chart": cr_chart}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["spec"]["chart"] == CHART  # the next layer's chart: the release's
    (warning,) = body["warnings"]
    assert warning["code"] == "CHART_IGNORED" and warning["path"] == "cr.chart"
    assert "the operator cannot read this chart" in warning["detail"]


@pytest.mark.parametrize("pin", [5, "", None, True, {"id": "x"}, ["x"], 1.5])
def test_pins_that_are_not_non_empty_strings_are_ignored(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    pin: Any,
) -> None:
    make_channel()
    publish(version="0.1.0")
    head = publish(version="0.2.0")
    response = render(client, viewer, {"userInput": {"_releaseId": pin, "u": 1}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["spec"]["metadata"]["releaseId"] == head["id"]  # the head, as the operator
    assert body["spec"]["values"]["_releaseId"] == pin  # and it stays in the values
    (warning,) = body["warnings"]
    assert warning["code"] == "PIN_IGNORED" and warning["path"] == "userInput._releaseId"


def test_an_ignored_pin_leaves_release_id_to_choose(
    client: FlaskClient, viewer: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    old = publish(version="0.1.0")
    publish(version="0.2.0")
    body = {"releaseId": old["id"], "userInput": {"_releaseId": ""}}
    response = render(client, viewer, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["spec"]["metadata"]["releaseId"] == old["id"]
    assert [w["code"] for w in response.get_json()["warnings"]] == ["PIN_IGNORED"]


@pytest.mark.parametrize("frequency", ["1ms", "0s", "-5m", "25h", 600, "often"])
def test_reconcile_frequency_from_installations_is_previewed_not_refused(
    client: FlaskClient,
    viewer: Headers,
    make_channel: Factory,
    publish: Factory,
    frequency: Any,
) -> None:
    # Publishing refuses these; an installation's own value is the operator's to read.
    make_channel()
    publish()
    response = render(client, viewer, {"userInput": {"reconcileFrequency": frequency}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["spec"]["values"]["reconcileFrequency"] == frequency
