"""The Sessions, Reaper, Audit log, Pipelines & steps and Customizations panels of the admin UI, through the app.

Each panel is seeded the way the operator fills the store (or the way an installation fills
CUSTOM_DIR), read as a browser would, and each action's effect is checked through the JSON API,
which reads the same service functions.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from controller.store import ObservedSession, Store
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.ui import UiSession, sign_in

FLY = {"FLY_SESSIONS_TOKEN": "fly-token", "FLY_SESSIONS_APP": "acme-sessions"}
STEP = "async def run(context):\n    return None\n"
HOSTILE = "<script>alert(1)</script>"


def compact(page: str) -> str:
    """The page without the whitespace between tags, to read a table row as one string."""
    return re.sub(r">\s+<", "><", page)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def api_json(api: Api, path: str) -> Any:
    response = await api.client.get(path, headers=await api.login())
    assert response.status == 200, await response.text()
    return await response.json()


async def a_live_session(store: Store, clock: FakeClock, machine_id: str = "m-1") -> None:
    """What the operator's census writes for a Fly machine running ENG-7."""
    session = ObservedSession(
        backend="fly-machines",
        resource_id=machine_id,
        name=f"ai-implement-{machine_id}",
        state="started",
        backend_state="started",
        created_at=clock.now - timedelta(minutes=12),
        region="ams",
        dispatch_name="eng-7-implementation-1",
        issue_identifier="ENG-7",
        issue_url="javascript:alert(1)",
        team_key="ENG",
        repo="acme/eng",
    )
    await store.replace_live_sessions("fly-machines", [session], observed_at=clock.now)


