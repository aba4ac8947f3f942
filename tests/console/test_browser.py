"""The console in a real browser (Debian's chromium via Playwright) against a real gunicorn.

Every page is visited and photographed (screenshots land in ``test-artifacts/console/``,
ignored by git); every request a console page makes is recorded and must stay on the
server's origin. Head changes made by clicking are checked over REST.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.operator_client import basic, chart
from tests.servers import admin_token, cli_env, free_port, http, run_cli, running_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


class Site:
    """The running server, its seeded data and tokens of each kind."""

    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base = base
        self.env = env
        self.admin = admin_token(env)
        self.ids: dict[str, str] = {}

    def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        answer = http(method, self.base + path, self.admin, body)
        assert answer.status == status, (path, answer.body)
        return answer.json() if answer.body else None

    def token(self, role: str, *channels: str) -> str:
        scope = [arg for name in channels for arg in ("--channel", name)]
        name = f"{role}-{'-'.join(channels) or 'all'}"
        result = run_cli("tokens", "create", "--name", name, "--role", role, *scope, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def head(self, channel: str) -> str:
        return str(self.api("GET", f"/api/v1/channels/{channel}")["head"]["id"])

    def publish(self, channel: str, version: str, values: dict[str, Any], **extra: Any) -> str:
        body = {"version": version, "chart": chart(version), "values": values, **extra}
        release = self.api("POST", f"/api/v1/channels/{channel}/releases", body, 201)
        self.ids[version] = release["id"]
        return str(release["id"])

    def poll(self, subject: str, channel: str) -> None:
        """Issue a license and poll once with it, as an installation does."""
        body = {"subject": subject, "channel": channel}
        license = self.api("POST", "/api/v1/licenses", body, 201)
        poll = http("GET", self.base + "/api/v1/operator/channel", basic(license["token"]))
        assert poll.status == 200, poll.body

    def seed(self) -> None:
        for name, description in (
            ("stable", "Production releases"),
            ("beta", "Early adopters"),
            ("edge", "Nightly builds"),
        ):
            self.api("POST", "/api/v1/channels", {"name": name, "description": description}, 201)
        old = {"app": {"tag": "1.0.0", "replicas": 2}, "db": {"password": "hunter2"}}
        new = {"app": {"tag": "1.1.0", "replicas": {"min": 2, "max": 4}}, "db": {"password": "x9"}}
        self.publish("stable", "1.0.0", old, notes="First GA")
        # acme polls before 1.1.0 exists, so it stays on 1.0.0 in the adoption chart.
        self.poll("acme", "stable")
        self.publish("stable", "1.1.0", new, notes="Autoscaling replicas")
        self.api("POST", "/api/v1/channels/beta/promote", {"releaseId": self.ids["1.0.0"]})
        self.publish("edge", "1.2.0", {"app": {"tag": "1.2.0"}})
        self.publish("edge", "1.3.0", {"app": {"tag": "1.3.0"}}, rollout={"percent": 25})
        self.poll("globex", "stable")
        self.poll("initech", "edge")
        # Polls are recorded in batches (flushed every second here): wait for them.
        deadline = time.monotonic() + 30
        while self.api("GET", "/api/v1/channels/stable/adoption")["active"] < 2:
            assert time.monotonic() < deadline, "installations were not recorded"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    instance = tmp_path_factory.mktemp("console") / "instance"
    env = cli_env(
        instance,
        DEPLOYSERVER_INSTALLATION_FLUSH_SECONDS="1",
        DEPLOYSERVER_LICENSE_CACHE_SECONDS="0",
    )
    with running_server(env, workers=1) as base:
        site = Site(base, env)
        site.seed()
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Recorded:
    """A browser context whose every request is recorded."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.urls: list[str] = []
        self.htmx: list[str] = []
        self.errors: list[str] = []
        context.on("request", self._request)
        # A CSP violation (an inline script or style, another origin) is a console error.
        context.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page = context.new_page()

    def _request(self, request: Any) -> None:
        self.urls.append(request.url)
        if request.headers.get("hx-request") == "true":
            self.htmx.append(request.url)


