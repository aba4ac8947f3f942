"""Staged rollouts: cohorts on the poll, percentages that only grow, complete, abort, history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from deployserver import create_app
from deployserver.config import Config
from deployserver.extensions import state
from deployserver.feed.cohorts import in_cohort
from tests.operator_client import Seeder, basic, decode_spec

CHANNEL_URL = "/api/v1/operator/channel"
LICENSES = 40


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(license_cache_seconds=0)


@pytest.fixture
def seed(client: FlaskClient, admin_headers: dict[str, str]) -> Seeder:
    return Seeder(client, admin_headers)


@pytest.fixture
def staged(seed: Seeder) -> dict[str, Any]:
    """stable: head 1.0.0, candidate 1.1.0 at 30%, and licenses on stable."""
    seed.channel("stable", values={"global": {"region": "eu"}})
    head = seed.publish("stable", "1.0.0", {"app": {"tag": "1.0.0"}})
    candidate = seed.publish("stable", "1.1.0", {"app": {"tag": "1.1.0"}}, rollout={"percent": 30})
    licenses = [seed.license("stable") for _ in range(LICENSES)]
    return {"head": head, "candidate": candidate, "licenses": licenses}


def served_release(client: FlaskClient, token: str | None) -> str:
    headers = basic(token) if token is not None else {}
    response = client.get(CHANNEL_URL, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(decode_spec(response.data)["metadata"]["releaseId"])


def members(staged: dict[str, Any], percent: int) -> list[dict[str, Any]]:
    candidate = staged["candidate"]["id"]
    return [lic for lic in staged["licenses"] if in_cohort(lic["id"], candidate, percent)]


def post(client: FlaskClient, headers: dict[str, str], path: str, body: Any = None) -> Any:
    return client.post(f"/api/v1/channels/stable{path}", json=body, headers=headers)


def history(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/api/v1/channels/stable/history", headers=headers)
    return list(response.get_json()["items"])


def audit_actions(client: FlaskClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/audit?limit=500", headers=headers)
    return [item["action"] for item in response.get_json()["items"]]


def test_cohort_gets_candidate_others_and_anonymous_get_head(
    client: FlaskClient, staged: dict[str, Any]
) -> None:
    head, candidate = staged["head"]["id"], staged["candidate"]["id"]
    cohort = {lic["id"] for lic in members(staged, 30)}
    assert 0 < len(cohort) < LICENSES
    for lic in staged["licenses"]:
        expected = candidate if lic["id"] in cohort else head
        assert served_release(client, lic["token"]) == expected
        # Deterministic: the same answer on the next poll.
        assert served_release(client, lic["token"]) == expected
    for _ in range(5):
        assert served_release(client, None) == head


def test_channel_shows_rollout_and_history_and_audit_record_it(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    channel = client.get("/api/v1/channels/stable", headers=admin_headers).get_json()
    assert channel["head"]["id"] == staged["head"]["id"]
    assert channel["rollout"] == {
        "releaseId": staged["candidate"]["id"],
        "version": "1.1.0",
        "percent": 30,
    }
    listed = client.get("/api/v1/channels", headers=admin_headers).get_json()["items"]
    assert listed[0]["rollout"] == channel["rollout"]
    latest = history(client, admin_headers)[0]
    assert latest["action"] == "rollout-start"
    assert latest["releaseId"] == staged["candidate"]["id"]
    assert latest["previousReleaseId"] == staged["head"]["id"]
    assert latest["percent"] == 30
    assert "channel.rollout-start" in audit_actions(client, admin_headers)
    # A candidate is not a head yet: the channel's release list and channels show heads only.
    releases = client.get("/api/v1/channels/stable/releases", headers=admin_headers).get_json()
    assert [item["version"] for item in releases["items"]] == ["1.0.0"]
    assert staged["candidate"]["channels"] == []


def test_percent_may_only_grow_and_cohort_only_grows(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    at_30 = {lic["id"] for lic in members(staged, 30)}
    response = post(client, admin_headers, "/rollout", {"percent": 60})
    assert response.status_code == 200
    assert response.get_json()["rollout"]["percent"] == 60
    at_60 = {lic["id"] for lic in members(staged, 60)}
    assert at_30 <= at_60 and len(at_60) > len(at_30)
    candidate = staged["candidate"]["id"]
    for lic in staged["licenses"]:
        if lic["id"] in at_60:
            assert served_release(client, lic["token"]) == candidate
    for percent in (59, 30):
        shrink = post(client, admin_headers, "/rollout", {"percent": percent})
        assert shrink.status_code == 422
        assert shrink.get_json()["code"] == "ROLLOUT_PERCENT_DECREASE"
    for bad in (0, 100, "50", None):
        invalid = post(client, admin_headers, "/rollout", {"percent": bad})
        assert invalid.status_code == 422, bad
    events = len(history(client, admin_headers))
    same = post(client, admin_headers, "/rollout", {"percent": 60})
    assert same.status_code == 200
    assert len(history(client, admin_headers)) == events
    advance = history(client, admin_headers)[0]
    assert (advance["action"], advance["percent"]) == ("rollout-advance", 60)
    assert "channel.rollout-advance" in audit_actions(client, admin_headers)


def test_complete_makes_candidate_head_for_everyone(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    response = post(client, admin_headers, "/rollout/complete")
    assert response.status_code == 200
    body = response.get_json()
    candidate = staged["candidate"]["id"]
    assert body["head"]["id"] == candidate and body["rollout"] is None
    for lic in staged["licenses"]:
        assert served_release(client, lic["token"]) == candidate
    assert served_release(client, None) == candidate
    latest = history(client, admin_headers)[0]
    assert latest["action"] == "rollout-complete"
    assert latest["previousReleaseId"] == staged["head"]["id"]
    assert "channel.rollout-complete" in audit_actions(client, admin_headers)
    releases = client.get("/api/v1/channels/stable/releases", headers=admin_headers).get_json()
    assert [item["version"] for item in releases["items"]] == ["1.1.0", "1.0.0"]
    # A completed rollout is a head change: a plain rollback returns to the old head.
    back = post(client, admin_headers, "/rollback")
    assert back.get_json()["head"]["id"] == staged["head"]["id"]
    assert post(client, admin_headers, "/rollout/complete").get_json()["code"] == "NO_ROLLOUT"


def test_abort_returns_cohort_to_head(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    cohort = members(staged, 30)
    candidate = staged["candidate"]["id"]
    for lic in cohort:
        assert served_release(client, lic["token"]) == candidate
    response = post(client, admin_headers, "/rollout/abort")
    assert response.status_code == 200
    assert response.get_json()["rollout"] is None
    for lic in cohort:
        assert served_release(client, lic["token"]) == staged["head"]["id"]
    latest = history(client, admin_headers)[0]
    assert (latest["action"], latest["releaseId"], latest["percent"]) == (
        "rollout-abort",
        candidate,
        30,
    )
    assert "channel.rollout-abort" in audit_actions(client, admin_headers)
    # Never head: not a rollback target, and no longer pinnable (API.md: a pin is a release
    # that is or was head of the channel), not even by its former cohort.
    refused = post(client, admin_headers, "/rollback", {"releaseId": candidate})
    assert refused.get_json()["code"] == "NOT_IN_CHANNEL_HISTORY"
    for lic in (cohort[0], staged["licenses"][0]):
        pinned = client.get(f"{CHANNEL_URL}/release/{candidate}", headers=basic(lic["token"]))
        assert pinned.status_code == 404
        assert pinned.get_json()["code"] == "RELEASE_NOT_FOUND"
    assert client.get(f"{CHANNEL_URL}/release/{candidate}").status_code == 404
    # A plain rollback skips the rollout steps and finds nothing before 1.0.0.
    assert post(client, admin_headers, "/rollback").get_json()["code"] == "NOTHING_TO_ROLL_BACK"


def test_live_candidate_is_pinnable_by_its_cohort_only(
    client: FlaskClient, staged: dict[str, Any]
) -> None:
    candidate = staged["candidate"]["id"]
    url = f"{CHANNEL_URL}/release/{candidate}"
    cohort = members(staged, 30)
    outside = [lic for lic in staged["licenses"] if lic not in cohort]
    assert cohort and outside
    member = client.get(url, headers=basic(cohort[0]["token"]))
    assert member.status_code == 200
    assert member.data == client.get(CHANNEL_URL, headers=basic(cohort[0]["token"])).data
    for lic in outside[:3]:
        refused = client.get(url, headers=basic(lic["token"]))
        assert refused.status_code == 404 and refused.get_json()["code"] == "RELEASE_NOT_FOUND"
    assert client.get(url).status_code == 404  # anonymous polls never get a candidate


def test_body_bytes_are_the_same_whatever_the_percentage(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    member = members(staged, 30)[0]["token"]
    first = client.get(CHANNEL_URL, headers=basic(member))
    post(client, admin_headers, "/rollout", {"percent": 80})
    second = client.get(CHANNEL_URL, headers=basic(member))
    post(client, admin_headers, "/rollout/complete")
    third = client.get(CHANNEL_URL)
    pinned = client.get(f"{CHANNEL_URL}/release/{staged['candidate']['id']}", headers=basic(member))
    assert first.data == second.data == third.data == pinned.data
    assert first.headers["ETag"] == third.headers["ETag"]
    assert b"percent" not in first.data and b"rollout" not in first.data


def test_head_changes_wait_for_the_rollout(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder, staged: dict[str, Any]
) -> None:
    body = {
        "version": "1.2.0",
        "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb"},
        "values": {},
    }
    seed.channel("beta")
    other = seed.publish("beta", "2.0.0")
    for path, payload in (
        ("/releases", body),
        ("/releases", {**body, "rollout": {"percent": 10}}),
        ("/promote", {"releaseId": other["id"]}),
        ("/promote", {"releaseId": other["id"], "rollout": {"percent": 5}}),
    ):
        response = post(client, admin_headers, path, payload)
        assert response.status_code == 409, (path, response.get_json())
        assert response.get_json()["code"] == "ROLLOUT_IN_PROGRESS"
    # Promoting the head again, or the candidate at its percentage, changes nothing.
    same = post(client, admin_headers, "/promote", {"releaseId": staged["head"]["id"]})
    assert same.status_code == 200
    again = {"releaseId": staged["candidate"]["id"], "rollout": {"percent": 30}}
    assert post(client, admin_headers, "/promote", again).status_code == 200
    versions = client.get("/api/v1/channels/stable/releases", headers=admin_headers).get_json()
    assert [item["version"] for item in versions["items"]] == ["1.0.0"]


def test_rollback_waits_for_the_rollout(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    first = seed.publish("stable", "1.0.0")
    seed.publish("stable", "1.1.0")
    seed.publish("stable", "1.2.0", rollout={"percent": 10})
    for payload in (None, {"releaseId": first["id"]}):
        response = post(client, admin_headers, "/rollback", payload)
        assert response.status_code == 409
        assert response.get_json()["code"] == "ROLLOUT_IN_PROGRESS"
    post(client, admin_headers, "/rollout/abort")
    assert post(client, admin_headers, "/rollback").get_json()["head"]["id"] == first["id"]


def test_rollout_needs_a_head_and_valid_percent(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    body = {
        "version": "1.0.0",
        "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb"},
        "values": {},
    }
    empty = post(client, admin_headers, "/releases", {**body, "rollout": {"percent": 10}})
    assert empty.status_code == 409 and empty.get_json()["code"] == "ROLLOUT_NEEDS_HEAD"
    for bad in ({"percent": 0}, {"percent": 100}, {}, {"percent": 1.5}):
        response = post(client, admin_headers, "/releases", {**body, "rollout": bad})
        assert response.status_code == 422, bad
    channel = client.get("/api/v1/channels/stable", headers=admin_headers).get_json()
    assert channel["head"] is None and channel["rollout"] is None
    for path in ("/rollout/complete", "/rollout/abort"):
        assert post(client, admin_headers, path).get_json()["code"] == "NO_ROLLOUT"


def test_promote_with_rollout_stages_a_release_from_another_channel(
    client: FlaskClient, admin_headers: dict[str, str], seed: Seeder
) -> None:
    seed.channel("stable")
    seed.channel("beta")
    head = seed.publish("stable", "1.0.0")
    tried = seed.publish("beta", "1.1.0")
    response = post(
        client, admin_headers, "/promote", {"releaseId": tried["id"], "rollout": {"percent": 99}}
    )
    assert response.status_code == 200
    channel = client.get("/api/v1/channels/stable", headers=admin_headers).get_json()
    assert channel["head"]["id"] == head["id"]
    assert channel["rollout"]["releaseId"] == tried["id"]
    assert served_release(client, None) == head["id"]


def test_publisher_needs_the_channel_scope(
    client: FlaskClient,
    make_token: Callable[..., dict[str, str]],
    admin_headers: dict[str, str],
    staged: dict[str, Any],
) -> None:
    client.post("/api/v1/channels", json={"name": "beta"}, headers=admin_headers)
    other = make_token("publisher", ["beta"])
    viewer = make_token("viewer")
    for headers in (other, viewer):
        for path, payload in (
            ("/rollout", {"percent": 50}),
            ("/rollout/complete", None),
            ("/rollout/abort", None),
        ):
            assert post(client, headers, path, payload).status_code == 403
    mine = make_token("publisher", ["stable"])
    assert post(client, mine, "/rollout", {"percent": 50}).status_code == 200
    assert post(client, mine, "/rollout/abort").status_code == 200


def test_base_values_change_rebuilds_candidate_body(
    client: FlaskClient, admin_headers: dict[str, str], staged: dict[str, Any]
) -> None:
    member = members(staged, 30)[0]["token"]
    response = client.patch(
        "/api/v1/channels/stable",
        json={"values": {"global": {"region": "us"}}},
        headers=admin_headers,
    )
    assert response.status_code == 200
    spec = decode_spec(client.get(CHANNEL_URL, headers=basic(member)).data)
    assert spec["metadata"]["releaseId"] == staged["candidate"]["id"]
    assert spec["values"]["global"] == {"region": "us"}


def test_outage_keeps_every_cohort_on_what_it_had(
    client: FlaskClient, make_config: Callable[..., Config], staged: dict[str, Any]
) -> None:
    candidate, head = staged["candidate"]["id"], staged["head"]["id"]
    cohort = {lic["id"] for lic in members(staged, 30)}
    for lic in staged["licenses"]:
        served_release(client, lic["token"])  # stores head, candidate and trust snapshot
    down = create_app(make_config(database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        down_client = down.test_client()
        for lic in staged["licenses"][:10]:
            expected = candidate if lic["id"] in cohort else head
            assert served_release(down_client, lic["token"]) == expected
        assert served_release(down_client, None) == head
    finally:
        state(down).extras["installation_recorder"].stop()
        state(down).engine.dispose()


@pytest.fixture
def cached_app(make_config: Callable[..., Config]) -> Iterator[Flask]:
    app = create_app(make_config(license_cache_seconds=300))
    yield app
    state(app).engine.dispose()


def test_head_and_candidate_come_in_one_query_and_one_cache_entry(
    cached_app: Flask, admin_headers: dict[str, str]
) -> None:
    client = cached_app.test_client()
    seed = Seeder(client, admin_headers)
    seed.channel("stable")
    seed.publish("stable", "1.0.0")
    seed.publish("stable", "1.1.0", rollout={"percent": 50})
    tokens = [seed.license("stable")["token"] for _ in range(6)]
    for token in tokens[:1]:
        client.get(CHANNEL_URL, headers=basic(token))  # warms the license snapshot
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *args: object) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            queries.append(statement)

    state(cached_app).extras["spec_feed"].forget()
    event.listen(state(cached_app).engine, "before_cursor_execute", count)
    try:
        assert client.get(CHANNEL_URL).status_code == 200
        assert len(queries) == 1
        for token in tokens:
            assert client.get(CHANNEL_URL, headers=basic(token)).status_code == 200
        # Other licenses were verified (their own work), but no further spec query ran.
        assert sum("channel_releases" in q for q in queries) == 1
    finally:
        event.remove(state(cached_app).engine, "before_cursor_execute", count)
