"""The admin UI as operators use it: sign in, every panel, live refresh, keyboard, accessibility, CSRF."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_CODE, DevStack, Watched

pytestmark = pytest.mark.controlplane  # `ai-implement dev` runs its own kube-apiserver and etcd

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "")) if os.environ.get("SCREENSHOT_DIR") else None


def sidebar_panels(ui: Watched) -> list[tuple[str, str]]:
    links = ui.page.get_by_role("navigation", name="Panels").get_by_role("link")
    found = []
    for index in range(links.count()):
        link = links.nth(index)
        href = link.get_attribute("href") or ""
        if href != "/admin/overview" or link.inner_text() != "AI-Implement":
            found.append((link.inner_text(), href))
    return [(title, href) for title, href in found if title != "AI-Implement"]


def test_signing_in_opens_the_overview_and_every_panel_loads_clean(ui: Watched) -> None:
    ui.sign_in()
    expect(ui.page).to_have_url(re.compile(r"/admin/overview$"))
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Overview")

    panels = sidebar_panels(ui)
    assert ("Overview", "/admin/overview") in panels
    for title, href in panels:
        response = ui.page.goto(href)
        assert response is not None
        assert response.status == 200, (href, response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        expect(ui.page.get_by_role("heading", level=1)).to_have_text(title)
        expect(ui.page.get_by_role("link", name=title, exact=True)).to_have_attribute("aria-current", "page")
    ui.assert_clean()


def test_a_wrong_code_is_said_beside_the_field_and_the_right_one_signs_in(ui: Watched) -> None:
    ui.page.goto("/admin")
    expect(ui.page).to_have_url(re.compile(r"/admin/sign-in"))
    ui.page.get_by_label("Access code").fill("not-the-code")
    ui.page.get_by_role("button", name="Sign in").click()

    expect(ui.page.get_by_role("alert")).to_have_text("That access code is not right.")
    expect(ui.page.get_by_label("Access code")).to_have_attribute("aria-invalid", "true")
    ui.page.get_by_label("Access code").fill(ADMIN_CODE)
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Overview")


def test_signing_out_ends_the_session(ui: Watched) -> None:
    ui.sign_in()
    ui.page.get_by_role("button", name="Sign out").click()

    expect(ui.page).to_have_url(re.compile(r"/admin/sign-in"))
    ui.page.goto("/admin/overview")
    expect(ui.page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/overview"))
    ui.assert_clean()


def test_a_session_cookie_is_http_only_strict_and_scoped_to_the_admin_ui(ui: Watched) -> None:
    ui.sign_in()
    [cookie] = [cookie for cookie in ui.page.context.cookies() if cookie["name"] == "ai_implement_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/admin")
    assert cookie["expires"] > 0, "a 24-hour cookie, not a browser-session one"


def test_a_cross_site_post_with_the_session_cookie_is_refused(ui: Watched, dev_stack: DevStack) -> None:
    ui.sign_in()
    cookie = next(c["value"] for c in ui.page.context.cookies() if c["name"] == "ai_implement_session")
    cookies = {"ai_implement_session": cookie}
    url = f"{dev_stack.base}/admin/sign-out"

    forged = httpx.post(url, cookies=cookies, headers={"Origin": "https://evil.example"}, data={"csrf": "x"})
    no_token = httpx.post(url, cookies=cookies, headers={"Origin": dev_stack.base}, data={})
    other_site = httpx.post(url, cookies=cookies, headers={"Sec-Fetch-Site": "cross-site"}, data={})

    assert (forged.status_code, no_token.status_code, other_site.status_code) == (403, 403, 403)
    ui.page.goto("/admin/overview")
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Overview"), "the session survived"


def test_the_overview_refreshes_itself_without_a_reload(ui: Watched) -> None:
    ui.sign_in()
    with ui.page.expect_response(
        lambda response: response.url.endswith("/admin/overview/live"), timeout=15_000
    ) as live:
        pass
    assert live.value.status == 200
    expect(ui.page.locator("#overview-live")).to_be_visible()
    ui.assert_clean()


def test_the_sidebar_and_the_skip_link_work_from_the_keyboard(ui: Watched) -> None:
    ui.sign_in()
    ui.page.keyboard.press("Tab")
    expect(ui.page.get_by_role("link", name="Skip to the content")).to_be_focused()
    ui.page.keyboard.press("Enter")
    expect(ui.page.locator("main")).to_be_focused()
    ui.page.goto("/admin/overview")
    ui.page.keyboard.press("Tab")
    ui.page.keyboard.press("Tab")
    ui.page.keyboard.press("Tab")
    expect(ui.page.get_by_role("link", name="Overview", exact=True)).to_be_focused()
    ui.page.keyboard.press("Enter")
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Overview")


def test_every_panel_passes_an_accessibility_scan(ui: Watched) -> None:
    ui.sign_in()
    serious = {}
    for title, href in [("Sign in", "/admin/sign-in?signed-out"), *sidebar_panels(ui)]:
        if href.startswith("/admin/sign-in"):
            continue
        ui.page.goto(href)
        ui.page.evaluate(AXE)  # DevTools evaluation: the page's CSP (rightly) forbids injected scripts
        result = ui.page.evaluate("async () => JSON.stringify(await axe.run(document))")
        violations = [v for v in json.loads(result)["violations"] if v["impact"] in ("serious", "critical")]
        if violations:
            serious[title] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    assert serious == {}


def test_screenshots_of_every_panel(ui: Watched, tmp_path: Path) -> None:
    """docs/ui.md's pictures: `make screenshots` runs this with SCREENSHOT_DIR=docs/images."""
    target = SCREENSHOTS or tmp_path
    target.mkdir(parents=True, exist_ok=True)
    ui.page.goto("/admin/sign-in")
    ui.page.screenshot(path=str(target / "sign-in.png"))
    ui.sign_in()
    for title, href in sidebar_panels(ui):
        ui.page.goto(href)
        ui.page.wait_for_load_state("networkidle")
        name = href.rsplit("/", 1)[-1] or "overview"
        ui.page.screenshot(path=str(target / f"{name}.png"), full_page=True)
        assert (target / f"{name}.png").stat().st_size > 10_000, title
