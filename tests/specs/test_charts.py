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
    ({"url": "oci://r.example.com/c/op@sha256:" + "ab" * 32}, "oci"),
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
    ({"url": "oci://r.example.com/charts/op:", "version": ""}, "chart.url"),
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


DIGEST = "sha256:" + "0123456789abcdef" * 4

# OCI references: the distribution grammar, as oras-go's ParseReference (the operator) and
# Helm's pull read them; (url, version, accepted).
OCI_REFERENCES = [
    # the cases found unreadable to the operator, all refused naming chart.url
    ("oci://registry.example.com/Charts/operator-wandb:1.0.0", "", False),  # upper case
    ("oci://registry.example.com/charts/operator-wandb:v1+build", "", False),  # '+' in tag
    ("oci://registry.example.com/charts/operator-wandb@sha256:abc", "", False),  # short
    ("oci://registry.example.com/charts/operator-wandb:1.0:2.0", "", False),  # two tags
    ("oci://registry.example.com/charts/operator-wandb:1 0", "", False),  # a space
    ("oci://registry.example.com/charts/operator-wandb:" + "a" * 129, "", False),
    ("oci://registry.example.com/charts/operator-wandb:-1", "", False),  # leading dash
    ("oci://registry.example.com//operator-wandb", "1.0.0", False),  # empty segment
    # more of the grammar
    ("oci://registry.example.com/charts/operator-wandb:.1", "", False),
    ("oci://registry.example.com/charts/operator-wandb/", "1.0.0", False),
    ("oci://registry.example.com/charts/operator..wandb", "1.0.0", False),
    ("oci://registry.example.com/charts/operator___wandb", "1.0.0", False),
    ("oci://registry.example.com/charts/-op", "1.0.0", False),
    ("oci://registry.example.com/charts/op:1\u0661", "", False),  # Go's \w is ASCII
    ("oci://registry.example.com/charts/op@sha256:" + "AB" * 32, "", False),  # upper hex
    ("oci://registry.example.com/charts/op@sha512:" + "ab" * 64, "", False),  # not sha256
    ("oci://registry.example.com/charts/op@" + DIGEST + "0", "", False),
    ("oci://registry.example.com/charts/op:", "1.0.0", False),  # empty tag
    ("oci:///charts/op", "1.0.0", False),  # no registry
    ("oci://registry.example.com", "1.0.0", False),  # no repository
    ("oci://registry.example.com:99999/charts/op", "1.0.0", False),  # no such port
    ("oci://registry.example.com:port/charts/op", "1.0.0", False),
    ("oci://user@registry.example.com/charts/op", "1.0.0", False),
    ("oci://registry.example.com/charts/op?x=1", "1.0.0", False),
    ("oci://registry_example.com/charts/op", "1.0.0", False),
    ("oci://[:::1]/charts/op", "1.0.0", False),
    ("oci://registry.example.com:0/charts/op", "1.0.0", False),
    ("oci://registry.example.com./charts/op", "1.0.0", False),
    # accepted: host:port, nested paths, digest, tag, tag and digest, IPv6, separators
    ("oci://registry.example.com:5000/charts/operator-wandb:0.83.1", "", True),
    ("oci://localhost:5000/a/b/c/d/operator-wandb", "0.83.1", True),
    ("oci://registry.example.com/charts/operator-wandb@" + DIGEST, "", True),
    ("oci://registry.example.com/charts/operator-wandb:0.83.1@" + DIGEST, "", True),
    ("oci://ghcr.io/wandb/helm-charts/operator-wandb:" + "a" * 128, "", True),
    ("oci://ghcr.io/wandb/helm-charts/operator-wandb:_v1.0-rc.1", "", True),
    ("oci://Registry.Example.com/charts/op:1", "", True),  # host names are not cased
    ("oci://[::1]:5000/charts/op:1", "", True),
    ("oci://10.0.0.1/charts/op.v2__x--y_z", "1.0.0", True),
]


@pytest.mark.parametrize(("url", "version", "accepted"), OCI_REFERENCES)
def test_oci_references_follow_the_distribution_grammar(
    url: str, version: str, accepted: bool
) -> None:
    chart = {"url": url, "version": version} if version else {"url": url}
    if accepted:
        assert validate_chart(chart) == chart
        return
    with pytest.raises(Invalid) as caught:
        validate_chart(chart)
    assert caught.value.status == 422
    assert list(caught.value.errors or {}) == ["chart.url"]


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        ({"url": "oci://r.example.com/c/op"}, "is required for an OCI chart unless"),
        ({"url": "oci://r.example.com/c/op:1.0.0", "version": "2.0.0"}, "differs from the tag"),
        ({"url": "oci://r.example.com/c/op:1.0.0_b", "version": "1.0.0+b"}, "differs"),
    ],
)
def test_oci_version_is_needed_and_must_match_the_url_tag(
    chart: dict[str, Any], message: str
) -> None:
    with pytest.raises(Invalid) as caught:
        validate_chart(chart)
    (messages,) = (caught.value.errors or {}).values()
    assert list(caught.value.errors or {}) == ["chart.version"]
    assert message in messages[0]


@pytest.mark.parametrize(
    "chart",
    [
        {"url": "oci://r.example.com/c/op:1.0.0", "version": "1.0.0"},
        {"url": "oci://r.example.com/c/op@" + DIGEST, "version": "1.0.0"},
        {"url": "oci://r.example.com/c/op", "version": "^1.2"},  # Helm matches constraints
    ],
)
def test_oci_versions_helm_can_pull(chart: dict[str, Any]) -> None:
    assert validate_chart(chart) == chart
