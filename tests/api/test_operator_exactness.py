"""Publishing refuses what a real operator cannot use, and writes nothing when it does.

OCI references it cannot parse, integers beyond float64 (the poll would not decode on any
installation) and a reconcileFrequency outside 1m..24h, in release values, base values
(channel create and PATCH) and channel files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver.channelfiles import load_folder
from deployserver.errors import Invalid
from tests.api.conftest import release_body
from tests.channel_folders import channel_file, publish_entry, write_folder
from tests.snapshots import database_snapshot
from tests.test_errors import assert_problem

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]
DIGEST = "sha256:" + "0123456789abcdef" * 4
BIG = 10**310  # a literal 1 followed by 310 zeros
BIG_TEXT = "1" + "0" * 310

UNREADABLE_OCI = [
    "oci://registry.example.com/Charts/operator-wandb:1.0.0",
    "oci://registry.example.com/charts/operator-wandb:v1+build",
    "oci://registry.example.com/charts/operator-wandb@sha256:abc",
    "oci://registry.example.com/charts/operator-wandb:1.0:2.0",
    "oci://registry.example.com/charts/operator-wandb:1 0",
    "oci://registry.example.com/charts/operator-wandb:" + "a" * 129,
    "oci://registry.example.com/charts/operator-wandb:-1",
    "oci://registry.example.com//operator-wandb:1.0.0",
]
READABLE_OCI = [
    ({"url": "oci://registry.example.com:5000/charts/operator-wandb:0.83.1"}),
    ({"url": "oci://registry.example.com/a/b/c/operator-wandb", "version": "0.83.1"}),
    ({"url": f"oci://registry.example.com/charts/operator-wandb@{DIGEST}"}),
    ({"url": "oci://ghcr.io/wandb/helm-charts/operator-wandb:" + "a" * 128}),
]


def stored(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the tokens' (whose last use a request may record)."""
    snapshot = database_snapshot(app)
    snapshot.pop("api_tokens")
    return snapshot


def post(client: FlaskClient, headers: Headers, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/channels/stable/releases", json=body, headers=headers)


@pytest.mark.parametrize("url", UNREADABLE_OCI)
def test_oci_references_the_operator_cannot_parse_are_refused(
    app: Flask, client: FlaskClient, admin_headers: Headers, make_channel: Factory, url: str
) -> None:
    make_channel()
    before = stored(app)
    response = post(client, admin_headers, release_body(chart={"url": url}))
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert set(problem["errors"]) == {"chart.url"}
    assert stored(app) == before


@pytest.mark.parametrize("chart", READABLE_OCI)
def test_oci_references_the_operator_parses_are_published(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, chart: dict[str, Any]
) -> None:
    make_channel()
    response = post(client, admin_headers, release_body(chart=chart))
    assert response.status_code == 201, response.get_json()
    served = client.get("/api/v1/operator/channel").get_json()
    assert served["chart"] == chart


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": {"n": BIG}}, "values.n"),
        ({"values": {"a": {"b": [-BIG]}}}, "values.a.b[0]"),
        ({"values": None, "valuesYaml": f"n: {BIG_TEXT}\n"}, "valuesYaml.n"),
        ({"values": None, "valuesYaml": f"a:\n  - {BIG_TEXT}\n"}, "valuesYaml.a[0]"),
        ({"values": {"reconcileFrequency": "1ms"}}, "values.reconcileFrequency"),
        ({"values": {"reconcileFrequency": "0s"}}, "values.reconcileFrequency"),
        ({"values": {"reconcileFrequency": "-5m"}}, "values.reconcileFrequency"),
        ({"values": {"reconcileFrequency": "25h"}}, "values.reconcileFrequency"),
        (
            {"values": None, "valuesYaml": "reconcileFrequency: 1ms\n"},
            "valuesYaml.reconcileFrequency",
        ),
    ],
)
def test_release_values_the_operator_cannot_use_are_refused(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Factory,
    body: dict[str, Any],
    field: str,
) -> None:
    make_channel()
    before = stored(app)
    request = {key: value for key, value in release_body(**body).items() if value is not None}
    problem = assert_problem(post(client, admin_headers, request), 422, "VALIDATION_FAILED")
    assert set(problem["errors"]) == {field}
    message = problem["errors"][field][0]
    assert ("float64" in message) or ("between 1m and 24h" in message)
    assert stored(app) == before


