"""GET /api/v1/releases/{id}/diff/{otherId}: changes over chart and values, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import CHART
from tests.test_errors import assert_problem

Headers = dict[str, str]
Factory = Callable[..., dict[str, Any]]

OLD_VALUES = {"app": {"replicas": 2, "image": {"tag": "1"}}, "hosts": ["a", "b"], "gone": True}
NEW_VALUES = {"app": {"replicas": "2", "image": {"tag": "2"}}, "hosts": ["a"], "added": {"x": 0}}


def diff(client: FlaskClient, headers: Headers, a: str, b: str) -> Any:
    return client.get(f"/api/v1/releases/{a}/diff/{b}", headers=headers)


def test_diff_lists_every_change_with_paths_in_order(
    client: FlaskClient,
    make_token: Callable[..., Headers],
    make_channel: Factory,
    publish: Factory,
) -> None:
    make_channel()
    old = publish("stable", "0.1.0", values=OLD_VALUES)
    new = publish(
        "stable", "0.2.0", values=NEW_VALUES, chart={**CHART, "version": "0.84.0", "debug": True}
    )
    viewer = make_token("viewer")
    response = diff(client, viewer, old["id"], new["id"])
    assert response.status_code == 200
    assert response.get_json() == {
        "changes": [
            {"path": "chart.debug", "op": "add", "to": True},
            {"path": "chart.version", "op": "change", "from": "0.83.1", "to": "0.84.0"},
            {"path": "values.added", "op": "add", "to": {"x": 0}},
            {"path": "values.app.image.tag", "op": "change", "from": "1", "to": "2"},
            {"path": "values.app.replicas", "op": "change", "from": 2, "to": "2"},
            {"path": "values.gone", "op": "remove", "from": True},
            {"path": "values.hosts[1]", "op": "remove", "from": "b"},
        ]
    }
    back = diff(client, viewer, new["id"], old["id"]).get_json()["changes"]
    assert [(c["path"], c["op"]) for c in back] == [
        ("chart.debug", "remove"),
        ("chart.version", "change"),
        ("values.added", "remove"),
        ("values.app.image.tag", "change"),
        ("values.app.replicas", "change"),
        ("values.gone", "add"),
        ("values.hosts[1]", "add"),
    ]
    # Deterministic: the same answer every time.
    assert diff(client, viewer, old["id"], new["id"]).get_json() == response.get_json()


def test_diff_is_over_the_releases_own_values_not_the_channel(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel(values={"base": 1})
    make_channel("beta", values={"base": 2})
    a = publish("stable", "0.1.0", values={"v": 1})
    b = publish("beta", "0.2.0", values={"v": 1})
    assert diff(client, admin_headers, a["id"], b["id"]).get_json() == {"changes": []}
    assert diff(client, admin_headers, a["id"], a["id"]).get_json() == {"changes": []}


def test_diff_refusals(
    client: FlaskClient, admin_headers: Headers, make_channel: Factory, publish: Factory
) -> None:
    make_channel()
    release = publish()
    unknown = "00000000-0000-0000-0000-000000000000"
    for a, b in [(release["id"], unknown), (unknown, release["id"]), ("x" * 100, release["id"])]:
        assert_problem(diff(client, admin_headers, a, b), 404, "RELEASE_NOT_FOUND")
    assert_problem(diff(client, {}, release["id"], release["id"]), 401, "TOKEN_REQUIRED")
