"""The admin UI's actions clicked and typed as an operator would, each checked through the JSON API."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from controller.dev.seed import AI_LABEL, LINEAR_KEY
from tests.browser.conftest import ADMIN_CODE, DevStack, Watched

pytestmark = pytest.mark.controlplane  # `ai-implement dev` runs its own kube-apiserver and etcd


def api(dev_stack: DevStack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = httpx.post(f"{dev_stack.base}/api/auth", json={"code": ADMIN_CODE}, timeout=10).json()["token"]
    return httpx.request(
        method, f"{dev_stack.base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
    )


def next_step(ui: Watched, fields: dict[str, str], *, step: int) -> None:
    """Type each field, then press Enter in the last one: the keyboard alone moves the stepper on."""
    page = ui.page
    last = None
    for name, value in fields.items():
        control = page.locator(f"#f-{name}")
        if control.evaluate("element => element.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
        last = control
    if last is not None and last.evaluate("element => element.tagName") != "SELECT":
        last.press("Enter")
    else:
        page.locator("#stepper").get_by_role("button", name="Next").click()
    expect(page.locator("#stepper-title")).to_contain_text(f"step {step + 1} of 8")


def test_the_stepper_creates_a_linear_and_a_jira_project_without_a_reload(ui: Watched, dev_stack: DevStack) -> None:
    ui.sign_in()
    ui.page.goto("/admin/projects")
    ui.page.evaluate("window.notReloaded = true")
    for team in ("WEB", "FIN"):
        ui.page.get_by_role("link", name="+ New project").click()
        expect(ui.page.locator("#stepper-title")).to_contain_text("step 1 of 8")
        if team == "WEB":
            next_step(ui, {"teamKey": "WEB", "linearTeamKey": "ENG"}, step=1)
        else:
            pick_jira_settings(ui)
        next_step(ui, {"owner": "acme", "repo": team.lower(), "defaultBranch": "main"}, step=2)
        next_step(ui, {"executionMode": "local"}, step=3)
        next_step(ui, {"providerName": "anthropic"}, step=4)
        next_step(ui, {"maxInProgressAiIssues": "2"}, step=5)
        next_step(ui, {}, step=6)
        ui.page.get_by_role("button", name="Create project").click()
        expect(ui.page.locator("#stepper")).to_contain_text(f"Project {team} is created")
        expect(ui.page.locator(f"#project-{team}")).to_be_visible()
    assert ui.page.evaluate("window.notReloaded") is True, "the rows appeared without a reload"
    listed = {item["teamKey"]: item for item in api(dev_stack, "GET", "/api/mappings").json()["mappings"]}
    assert listed["WEB"]["spec"]["ticketing"] == {"provider": "linear", "linear": {"teamKey": "ENG"}}
    assert listed["FIN"]["spec"]["ticketing"]["jira"] == {
        "jql": "project = PAY",
        "repoField": "customfield_10042",
        "repoFieldValue": "ledger",
    }
    ui.assert_clean()


def pick_jira_settings(ui: Watched) -> None:
    """Choosing Jira asks for its settings; choosing the field lists its values, as Jira has them."""
    page = ui.page
    page.locator("#f-teamKey").fill("FIN")
    page.locator("#f-ticketingProvider").select_option("jira")
    expect(page.locator("#f-jql")).to_be_visible()
    expect(page.locator("#f-linearTeamKey")).to_have_count(0)
    page.locator("#f-jql").fill("project = PAY")
    page.locator("select#f-repoField").focus()
    page.locator("select#f-repoField").select_option(label="Repo (customfield_10042)")
    expect(page.locator("select#f-repoFieldValue")).to_be_visible()
    expect(page.locator("#f-repoField")).to_be_focused()  # the step is redrawn; a keyboard user stays put
    page.locator("#f-repoFieldValue").select_option("ledger")
    page.locator("#stepper").get_by_role("button", name="Next").click()
    expect(page.locator("#stepper-title")).to_contain_text("step 2 of 8")


def test_stepper_errors_appear_beside_their_fields(ui: Watched) -> None:
    ui.sign_in()
    ui.page.goto("/admin/projects/new")
    stepper = ui.page.locator("#stepper")
    ui.page.locator("#f-teamKey").fill("lower case")
    stepper.get_by_role("button", name="Next").click()
    expect(ui.page.locator("#f-teamKey")).to_have_attribute("aria-invalid", "true")
    expect(ui.page.locator("#e-teamKey")).to_be_visible()
    next_step(ui, {"teamKey": "OPSX", "linearTeamKey": "OPS"}, step=1)
    next_step(ui, {"owner": "acme", "repo": "opsx"}, step=2)
    next_step(ui, {"executionMode": "fly-machines"}, step=3)
    ui.page.locator("#f-providerName").select_option("bedrock")
    stepper.get_by_role("button", name="Next").click()
    expect(ui.page.locator("#e-awsRegion")).to_be_visible()
    expect(ui.page.locator("#f-awsRegion")).to_have_attribute("aria-invalid", "true")
    ui.assert_clean()


def test_a_secret_is_set_and_deleted_by_clicks_and_its_value_never_comes_back(ui: Watched, dev_stack: DevStack) -> None:
    ui.sign_in()
    ui.page.goto("/admin/secrets")
    section = ui.page.locator("#secrets-global")
    section.get_by_label("Name").fill("BROWSER_TOKEN")
    section.get_by_label("Value").fill("typed-in-the-browser")
    section.get_by_role("button", name="Set a global secret").click()
    expect(ui.page.locator("#secrets-global")).to_contain_text("BROWSER_TOKEN is stored.")
    assert "typed-in-the-browser" not in ui.page.content()
    names = [entry["name"] for entry in api(dev_stack, "GET", "/api/global-secrets").json()["secrets"]]
    assert "BROWSER_TOKEN" in names

    row = ui.page.locator("#secrets-global tr", has_text="BROWSER_TOKEN")
    row.get_by_text("Delete…").click()
    row.get_by_role("button", name="Delete BROWSER_TOKEN").click()
    expect(ui.page.locator("#secrets-global")).to_contain_text("BROWSER_TOKEN is deleted.")
    names = [entry["name"] for entry in api(dev_stack, "GET", "/api/global-secrets").json()["secrets"]]
    assert "BROWSER_TOKEN" not in names
    ui.assert_clean()


def test_the_runner_mode_is_flipped_from_the_reaper_panel(ui: Watched, dev_stack: DevStack) -> None:
    ui.sign_in()
    ui.page.goto("/admin/reaper")
    ui.page.get_by_label("Runner mode for every mapping").select_option("local")
    ui.page.get_by_role("button", name="Change the mode").click()
    expect(ui.page.locator("#runner-mode")).to_contain_text("In force: local")
    assert api(dev_stack, "GET", "/api/runner-mode").json()["mode"] == "local"
    ui.page.get_by_label("Runner mode for every mapping").select_option("default")
    ui.page.get_by_role("button", name="Change the mode").click()
    expect(ui.page.locator("#runner-mode")).to_contain_text("In force: default")
    ui.assert_clean()


def test_a_dedup_entry_is_removed_after_confirming(ui: Watched, dev_stack: DevStack) -> None:
    ui.sign_in()
    entries = api(dev_stack, "GET", "/api/dedup").json()["entries"]
    assert entries, "the dev story dispatched tickets, which entered the dedup window"
    identifier, issue_id = entries[0]["identifier"], entries[0]["issueId"]
    ui.page.goto("/admin/audit")
    ui.page.get_by_role("button", name=f"Remove {identifier} from the dedup window").click()
    ui.page.get_by_role("button", name=f"Remove {identifier}", exact=True).click()

    expect(ui.page.locator("#dedup-window")).to_contain_text(f"{identifier} left the dedup window")
    # The next poll may dispatch the ticket again at once (that is the point), so the removal is
    # checked in the audit trail rather than by the ticket's absence from the window.
    changes = api(dev_stack, "GET", "/api/audit").json()["changes"]
    assert any(change["action"] == "dedup.remove" and change["target"] == issue_id for change in changes), changes[:3]
    ui.assert_clean()


def test_a_session_is_destroyed_after_confirming_and_its_reset_is_followed(ui: Watched, dev_stack: DevStack) -> None:
    target = _a_live_session(dev_stack)
    ui.sign_in()
    ui.page.goto("/admin/sessions")
    ui.page.get_by_role("button", name=f"Destroy {target}", exact=True).first.click()
    expect(ui.page.locator("#session-action")).to_contain_text(f"Destroy session {target}?")
    ui.page.locator("#session-action").get_by_role("button", name=f"Destroy {target}").click()

    def reset_recorded() -> bool:
        rows = api(dev_stack, "GET", "/api/sessions").json()["sessions"]
        return all(row["machineId"] != target or row["resetPending"] for row in rows)

    expect(ui.page.locator("#session-action")).not_to_contain_text(f"Destroy session {target}?")
    assert reset_recorded(), "the destroy was recorded for the operator to carry out"
    ui.assert_clean()


def _a_live_session(dev_stack: DevStack) -> str:
    """A session with a Dispatch, once the census listed one: the dev story's OPS-1 works for two minutes."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = api(dev_stack, "GET", "/api/sessions").json()["sessions"]
        live = [row["machineId"] for row in rows if row["dispatch"] and not row["resetPending"]]
        if live:
            return str(live[0])
        time.sleep(1)
    pytest.fail("no live session with a Dispatch was listed within 90 s of the dev story")