@pytest.mark.parametrize("frequency", ["1m", "1h30m", "24h"])
def test_reconcile_frequency_in_range_is_published_and_served(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, frequency: str
) -> None:
    make_channel(values={"reconcileFrequency": frequency})
    response = post(client, admin_headers, release_body(values={"reconcileFrequency": frequency}))
    assert response.status_code == 201, response.get_json()
    served = client.get("/api/v1/operator/channel").get_json()
    assert served["values"]["reconcileFrequency"] == frequency


def test_largest_float64_integer_is_published_and_served(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory
) -> None:
    largest = int(1.7976931348623157e308)
    make_channel()
    response = post(client, admin_headers, release_body(values={"n": largest, "m": -largest}))
    assert response.status_code == 201, response.get_json()
    assert client.get("/api/v1/operator/channel").get_json()["values"]["n"] == largest


BAD_BASE_VALUES = [
    ({"n": BIG}, "values.n"),
    ({"deep": {"list": [1, BIG]}}, "values.deep.list[1]"),
    ({"reconcileFrequency": "1ms"}, "values.reconcileFrequency"),
    ({"reconcileFrequency": "0s"}, "values.reconcileFrequency"),
    ({"reconcileFrequency": "-5m"}, "values.reconcileFrequency"),
    ({"reconcileFrequency": "25h"}, "values.reconcileFrequency"),
]


@pytest.mark.parametrize(("values", "field"), BAD_BASE_VALUES)
def test_base_values_are_refused_on_create_and_patch(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    make_channel: Factory,
    values: dict[str, Any],
    field: str,
) -> None:
    before = stored(app)
    created = client.post(
        "/api/v1/channels", json={"name": "beta", "values": values}, headers=admin_headers
    )
    assert set(assert_problem(created, 422, "VALIDATION_FAILED")["errors"]) == {field}
    assert stored(app) == before
    make_channel()
    before = stored(app)
    patched = client.patch(
        "/api/v1/channels/stable", json={"values": values}, headers=admin_headers
    )
    assert set(assert_problem(patched, 422, "VALIDATION_FAILED")["errors"]) == {field}
    assert stored(app) == before


@pytest.mark.parametrize(
    ("header", "entry_values"),
    [
        ("values: {reconcileFrequency: 1ms}\n", "{app: {n: 1}}"),
        ("values: {reconcileFrequency: 25h}\n", "{app: {n: 1}}"),
        (f"values: {{n: {BIG_TEXT}}}\n", "{app: {n: 1}}"),
        ("", "{reconcileFrequency: 0s}"),
        ("", "{reconcileFrequency: -5m}"),
        ("", f"{{n: {BIG_TEXT}}}"),
    ],
)
def test_channel_files_are_refused(tmp_path: Path, header: str, entry_values: str) -> None:
    write_folder(
        tmp_path,
        {
            "stable.yaml": channel_file(
                "stable", publish_entry("1.0.0", entry_values), header=header
            )
        },
    )
    with pytest.raises(Invalid) as refused:
        load_folder(tmp_path)
    detail = str(refused.value)
    assert "stable.yaml" in detail
    assert ("between 1m and 24h" in detail) or ("float64" in detail)
    assert any(path.endswith(("reconcileFrequency", ".n")) for path in refused.value.errors or {})


@pytest.mark.parametrize("frequency", ["1m", "1h30m", "24h"])
def test_channel_files_with_a_frequency_in_range_load(tmp_path: Path, frequency: str) -> None:
    entry = publish_entry("1.0.0", f"{{reconcileFrequency: {frequency}}}")
    header = f"values: {{reconcileFrequency: {frequency}}}\n"
    write_folder(tmp_path, {"stable.yaml": channel_file("stable", entry, header=header)})
    (loaded,) = load_folder(tmp_path)
    assert loaded.values == {"reconcileFrequency": frequency}
