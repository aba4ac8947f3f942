"""A custom resource's chart as the operator's charts.Get reads it (looser than publishing)."""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.specs.gourl import parses_with_host, request_uri_host_is
from deployserver.specs.operator_chart import read_chart_as_operator

DIGEST = "sha256:" + "0123456789abcdef" * 4
SECRET = {"name": "s", "usernameKey": "u", "passwordKey": "p"}

READ = [
    ({"path": "/charts/op"}, ("local", {"path": "/charts/op"})),
    # the local struct has nothing but path: debug is unknown to it, whatever its type
    ({"PATH": "/charts/op", "debug": "yes"}, ("local", {"path": "/charts/op"})),
    # an empty path fails local; path is unknown to the repo struct
    (
        {"Path": "", "url": "https://c.example", "name": "op"},
        ("repo", {"url": "https://c.example", "name": "op"}),
    ),
    # a path of the wrong type fails local only
    (
        {"path": 3, "url": "https://c.example", "name": "op"},
        ("repo", {"url": "https://c.example", "name": "op"}),
    ),
    # any scheme for a repo chart, field names in any case, unknown fields dropped
    (
        {"url": "s3://bucket/charts", "name": "op"},
        ("repo", {"url": "s3://bucket/charts", "name": "op"}),
    ),
    (
        {"URL": "https://c.example", "NaMe": "op", "Extra": 1, "plainHTTP": True},
        ("repo", {"url": "https://c.example", "name": "op"}),
    ),
    ({"url": "mailto:charts", "name": "op"}, ("repo", {"url": "mailto:charts", "name": "op"})),
    (
        {"url": "https://c.example", "name": " "},
        ("repo", {"url": "https://c.example", "name": " "}),
    ),
    # null leaves a field unset
    (
        {"url": "https://c.example", "name": "op", "version": None},
        ("repo", {"url": "https://c.example", "name": "op"}),
    ),
    # with a version the operator does not parse the URL at all
    (
        {"url": "oci://R.example/Charts/Op", "version": "1.0.0"},
        ("oci", {"url": "oci://R.example/Charts/Op", "version": "1.0.0"}),
    ),
    ({"url": "oci://r.example/c/op:1.0"}, ("oci", {"url": "oci://r.example/c/op:1.0"})),
    # a tag before a digest is dropped unread by oras-go; sha512 digests verify too
    (
        {"url": f"oci://r.example/c/op:not a tag@{DIGEST}"},
        ("oci", {"url": f"oci://r.example/c/op:not a tag@{DIGEST}"}),
    ),
    (
        {"url": "oci://r.example/c/op@sha512:" + "ab" * 64},
        ("oci", {"url": "oci://r.example/c/op@sha512:" + "ab" * 64}),
    ),
    # Go folds DOTLESS I to I and KELVIN SIGN to K when matching field names
    (
        {"url": "oci://r.example/c/op:1", "pla\u0131nHTTP": True},
        ("oci", {"url": "oci://r.example/c/op:1", "plainHTTP": True}),
    ),
    (
        {
            "url": "https://c.example",
            "name": "op",
            "credentialSecret": {"NAME": "s", "username\u212aey": "u", "passwordKey": "p", "x": 1},
        },
        ("repo", {"url": "https://c.example", "name": "op", "credentialSecret": SECRET}),
    ),
    # two keys for one field: the operator re-encodes the map (sorted keys), the last wins
    (
        {"url": "https://a.example", "URL": "https://b.example", "name": "op"},
        ("repo", {"url": "https://a.example", "name": "op"}),
    ),
]


@pytest.mark.parametrize(("chart", "read"), READ)
def test_charts_the_operator_reads(chart: dict[str, Any], read: tuple[str, Any]) -> None:
    assert read_chart_as_operator(chart) == read


DROPPED = [
    {},
    {"path": ""},
    {"name": "op", "version": "1"},
    {"url": "oci://r.example/Charts/op"},  # no version: the reference must parse, and does not
    {"url": "oci://r.example/c/op:v1+build"},
    {"url": "oci://r.example/c/op@sha256:abc"},
    {"url": "oci://r.example/c/op:1.0:2.0"},
    {"url": "oci://r.example/c/op:-1"},
    {"url": "oci://r.example//op:1"},
    {"url": "oci://r.example/c/op"},
    {"url": "oci://r.example/c/op:"},
    {"url": "oci://r.example/c/op:1", "plainHTTP": "yes"},  # a type error fails OCI; not repo
    {"url": "oci://r.example/c/op", "name": "op"},  # an oci:// URL is never a repo chart
    {"url": "https://c.example", "name": "op", "debug": "yes"},
    {"url": "https://c.example", "name": 5},
    {"url": "https://c.example", "name": ""},
    {"url": "https://c.example", "name": "op", "credentialSecret": "s"},
    {"url": "https://", "name": "op"},
    {"url": "charts.example", "name": "op"},
    {"url": "https://a b.example", "name": "op"},
    {"url": "https://c.example:port", "name": "op"},
    {"url": "file:///", "name": "op"},
]


@pytest.mark.parametrize("chart", DROPPED)
def test_charts_the_operator_drops(chart: dict[str, Any]) -> None:
    assert read_chart_as_operator(chart) is None


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://charts.example", True),
        ("HTTPS://Charts.Example/x", True),
        ("ftp://charts.example", True),
        ("file:///charts", True),
        ("x:#fragment", True),
        ("https://user:pw@charts.example/", True),
        ("https://[::1]:8080/charts", True),
        ("https://charts.example/a b", True),  # Go leaves spaces in a path alone
        ("https://", False),
        ("charts.example", False),
        ("1http://charts.example", False),
        ("https://charts.example/%zz", False),
        ("https://charts.%41xample", False),
        ("https://[not-v6]/", False),
        ("https://us{er@charts.example/", False),
        ("https://charts.example/\x7f", False),
        ("file:charts", False),
    ],
)
def test_go_url_rule(url: str, valid: bool) -> None:
    assert parses_with_host(url) is valid


@pytest.mark.parametrize(
    ("registry", "valid"),
    [
        ("registry.example.com", True),
        ("registry.example.com:5000", True),
        ("Registry.Example.com", True),
        ("[::1]:5000", True),
        ("", False),
        ("user@registry.example.com", False),
        ("registry.example.com?x", False),
        ("registry.example.com:port", False),
        ("regi stry", False),
    ],
)
def test_registry_as_oras_checks_it(registry: str, valid: bool) -> None:
    assert request_uri_host_is(registry) is valid