HOSTILE_TITLE = "<img src=x onerror=alert(1)> Fix the <b>login</b>"
HOSTILE_DESCRIPTION = (
    "<script>alert(2)</script>\n\nSee [the docs](javascript:alert(3)) and <a href=javascript:alert(4)>here</a>."
)
HOSTILE_COMMENT = "<script>alert(5)</script> [click](javascript:alert(6))"


def test_hostile_ticket_text_renders_as_text_and_runs_nothing(ui: Watched, dev_stack: DevStack) -> None:
    """A ticket filed in the Linear sandbox, through its API as a person would, travels every panel."""
    identifier = _file_linear_ticket(dev_stack, HOSTILE_TITLE, HOSTILE_DESCRIPTION, HOSTILE_COMMENT)
    dialogs: list[str] = []
    ui.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ui.sign_in()

    ui.page.goto("/admin/issues")
    row = ui.page.locator("tr", has_text=identifier)
    for _ in range(60):  # the ticket's webhook (or the next poll) brings it in
        if row.count():
            break
        ui.page.wait_for_timeout(1000)
        ui.page.reload()
    expect(row.first).to_contain_text(HOSTILE_TITLE)  # the markup, shown as the characters it is

    for href in [href for _, href in _sidebar(ui)]:
        ui.page.goto(href)
        ui.page.wait_for_load_state("networkidle")
        assert ui.page.locator("img[src='x'], b:text('login')").count() == 0, f"markup from the ticket ran on {href}"
        assert ui.page.locator("a[href^='javascript:' i]").count() == 0, f"a javascript: link on {href}"
        scripts = ui.page.locator("script").evaluate_all("nodes => nodes.map(node => node.src || node.text)")
        assert all(not text or text.startswith(dev_stack.base) for text in scripts), (href, scripts)
    assert dialogs == []
    ui.assert_clean()


