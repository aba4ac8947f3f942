"""Read our answers the way the W&B operator does (docs/operator.md), and seed through REST.

The operator decodes ``{"metadata": map[string]string, "values": map[string]any,
"chart": any}`` and classifies the chart with three shapes, first match wins. These helpers
fail where the operator would fail.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlparse

from flask.testing import FlaskClient


def decode_spec(body: bytes) -> dict[str, Any]:
    """Decode like the operator's struct; raise AssertionError where Go's decoder would fail."""
    spec = json.loads(body)
    assert isinstance(spec, dict), "spec is not an object"
    assert set(spec) == {"chart", "metadata", "values"}, f"top-level keys {sorted(spec)}"
    metadata = spec["metadata"]
    assert isinstance(metadata, dict), "metadata is not an object"
    for key, value in metadata.items():
        assert isinstance(value, str), f"metadata[{key!r}] is {type(value).__name__}"
    assert isinstance(spec["values"], dict), "values is not an object"
    return spec


def classify_chart(chart: Any) -> str | None:
    """The operator's chart matching: local, then OCI, then repo; None means invalid config."""
    if not isinstance(chart, dict):
        return None
    if chart.get("path"):
        return "local"
    url = chart.get("url") or ""
    if isinstance(url, str) and url.startswith("oci://"):
        reference = url.removeprefix("oci://")
        has_tag = ":" in reference.rsplit("/", 1)[-1]
        return "oci" if chart.get("version") or has_tag else None
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed and parsed.scheme in {"http", "https"} and parsed.netloc and chart.get("name"):
        return "repo"
    return None


def basic(license_token: str, user: str = "license") -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{license_token}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def chart(version: str = "0.83.1") -> dict[str, str]:
    return {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": version}


class Seeder:
    """Create channels, releases and licenses through the REST API, as an admin would."""

    def __init__(self, client: FlaskClient, admin: dict[str, str]) -> None:
        self.client = client
        self.admin = admin

    def _post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        response = self.client.post(path, json=body, headers=self.admin)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def channel(self, name: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._post("/api/v1/channels", {"name": name, "values": values or {}})

    def publish(
        self, channel: str, version: str, values: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        body = {"version": version, "chart": chart(version), "values": values or {}, **extra}
        return self._post(f"/api/v1/channels/{channel}/releases", body)

    def promote(self, channel: str, release_id: str) -> dict[str, Any]:
        return self._post(f"/api/v1/channels/{channel}/promote", {"releaseId": release_id}, 200)

    def license(self, channel: str, **extra: Any) -> dict[str, Any]:
        return self._post("/api/v1/licenses", {"subject": "acme", "channel": channel, **extra})

    def license_action(self, license_id: str, action: str) -> None:
        self._post(f"/api/v1/licenses/{license_id}/{action}", {}, 200)