@pytest.fixture
def recorded(browser: Browser, site: Site) -> Iterator[Recorded]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    recorded = Recorded(context)
    yield recorded
    context.close()
    foreign = [url for url in recorded.urls if not url.startswith(site.base + "/")]
    assert recorded.urls and not foreign, foreign
    # 403 pages are expected refusals; anything else in the console is a fault.
    faults = [text for text in recorded.errors if "403" not in text]
    assert not faults, faults


def sign_in(page: Page, site: Site, token: str) -> None:
    page.goto(site.base + "/console/")
    expect(page).to_have_url(site.base + "/console/signin?next=/console/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(site.base + "/console/")
    expect(page.get_by_role("heading", name="Channels")).to_be_visible()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def csrf_of(page: Page) -> str:
    value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value
    return value


def test_admin_signs_in_and_sees_every_page(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(3)
    edge = rows.filter(has_text="edge")
    expect(edge).to_contain_text("1.3.0")
    expect(edge).to_contain_text("25%")
    expect(rows.filter(has_text="stable")).to_contain_text("1.1.0")
    shoot(page, "01-channels")

    page.get_by_role("link", name="stable", exact=True).click()
    expect(page.get_by_role("heading", name="Channel stable")).to_be_visible()
    history = page.locator("#results table tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("publish")
    expect(history.first).to_contain_text("1.1.0")
    expect(history.first).to_contain_text("token:admin-")
    shoot(page, "02-channel")

    page.goto(f"{site.base}/console/releases/1.1.0")
    values = page.locator("section", has=page.get_by_role("heading", name="Values")).locator("pre")
    expect(values).to_contain_text("password: '***'")
    expect(page.locator("body")).not_to_contain_text("x9")
    expect(page.locator("body")).to_contain_text("Autoscaling replicas")
    shoot(page, "03-release")

    page.get_by_label("Compare with (id or version)").fill("1.0.0")
    page.get_by_role("button", name="Diff").click()
    changes = page.locator("table.changes tbody tr")
    expect(changes.filter(has_text="values.app.replicas")).to_have_count(1)
    expect(changes.filter(has_text="values.db.password")).to_contain_text('"***"')
    expect(page.locator("body")).not_to_contain_text("hunter2")
    shoot(page, "04-diff")

    page.goto(f"{site.base}/console/channels/stable/render")
    page.get_by_label("User input (YAML)").fill("app:\n  tag: custom\n")
    page.get_by_label("Custom resource values (YAML)").fill("global:\n  host: example.com\n")
    page.get_by_role("button", name="Render").click()
    spec = page.locator("#spec")
    expect(spec).to_contain_text("tag: custom")
    expect(spec).to_contain_text("host: example.com")
    expect(spec).to_contain_text("password: '***'")
    shoot(page, "05-render")

    page.goto(f"{site.base}/console/channels/stable/adoption")
    bars = page.locator("svg.bars rect.active")
    expect(bars).to_have_count(2)
    expect(page.locator("svg.bars")).to_contain_text("1.0.0")
    expect(page.locator("svg.bars")).to_contain_text("1 active")
    expect(page.locator("dl.facts")).to_contain_text("Active")
    shoot(page, "06-adoption")

    page.get_by_role("link", name="Licenses").click()
    expect(page.locator("#results tbody tr")).to_have_count(3)
    page.locator("summary", has_text="Issue a license").click()
    page.get_by_label("Subject (customer)").fill("umbrella")
    page.get_by_role("button", name="Issue", exact=True).click()
    expect(page.get_by_label("The license token")).to_have_value(
        re.compile(r"^ey[\w-]+\.[\w-]+\.[\w-]+$")
    )
    umbrella = page.locator("#results tbody tr", has_text="umbrella")
    umbrella.get_by_role("button", name="suspend license of umbrella").click()
    expect(page.locator("#results tbody tr", has_text="umbrella")).to_contain_text("suspended")
    page.get_by_label("Subject", exact=True).fill("umbrella")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"subject=umbrella"))
    shoot(page, "07-licenses")

    page.get_by_role("link", name="Installations").click()
    expect(page.locator("#results tbody tr")).to_have_count(3)
    shoot(page, "08-installations")

    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Action").fill("license.suspend")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results tbody tr")).to_contain_text("license.suspend")
    # The filter swapped the results in place (htmx), and the address bar followed it.
    assert any(
        "/console/audit?" in url and "action=license.suspend" in url for url in recorded.htmx
    )
    expect(page).to_have_url(re.compile(r"/console/audit\?.*action=license\.suspend"))
    shoot(page, "09-audit")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.base + "/console/channels/stable")
    shoot(page, "10-channel-narrow")
    page.goto(site.base + "/console/")
    shoot(page, "11-channels-narrow")


