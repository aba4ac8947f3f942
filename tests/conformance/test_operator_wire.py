"""Conformance: a real ``deployserver serve`` (two gunicorn workers) read as the operator reads.

Each answer must decode into the operator's types (metadata string-to-string, values an
object), its chart must match one of the operator's three shapes, and every poll of an
unchanged channel must return the same bytes, whichever worker answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.operator_client import basic, classify_chart, decode_spec
from tests.servers import admin_token, cli_env, http, running_server

pytestmark = pytest.mark.slow

CHARTS = {
    "repo": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.83.1"},
    "oci": {"url": "oci://registry.example.com/charts/operator-wandb", "version": "0.83.1"},
    "local": {"path": "/charts/operator-wandb"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    env = cli_env(tmp_path_factory.mktemp("wire") / "instance")
    with running_server(env, workers=2) as base:
        admin = admin_token(env)
        releases = {}
        for index, (shape, chart) in enumerate(CHARTS.items()):
            channel = f"wire-{shape}"
            assert (
                http(
                    "POST",
                    f"{base}/api/v1/channels",
                    admin,
                    {"name": channel, "values": {"global": {"shape": shape}}},
                ).status
                == 201
            )
            published = http(
                "POST",
                f"{base}/api/v1/channels/{channel}/releases",
                admin,
                {
                    "version": f"1.{index}.0",
                    "chart": chart,
                    "values": {"app": {"replicas": 2, "ratio": 0.5}, "reconcileFrequency": "1h"},
                    "metadata": {"owner": "release-engineering"},
                },
            )
            assert published.status == 201, published.body
            releases[shape] = published.json()
        licenses = {
            shape: http(
                "POST",
                f"{base}/api/v1/licenses",
                admin,
                {"subject": f"customer-{shape}", "channel": f"wire-{shape}"},
            ).json()
            for shape in CHARTS
        }
        yield {"base": base, "releases": releases, "licenses": licenses}


@pytest.mark.parametrize("shape", sorted(CHARTS))
def test_latest_spec_reads_as_the_operator_reads(server: dict[str, Any], shape: str) -> None:
    headers = {"Content-Type": "application/json", **basic(server["licenses"][shape]["token"])}
    result = http("GET", server["base"] + "/api/v1/operator/channel", headers)
    assert result.status == 200, result.body
    spec = decode_spec(result.body)
    assert classify_chart(spec["chart"]) == shape
    assert spec["metadata"]["channel"] == f"wire-{shape}"
    assert spec["metadata"]["releaseId"] == server["releases"][shape]["id"]
    assert spec["values"]["global"] == {"shape": shape}


@pytest.mark.parametrize("shape", sorted(CHARTS))
def test_pinned_spec_reads_as_the_operator_reads(server: dict[str, Any], shape: str) -> None:
    release_id = server["releases"][shape]["id"]
    headers = basic(server["licenses"][shape]["token"])
    result = http("GET", f"{server['base']}/api/v1/operator/channel/release/{release_id}", headers)
    assert result.status == 200, result.body
    assert classify_chart(decode_spec(result.body)["chart"]) == shape


def test_same_bytes_on_every_poll_and_worker(server: dict[str, Any]) -> None:
    headers = basic(server["licenses"]["repo"]["token"])
    answers = {
        http("GET", server["base"] + "/api/v1/operator/channel", headers).body for _ in range(30)
    }
    assert len(answers) == 1


def test_refusals_are_not_200(server: dict[str, Any]) -> None:
    # The operator treats anything but 200 as a failure to retry; refusals must not be 200.
    result = http("GET", server["base"] + "/api/v1/operator/channel", basic("forged"))
    assert result.status == 401
    assert result.headers["WWW-Authenticate"] == 'Basic realm="deployserver"'
    assert result.json()["code"] == "LICENSE_INVALID"


def test_anonymous_without_default_channel_is_404(server: dict[str, Any]) -> None:
    result = http("GET", server["base"] + "/api/v1/operator/channel")
    assert result.status == 404
    assert result.json()["code"] == "CHANNEL_NOT_FOUND"


def test_classifier_follows_the_operator_rules() -> None:
    # The reader above must itself refuse what the operator refuses.
    assert classify_chart({"url": "oci://r.example.com/c"}) is None
    assert classify_chart({"url": "oci://r.example.com/c:1.0"}) == "oci"
    assert classify_chart({"url": "ftp://x", "name": "n"}) is None
