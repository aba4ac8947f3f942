"""Chart references: the operator's three shapes, first match wins, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.errors import Invalid
from deployserver.specs.charts import chart_shape, validate_chart

VALID = [
    ({"path": "/charts/operator-wandb"}, "local"),
    ({"path": "./c", "debug": True}, "local"),
    ({"url": "oci://registry.example.com/charts/operator-wandb", "version": "0.83.1"}, "oci"),
    ({"url": "oci://registry.example.com:5000/charts/operator-wandb:0.83.1"}, "oci"),
    ({"url": "oci://r.example.com/c/op@sha256:abcdef"}, "oci"),
    (
        {
            "url": "oci://r.example.com/c/op",
            "version": "1.0.0",
            "plainHTTP": True,
            "username": "u",
            "password": "p",
            "debug": False,
        },
        "oci",
    ),
    ({"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.83.1"}, "repo"),
    ({"url": "http://chartmuseum:8080", "name": "operator-wandb"}, "repo"),
    ({"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": ""}, "repo"),
    (
        {
            "url": "https://charts.wandb.ai",
            "name": "operator-wandb",
            "repoName": "wandb",
            "credentialSecret": {"name": "s", "usernameKey": "u", "passwordKey": "p"},
        },
        "repo",
    ),
]


@pytest.mark.parametrize(("chart", "shape"), VALID)
def test_valid_charts(chart: dict[str, Any], shape: str) -> None:
    assert validate_chart(chart) == chart
    assert chart_shape(chart) == shape


INVALID = [
    ("not an object", "chart"),
    ({}, "chart"),
    ({"name": "operator-wandb", "version": "1"}, "chart"),
    ({"path": ""}, "chart.path"),
    ({"path": 3}, "chart.path"),
    ({"path": "/c", "url": "https://x"}, "chart.url"),  # local wins; url is not its field
    ({"url": "oci://r.example.com/charts/op"}, "chart.version"),
    ({"url": "oci://r.example.com/charts/op:", "version": ""}, "chart.version"),
    ({"url": "oci://", "version": "1"}, "chart.url"),
    ({"url": "oci://r.example.com/c/op", "version": "1", "repoName": "x"}, "chart.repoName"),
    ({"url": "https://charts.wandb.ai", "version": "1"}, "chart.name"),
    ({"url": "https://charts.wandb.ai", "name": "  "}, "chart.name"),
    ({"url": "ftp://charts.wandb.ai", "name": "op"}, "chart.url"),
    ({"url": "charts.wandb.ai", "name": "op"}, "chart.url"),
    ({"url": "https://", "name": "op"}, "chart.url"),
    ({"url": "https://host:notaport/", "name": "op"}, "chart.url"),
    ({"url": "https://charts.wandb.ai", "name": "op", "plainHTTP": True}, "chart.plainHTTP"),
    ({"url": "https://charts.wandb.ai", "name": "op", "extra": 1}, "chart.extra"),
    ({"url": "https://charts.wandb.ai", "name": "op", "debug": "yes"}, "chart.debug"),
    ({"url": "https://charts.wandb.ai", "name": "op", "version": 1}, "chart.version"),
    (
        {"url": "https://c.example", "name": "op", "credentialSecret": {"name": "s"}},
        "chart.credentialSecret.usernameKey",
    ),
    (
        {
            "url": "https://c.example",
            "name": "op",
            "credentialSecret": {"name": "s", "usernameKey": "u", "passwordKey": "p", "x": 1},
        },
        "chart.credentialSecret.x",
    ),
    ({"url": 5, "name": "op"}, "chart.url"),
]


@pytest.mark.parametrize(("chart", "field"), INVALID)
def test_invalid_charts_name_the_field(chart: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_chart(chart)
    assert caught.value.status == 422
    assert list(caught.value.errors or {}) == [field]