def test_promote_and_rollback_from_the_console(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    page.goto(site.base + "/console/channels/beta")
    page.get_by_label("Promote a release (id or version)").fill("1.1.0")
    page.get_by_role("button", name="Promote…").click()
    # Warnings come first, before the confirm button.
    warnings = page.locator(".warnings-box")
    expect(warnings).to_contain_text("KIND_CHANGED")
    expect(warnings).to_contain_text("values.app.replicas")
    confirm = page.get_by_role("button", name="Promote to 1.1.0")
    box, button = warnings.bounding_box(), confirm.bounding_box()
    assert box and button and box["y"] < button["y"]
    shoot(page, "12-confirm-promote")
    confirm.click()
    expect(page.get_by_role("status")).to_contain_text("Promoted")
    assert site.head("beta") == site.ids["1.1.0"]
    history = site.api("GET", "/api/v1/channels/beta/history")["items"]
    assert history[0]["action"] == "promote" and history[0]["actor"].startswith("token:admin-")

    page.get_by_role("button", name="Roll back to the previous head…").click()
    expect(page.get_by_role("heading", name="Roll back on beta?")).to_be_visible()
    page.get_by_role("button", name="Roll back to 1.0.0").click()
    expect(page.get_by_role("status")).to_contain_text("Rolled back")
    assert site.head("beta") == site.ids["1.0.0"]
    assert site.api("GET", "/api/v1/channels/beta/history")["items"][0]["action"] == "rollback"


def test_rollout_steps_from_the_console(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    page.goto(site.base + "/console/channels/edge")
    page.get_by_label("Serve the candidate to").fill("60")
    page.get_by_role("button", name="Set rollout…").click()
    expect(page.locator("dl.facts")).to_contain_text("60%")
    page.get_by_role("button", name="Set rollout").click()
    expect(page.get_by_role("status")).to_contain_text("Rollout percentage changed")
    assert site.api("GET", "/api/v1/channels/edge")["rollout"]["percent"] == 60
    page.get_by_role("button", name="Complete rollout…").click()
    page.get_by_role("button", name="Complete rollout").click()
    assert site.head("edge") == site.ids["1.3.0"]
    assert site.api("GET", "/api/v1/channels/edge")["rollout"] is None


def test_viewer_sees_no_actions_and_is_refused(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.token("viewer"))
    expect(page.get_by_role("link", name="Licenses")).to_have_count(0)
    page.goto(site.base + "/console/channels/stable")
    expect(page.get_by_role("heading", name="Channel stable")).to_be_visible()
    expect(page.get_by_role("button", name="Promote…")).to_have_count(0)
    expect(page.get_by_text("Roll back")).to_have_count(0)
    shoot(page, "13-viewer-channel")
    head = site.head("stable")
    answer = page.request.post(
        site.base + "/console/channels/stable/rollback",
        form={"csrf_token": csrf_of(page), "releaseId": site.ids["1.0.0"]},
    )
    assert answer.status == 403
    assert site.head("stable") == head
    assert page.goto(site.base + "/console/licenses").status == 403  # type: ignore[union-attr]


def test_scoped_publisher_sees_actions_only_on_its_channel(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.token("publisher", "beta"))
    page.goto(site.base + "/console/channels/stable")
    expect(page.get_by_role("button", name="Promote…")).to_have_count(0)
    page.goto(site.base + "/console/channels/beta")
    expect(page.get_by_role("button", name="Promote…")).to_be_visible()
    head = site.head("stable")
    answer = page.request.post(
        site.base + "/console/channels/stable/rollback",
        form={"csrf_token": csrf_of(page), "releaseId": site.ids["1.0.0"]},
    )
    assert answer.status == 403
    assert site.head("stable") == head


def test_forged_and_tokenless_forms_are_refused(
    recorded: Recorded, browser: Browser, site: Site
) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    head = site.head("stable")
    target = site.base + "/console/channels/stable/rollback"
    missing = page.request.post(target, form={"releaseId": site.ids["1.0.0"]})
    assert missing.status == 403
    wrong = page.request.post(target, form={"releaseId": site.ids["1.0.0"], "csrf_token": "f" * 64})
    assert wrong.status == 403
    assert site.head("stable") == head

    # A form on another site, submitted in the signed-in browser: the Strict cookie stays
    # home and the guessed token is wrong anyway.
    form = (
        f'<!doctype html><form method="post" action="{target}">'
        f'<input name="releaseId" value="{site.ids["1.0.0"]}">'
        '<input name="csrf_token" value="guess"><button>Win a prize</button></form>'
    ).encode()

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(form)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Attacker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        evil = recorded.context.new_page()
        evil.goto(f"http://localhost:{port}/")
        with evil.expect_navigation() as navigation:
            evil.get_by_role("button", name="Win a prize").click()
        assert navigation.value is not None and navigation.value.status == 403
        evil.close()
    finally:
        server.shutdown()
        server.server_close()
    assert site.head("stable") == head
    # The attacker's own page is the one request to another origin this test makes.
    recorded.urls = [url for url in recorded.urls if not url.startswith("http://localhost:")]


def test_sign_out_ends_the_session(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    csrf = csrf_of(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(site.base + "/console/signin")
    page.goto(site.base + "/console/audit")
    expect(page).to_have_url(site.base + "/console/signin?next=/console/audit")
    replay = page.request.post(site.base + "/console/signout", form={"csrf_token": csrf})
    assert replay.status == 403
    shoot(page, "00-signin")


def test_keyboard_only_sign_in_and_promote(recorded: Recorded, site: Site) -> None:
    page = recorded.page
    page.goto(site.base + "/console/")
    # The token field has focus on arrival; Enter submits.
    page.keyboard.type(site.admin["Authorization"].removeprefix("Bearer "))
    page.keyboard.press("Enter")
    expect(page).to_have_url(site.base + "/console/")
    # First Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="beta", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Channel beta")).to_be_visible()
    page.get_by_label("Promote a release (id or version)").focus()
    page.keyboard.type("1.1.0")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Promote on beta?")).to_be_visible()
    page.get_by_role("button", name="Promote to 1.1.0").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Promoted")
    assert site.head("beta") == site.ids["1.1.0"]


def test_pinning_a_license_from_its_page_changes_the_decision(
    recorded: Recorded, site: Site
) -> None:
    page = recorded.page
    sign_in(page, site, site.admin["Authorization"].removeprefix("Bearer "))
    page.get_by_role("link", name="Licenses").click()
    page.get_by_role("link", name="globex", exact=True).click()
    expect(page.get_by_role("heading", name="License of globex")).to_be_visible()
    reason = page.locator("#decision-reason")
    expect(reason).to_have_text("head")
    page.get_by_label("Release (version or id)").fill("1.0.0")
    page.get_by_label("Reason (optional)").fill("holds for the DB migration")
    page.get_by_role("button", name="Pin", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Pinned")
    expect(reason).to_have_text("pin")
    expect(page.locator(".decision")).to_contain_text("1.0.0")
    page.locator("fieldset.days").get_by_label("sat").check()
    page.locator("fieldset.days").get_by_label("sun").check()
    page.get_by_label("Time zone (IANA)").fill("Europe/Berlin")
    page.get_by_role("button", name="Save window").click()
    expect(page.get_by_role("status")).to_contain_text("Maintenance window saved")
    shoot(page, "14-license-policies")
    license_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    decision = site.api("GET", f"/api/v1/licenses/{license_id}/decision")
    assert decision["reason"] == "pin" and decision["releaseId"] == site.ids["1.0.0"]
    window = site.api("GET", f"/api/v1/licenses/{license_id}/policies")["window"]
    assert window["days"] == ["sat", "sun"] and window["timezone"] == "Europe/Berlin"