async def post_form(ui: UiSession, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> str:
    response = await ui.api.client.post(path, data=data, headers=headers or ui.headers(), allow_redirects=False)
    text = await response.text()
    assert response.status == 200, (path, response.status, text[:500])
    return text


# Sessions


async def test_the_sessions_panel_lists_the_census_and_says_when_a_backend_fails(api: Api, clock: FakeClock) -> None:
    store = api.context.store
    await a_live_session(store, clock)
    await store.record_census_failure("github-actions", clock.now, f"github: 502 listing runs {HOSTILE}")
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/sessions"))

    assert "<h1>Sessions</h1>" in page
    assert 'hx-get="/admin/sessions/live" hx-trigger="every 5s"' in page
    assert "<code>m-1</code>" in page
    assert '<span class="badge badge-ok">started</span>' in page
    assert "ENG-7" in page
    assert "acme/eng" in page
    assert "eng-7-implementation-1" in page
    assert 'href="javascript:' not in page, "a URL that is not a web page stays text"
    assert "12 min ago</time>" in page, "the age as relative words, the exact time on hover"
    assert "12 min 00 s" in page, "the uptime"
    assert '<span class="error" role="alert">github: 502 listing runs &lt;script&gt;' in page
    assert "<script>alert" not in page
    assert 'hx-get="/admin/sessions/destroy?machine=m-1&amp;backend=fly-machines"' in page
    live = await ui.page("/admin/sessions/live")
    assert live.lstrip().startswith('<div id="sessions-live"'), "the live part alone, for htmx to swap"


async def many_live_sessions(store: Store, clock: FakeClock, count: int) -> list[str]:
    """`count` Fly machines, the oldest first; their ids in the listing's order."""
    sessions = [
        ObservedSession(
            backend="fly-machines",
            resource_id=f"m-{n:03}",
            name=f"ai-implement-m-{n:03}",
            state="started",
            backend_state="started",
            created_at=clock.now - timedelta(minutes=count - n),
        )
        for n in range(count)
    ]
    await store.replace_live_sessions("fly-machines", sessions, observed_at=clock.now)
    return [session.resource_id for session in sessions]


async def test_the_sessions_api_pages_the_live_sessions_and_refuses_foreign_cursors(api: Api, clock: FakeClock) -> None:
    ids = await many_live_sessions(api.context.store, clock, 5)

    first = await api_json(api, "/api/sessions?limit=2")
    second = await api_json(api, f"/api/sessions?limit=2&cursor={first['nextCursor']}")
    last = await api_json(api, f"/api/sessions?limit=2&cursor={second['nextCursor']}")
    back = await api_json(api, f"/api/sessions?limit=2&cursor={last['previousCursor']}")

    assert [row["machineId"] for row in first["sessions"] + second["sessions"] + last["sessions"]] == ids
    assert (first["total"], first["previousCursor"], last["nextCursor"]) == (5, None, None)
    assert back["sessions"] == second["sessions"]
    assert [row["machineId"] for row in (await api_json(api, "/api/sessions"))["sessions"]] == ids
    headers = await api.login()
    for cursor in ("not-a-cursor", first["nextCursor"][:-4], "WyJhIiwiYiIsImMiLCJkIl0"):
        response = await api.client.get(f"/api/sessions?cursor={cursor}", headers=headers)
        assert response.status == 422, cursor
        assert (await response.json())["error"]["code"] == "invalid_cursor"


async def test_the_sessions_panel_pages_and_its_refresh_keeps_the_page(api: Api, clock: FakeClock) -> None:
    ids = await many_live_sessions(api.context.store, clock, 120)
    ui = await sign_in(api)

    first = compact(await ui.page("/admin/sessions"))
    assert f"<code>{ids[99]}</code>" in first
    assert f"<code>{ids[100]}</code>" not in first
    assert "100 of 120 sessions" in first
    link = re.search(r'href="/admin/sessions\?cursor=([^"]+)" rel="next"', first)
    assert link is not None, "a Next link"
    second = compact(await ui.page(f"/admin/sessions?cursor={link[1]}"))
    assert f"<code>{ids[100]}</code>" in second
    assert f"<code>{ids[99]}</code>" not in second
    assert f'hx-get="/admin/sessions/live?cursor={link[1]}"' in second, "the refresh asks for the same page"
    refreshed = compact(await ui.page(f"/admin/sessions/live?cursor={link[1]}"))
    assert f"<code>{ids[119]}</code>" in refreshed
    assert f"<code>{ids[0]}</code>" not in refreshed
    mangled = compact(await ui.page("/admin/sessions?cursor=not-ours"))
    assert "That page link is not one this panel made" in mangled
    assert f"<code>{ids[0]}</code>" in mangled


async def test_the_sessions_panel_says_what_to_expect_when_nothing_runs(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/sessions")

    assert "No live runner session" in page
    assert "No backend has been listed yet" in page


async def test_destroying_a_session_asks_first_then_records_a_reset_and_follows_it(api: Api, clock: FakeClock) -> None:
    store = api.context.store
    await a_live_session(store, clock)
    ui = await sign_in(api)

    question = await ui.page("/admin/sessions/destroy?machine=m-1&backend=fly-machines")
    assert await store.pending_session_resets() == [], "asking destroys nothing"
    assert "Destroy session m-1?" in question
    assert "ENG-7" in question
    assert 'hx-post="/admin/sessions/destroy"' in question

    progress = await post_form(ui, "/admin/sessions/destroy", {"machine": "m-1", "backend": "fly-machines"})

    [reset] = await store.pending_session_resets()
    assert (reset.resource_id, reset.backend) == ("m-1", "fly-machines")
    assert reset.requested_by.startswith("admin-ui@")
    assert f'hx-get="/admin/sessions/resets/{reset.id}" hx-trigger="every 2s"' in progress
    assert '<span class="badge badge-warning">pending</span>' in progress
    listed = await api_json(api, "/api/sessions")
    assert listed["sessions"][0]["resetPending"] is True
    [audit] = [entry for entry in await store.recent_audit(10) if entry.action == "session.destroy"]
    assert (audit.target, audit.actor, audit.details) == (
        "m-1",
        reset.requested_by,
        {"backend": "fly-machines", "request": reset.id},
    )

    await store.finish_session_reset(
        reset.id,
        state="reset",
        message="destroyed fly-machines m-1; ENG-7 lost its in-progress marker and left the dedup window",
        details={"destroyed": True, "ticket": "ENG-7", "markerRemoved": True, "dedupCleared": True},
        now=clock.now,
    )
    done = compact(await ui.page(f"/admin/sessions/resets/{reset.id}"))

    assert "hx-trigger" not in done, "a finished request is not re-read"
    assert '<span class="badge badge-ok">reset</span>' in done
    assert "ENG-7 lost its in-progress marker" in done
    assert "<dt>In-progress marker removed</dt><dd>yes</dd>" in done
    assert (await api_json(api, f"/api/sessions/resets/{reset.id}"))["state"] == "reset"


async def test_a_refused_destroy_is_said_in_the_panel_and_a_forged_one_is_403(api: Api, clock: FakeClock) -> None:
    await a_live_session(api.context.store, clock)
    ui = await sign_in(api)

    unknown = await post_form(ui, "/admin/sessions/destroy", {"machine": "m-404", "backend": "fly-machines"})
    forged = await api.client.post(
        "/admin/sessions/destroy", data={"machine": "m-1", "backend": "fly-machines"}, headers={"Origin": ui.origin}
    )
    missing = await ui.page("/admin/sessions/resets/999999")

    assert 'class="error" role="alert">no live runner session has the id &#39;m-404&#39;' in unknown
    assert forged.status == 403
    assert await api.context.store.pending_session_resets() == [], "neither reached the store"
    assert 'role="alert">there is no destroy-and-reset request 999999' in missing
    assert "hx-trigger" not in missing


# Reaper and the runner mode


async def test_the_reaper_panel_shows_the_summary_and_each_action_with_its_rule_and_reason(
    api: Api, clock: FakeClock
) -> None:
    store = api.context.store
    await store.record_reaper_action(
        at=clock.now - timedelta(minutes=5),
        rule="orphan",
        backend="fly",
        resource_id="m-orphan",
        age_seconds=3720,
        dry_run=False,
        outcome="destroyed",
        tenant="acme",
        issue_identifier="ENG-3",
        message=f"no RunnerSession or Dispatch owns it {HOSTILE}",
    )
    await store.record_reaper_action(
        at=clock.now - timedelta(minutes=4),
        rule="max-age-exceeded",
        backend="local",
        resource_id="c-old",
        age_seconds=9000,
        dry_run=True,
        outcome="dry-run",
    )
    await store.record_reaper_sweep(
        started_at=clock.now - timedelta(minutes=3), finished_at=clock.now - timedelta(minutes=2), dry_run=False
    )
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/reaper"))

    assert "<h1>Reaper</h1>" in page
    assert "<tr><td>orphan</td><td>1</td><td>0</td></tr>" in page
    assert "<tr><td>max-age-exceeded</td><td>0</td><td>1</td></tr>" in page
    assert "2 min ago" in page, "the last sweep"
    assert "<code>m-orphan</code>" in page
    assert "ENG-3" in page
    assert "acme" in page
    assert "1 h 02 min" in page, "the age at destruction"
    assert '<span class="badge badge-ok">destroyed</span>' in page
    assert '<span class="badge badge-warning">dry-run</span>' in page
    assert "no RunnerSession or Dispatch owns it &lt;script&gt;" in page
    assert "<script>alert" not in page


async def test_the_reaper_panel_says_when_the_reaper_has_not_acted(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/reaper")

    assert "The reaper has not acted yet" in page
    assert "never" in page, "no sweep yet"


async def test_flipping_the_runner_mode_changes_it_for_the_api_and_is_audited(start_api: ApiFactory) -> None:
    api = await start_api(env=FLY)
    ui = await sign_in(api)
    page = await ui.page("/admin/reaper")
    assert '<select id="runner-mode-select" name="mode">' in page
    assert "env-var lock" not in page

    toggle = await post_form(ui, "/admin/reaper/runner-mode", {"mode": "fly"})

    assert toggle.lstrip().startswith('<section id="runner-mode"'), "the toggle alone, for htmx to swap"
    assert '<p role="status">runner mode is now fly</p>' in toggle
    assert '<option value="fly" selected>' in toggle
    view = await api_json(api, "/api/runner-mode")
    assert (view["mode"], view["source"]) == ("fly", "database")
    assert view["storedBy"].startswith("admin-ui@")
    [audit] = [entry for entry in await api.context.store.recent_audit(10) if entry.action == "runner-mode.set"]
    assert (audit.actor, audit.details) == (view["storedBy"], {"mode": "fly"})


async def test_a_plain_form_post_answers_the_whole_page(start_api: ApiFactory) -> None:
    api = await start_api(env=FLY)
    ui = await sign_in(api)

    page = await post_form(
        ui, "/admin/reaper/runner-mode", {"mode": "shadow", "csrf": ui.csrf}, headers={"Origin": ui.origin}
    )

    assert "<h1>Reaper</h1>" in page
    assert "runner mode is now shadow" in page
    assert (await api_json(api, "/api/runner-mode"))["mode"] == "shadow"


async def test_a_mode_this_controller_cannot_run_is_refused_beside_the_field(api: Api) -> None:
    ui = await sign_in(api)

    toggle = await post_form(ui, "/admin/reaper/runner-mode", {"mode": "shadow"})
    nonsense = await post_form(ui, "/admin/reaper/runner-mode", {"mode": "kubernetes"})

    assert 'aria-invalid="true" aria-describedby="runner-mode-problem"' in toggle
    assert 'id="runner-mode-problem" class="error" role="alert">runner mode shadow needs FLY_SESSIONS_TOKEN' in toggle
    assert 'aria-invalid="true"' in nonsense
    assert "mode: Input should be" in nonsense
    view = await api_json(api, "/api/runner-mode")
    assert (view["mode"], view["storedMode"]) == ("default", None)


async def test_runner_mode_locked_by_the_environment_disables_the_toggle_and_refuses_a_change(
    start_api: ApiFactory,
) -> None:
    api = await start_api(env={"RUNNER_MODE": "gha", **FLY})
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/reaper"))
    refused = await post_form(ui, "/admin/reaper/runner-mode", {"mode": "fly"})

    assert "env-var lock" in page
    assert "env override wins" in page
    assert "In force: <strong>gha</strong>" in page
    assert "set by RUNNER_MODE in the environment" in page
    assert '<select id="runner-mode-select" name="mode" disabled aria-describedby="runner-mode-lock">' in page
    assert '<button type="submit" disabled>' in page
    assert 'aria-describedby="runner-mode-lock runner-mode-problem"' in refused
    assert 'class="error" role="alert">RUNNER_MODE=gha is set in the environment, and the env override wins' in refused
    view = await api_json(api, "/api/runner-mode")
    assert (view["mode"], view["envLocked"], view["storedMode"]) == ("gha", True, None), "nothing was stored"
    assert [e for e in await api.context.store.recent_audit(10) if e.action == "runner-mode.set"] == []


# Audit log: the dedup window


async def test_the_audit_log_lists_the_dedup_window_and_removes_an_entry_after_asking(
    api: Api, clock: FakeClock
) -> None:
    store = api.context.store
    await store.record_dedup(
        "id-1", identifier="ENG-1", title=HOSTILE, team_key="ENG", provider="linear", now=clock.now
    )
    await store.record_dedup(
        "id-2",
        identifier="ENG-2",
        title="Keep me",
        team_key="ENG",
        provider="linear",
        now=clock.now - timedelta(hours=1),
    )
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/audit"))
    assert "<h1>Audit log</h1>" in page
    assert "ENG-1" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "in 23 h" in page, "ENG-2 expires 23 hours from now"
    question = await ui.page("/admin/audit/dedup/id-1/confirm")
    assert question.lstrip().startswith('<tr id="dedup-id-1">')
    assert 'hx-delete="/admin/audit/dedup/id-1"' in question
    kept = await ui.page("/admin/audit/dedup/id-1")
    assert 'hx-get="/admin/audit/dedup/id-1/confirm"' in kept, "Keep it puts the row back"

    forged = await api.client.delete("/admin/audit/dedup/id-1", headers={"Origin": ui.origin})
    assert forged.status == 403
    response = await api.client.delete("/admin/audit/dedup/id-1", headers=ui.headers())
    window = await response.text()

    assert response.status == 200
    assert window.lstrip().startswith('<section id="dedup-window"')
    assert "ENG-1 left the dedup window" in window
    assert 'id="dedup-id-1"' not in window
    assert 'id="dedup-id-2"' in window
    listing = await api_json(api, "/api/dedup")
    assert [entry["identifier"] for entry in listing["entries"]] == ["ENG-2"]
    [audit] = await store.recent_audit(10)
    assert (audit.action, audit.target) == ("dedup.remove", "id-1")
    assert audit.actor.startswith("admin-ui@")

    again = await (await api.client.delete("/admin/audit/dedup/id-1", headers=ui.headers())).text()
    assert 'class="error" role="alert">id-1 was not removed: issue id-1 is not in the dedup window' in again


async def test_the_audit_log_says_what_an_empty_dedup_window_means(api: Api, clock: FakeClock) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/audit")
    window = await (await api.client.delete("/admin/audit/dedup/id-9", headers=ui.headers())).text()

    assert "No ticket is in the dedup window" in page
    assert "No ticket is in the dedup window" in window
    assert "not in the dedup window" in window


# Pipelines & steps, Customizations


async def test_pipelines_and_steps_show_overrides_additions_and_problems(start_api: ApiFactory, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    write(custom / "steps" / "run_checks.py", STEP)
    write(custom / "steps" / "lint.py", "def run(context):\n    pass\n")
    write(custom / "pipelines" / "hotfix.yml", "description: A quick fix.\nsteps: [checkout, implement, lint]\n")
    api = await start_api(env={"CUSTOM_DIR": str(custom)})
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/pipelines-steps"))

    assert "<h1>Pipelines &amp; steps</h1>" in page
    assert '<details><summary><strong>hotfix</strong><span class="badge badge-ok">additive</span>' in page
    assert '<summary><strong>implementation</strong><span class="badge badge-ok">builtin</span>' in page
    assert (
        "<td><code>run-checks</code></td><td><code>controller/runner/steps/run_checks.py</code></td>"
        '<td><code>custom/steps/run_checks.py</code></td><td><span class="badge badge-warning">override</span></td>'
    ) in page
    assert '<td><code>custom/steps/lint.py</code></td><td><span class="badge badge-ok">additive</span>' in page
    assert '<li class="error">custom/steps/lint.py: does not implement the step interface' in page
    assert '<span class="error">does not implement the step interface' in page
    assert "<td><code>claude-code</code></td><td><code>controller/runner/providers/claude_code.py</code></td>" in page


async def test_pipelines_and_steps_without_customizations(start_api: ApiFactory, tmp_path: Path) -> None:
    api = await start_api(env={"CUSTOM_DIR": str(tmp_path / "custom")})
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/pipelines-steps"))

    assert "No problem: every custom pipeline, step and provider loads." in page
    pipelines = page.split('<h2 id="pipelines-title">')[1].split("</section>")[0]
    assert "badge-warning" not in pipelines, "every pipeline is built in"
    assert "badge-error" not in pipelines


async def test_customizations_list_every_custom_file(start_api: ApiFactory, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    write(custom / "README.md", "what this directory is for\n")
    write(custom / "steps" / "run_checks.py", STEP)
    write(custom / "pipelines" / "review.yml", "steps: [checkout\n")
    write(custom / "prompts" / "house-style.md", "Be brief.\n")
    api = await start_api(env={"CUSTOM_DIR": str(custom)})
    ui = await sign_in(api)

    page = compact(await ui.page("/admin/customizations"))

    assert "<h1>Customizations</h1>" in page
    assert "README.md" not in page
    assert (
        '<td><code>custom/steps/run_checks.py</code></td><td>step</td><td><span class="badge badge-warning">override'
        "</span></td><td><code>controller/runner/steps/run_checks.py</code></td>"
        f'<td title="{len(STEP)} bytes">{len(STEP)} Bytes</td><td><time datetime='
    ) in page
    assert "<td><code>custom/prompts/house-style.md</code></td><td>other</td>" in page
    assert '<span class="error">is not valid YAML' in page
    assert '<li class="error">custom/pipelines/review.yml: is not valid YAML' in page
    files = await api_json(api, "/api/customizations")
    assert len(files["files"]) == 3


async def test_customizations_say_where_custom_files_go(start_api: ApiFactory, tmp_path: Path) -> None:
    missing = await start_api(env={"CUSTOM_DIR": str(tmp_path / "custom")})
    (tmp_path / "empty").mkdir()
    empty = await start_api(env={"CUSTOM_DIR": str(tmp_path / "empty")})

    nothing = await (await sign_in(missing)).page("/admin/customizations")
    bare = await (await sign_in(empty)).page("/admin/customizations")

    assert f"There is no custom directory: CUSTOM_DIR is {tmp_path / 'custom'}, which does not exist" in nothing
    assert "steps/&lt;id&gt;.py" in nothing
    assert f"The custom directory {tmp_path / 'empty'} holds no customization yet" in bare
    assert "<a " not in nothing.split('<main id="main"')[1], "the empty state links nothing"


# The sidebar


async def test_the_sidebar_lists_the_five_panels_in_their_groups(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/audit")

    for path, title in (
        ("/admin/sessions", "Sessions"),
        ("/admin/reaper", "Reaper"),
        ("/admin/audit", "Audit log"),
        ("/admin/pipelines-steps", "Pipelines &amp; steps"),
        ("/admin/customizations", "Customizations"),
    ):
        assert f'<a href="{path}"' in page
        assert f">{title}</a>" in page
    assert '<a href="/admin/audit" aria-current="page">Audit log</a>' in page