def _sidebar(ui: Watched) -> list[tuple[str, str]]:
    links = ui.page.get_by_role("navigation", name="Panels").get_by_role("link")
    return [(links.nth(i).inner_text(), links.nth(i).get_attribute("href") or "") for i in range(links.count())]


def _file_linear_ticket(dev_stack: DevStack, title: str, description: str, comment: str) -> str:
    """An AI-labelled ticket of team ENG with a comment, filed through the Linear sandbox's GraphQL API."""
    linear = re.search(r"Linear:\s+(http://\S+)", dev_stack.log.read_text())
    assert linear is not None, "the dev banner names the Linear sandbox"

    def graphql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = httpx.post(
            f"{linear[1]}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": LINEAR_KEY},
            timeout=30,
        ).json()
        assert "errors" not in answer, answer
        data: dict[str, Any] = answer["data"]
        return data

    found = graphql(
        '{ teams(filter: {key: {eq: "ENG"}}) { nodes { id } }'
        f' issueLabels(filter: {{name: {{eq: "{AI_LABEL}"}}}}) {{ nodes {{ id }} }} }}'
    )
    filed = graphql(
        "mutation File($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id identifier } } }",
        {
            "input": {
                "teamId": found["teams"]["nodes"][0]["id"],
                "title": title,
                "description": description,
                "labelIds": [found["issueLabels"]["nodes"][0]["id"]],
            }
        },
    )["issueCreate"]["issue"]
    graphql(
        "mutation Say($input: CommentCreateInput!) { commentCreate(input: $input) { success } }",
        {"input": {"issueId": filed["id"], "body": comment}},
    )
    return str(filed["identifier"])
