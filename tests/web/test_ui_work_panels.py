"""The Work panels of the admin UI (Issues, Pipelines, Pull requests, Blockers) through the app.

Each is seeded the way the operator fills the store, then read as a browser would: what it shows,
what it says when there is nothing, and that text and links from outside stay inert.
"""

from __future__ import annotations

import re
import socket
from datetime import timedelta

from controller.clock import kube_timestamp
from controller.kube import KubeClient, connection_to
from controller.store import IssueSnapshot, Store, Usage
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.support.ui import UiSession, sign_in
from tests.support.waiting import eventually
from tests.web.test_mappings import LINEAR_MAPPING
from tests.web.test_runner_callbacks import NAME, create_dispatch

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_MESSAGE = "<script>alert(1)</script>"
HOSTILE_URL = "javascript:alert(1)"


def assert_inert(page: str) -> None:
    """Hostile text is shown escaped, and a javascript: URL is text, never a link."""
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "<code>javascript:alert(1)</code>" in page, "the URL is shown as text"
    assert 'href="javascript:' not in page


def compact(page: str) -> str:
    """The page without the whitespace between tags, to read a table row as one string."""
    return re.sub(r">\s+<", "><", page)


def snapshot(
    identifier: str,
    readiness: str,
    *,
    reason: str | None = None,
    title: str = "Add dark mode",
    url: str | None = None,
    message: str | None = None,
    clock: FakeClock,
) -> IssueSnapshot:
    return IssueSnapshot(
        issue_id=f"id-{identifier}",
        identifier=identifier,
        title=title,
        url=url or f"https://linear.app/acme/issue/{identifier}",
        team_key=identifier.split("-")[0],
        provider="linear",
        state="unstarted",
        readiness=readiness,
        blocked_reason=reason,
        message=message,
        updated_at=clock.now - timedelta(hours=2),
    )


async def add_mapping(api: Api) -> None:
    """The ENG mapping through the API, and in the app's cache before going on."""
    response = await api.client.post("/api/mappings", json=LINEAR_MAPPING, headers=await api.login())
    assert response.status == 201, await response.text()
    await eventually(lambda: api.context.mappings.get("eng") is not None)


async def htmx_get(ui: UiSession, path: str) -> str:
    response = await ui.api.client.get(path, headers={"HX-Request": "true"}, allow_redirects=False)
    text = await response.text()
    assert response.status == 200, (path, response.status, text[:500])
    return text


async def test_the_issues_panel_lists_the_inbox_and_the_load_per_mapping(api: Api, clock: FakeClock) -> None:
    await add_mapping(api)
    await api.context.store.replace_issue_snapshot(
        "linear",
        [
            snapshot("ENG-1", "ready", clock=clock),
            snapshot("ENG-2", "planning-pending", reason="concurrency-cap", message="ENG is at its cap", clock=clock),
            snapshot("ENG-3", "done", clock=clock),
        ],
    )
    ui = await sign_in(api)

    page = await ui.page("/admin/issues")

    assert "<h1>Issues</h1>" in page
    assert 'href="/admin/issues" aria-current="page"' in page
    assert '<a href="https://linear.app/acme/issue/ENG-1" rel="noreferrer">ENG-1</a>' in page
    assert '<span class="badge badge-ok">ready</span>' in page
    assert '<span class="badge badge-warning">planning-pending</span>' in page
    assert '<span class="badge badge-ok">done</span>' in page
    assert '<span class="badge badge-warning">concurrency-cap</span>' in page
    assert "ENG is at its cap" in page
    assert ">2 h ago</time>" in page
    load_row = "<td>ENG</td><td>0</td><td>1</td><td>1</td><td>1</td><td>1</td>"
    assert load_row in compact(page), "in progress 0, cap 1, blocked 1, ready 1, planning pending 1"


async def test_the_issues_panel_shows_a_page_of_tickets_and_links_to_the_next(api: Api, clock: FakeClock) -> None:
    await add_mapping(api)
    await api.context.store.replace_issue_snapshot(
        "linear", [snapshot(f"ENG-{n}", "ready", clock=clock) for n in (1, 2, 3)]
    )
    ui = await sign_in(api)

    first = await ui.page("/admin/issues?limit=2")
    following = re.search(r'<a href="([^"]+)" rel="next">Next', first)
    assert following is not None, first
    second = await ui.page(following.group(1).replace("&amp;", "&"))
    mangled = await ui.page("/admin/issues?cursor=eyJ9")

    assert (">ENG-1</a>" in first, ">ENG-2</a>" in first, ">ENG-3</a>" in first) == (True, True, False)
    assert "2 of 3 tickets" in first
    assert (">ENG-3</a>" in second, ">ENG-1</a>" in second) == (True, False)
    assert 'rel="prev">← Previous</a>' in second
    assert 'rel="next"' not in second
    assert "<td>ENG</td><td>0</td><td>1</td>" in compact(second), "the load of the page's mapping"
    assert "That page link is not one this panel made" in mangled
    assert ">ENG-1</a>" in mangled


async def test_the_issues_panel_escapes_ticket_text_and_never_links_a_script_url(api: Api, clock: FakeClock) -> None:
    hostile = snapshot(
        "ENG-9", "ready", reason="paused", title=HOSTILE_TITLE, url=HOSTILE_URL, message=HOSTILE_MESSAGE, clock=clock
    )
    await api.context.store.replace_issue_snapshot("linear", [hostile])
    await add_mapping(api)
    ui = await sign_in(api)

    page = await ui.page("/admin/issues")

    assert "ENG-9" in page
    assert_inert(page)


async def test_the_issues_panel_says_what_to_do_when_it_is_empty(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/issues")

    assert "No ticket matches a mapping yet" in page
    assert "No project mapping yet" in page


async def test_the_issues_panel_shows_why_when_the_cluster_does_not_answer(start_api: ApiFactory) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, never listening: refused, and no other server can take the port
        api = await start_api(kube_connection=connection_to(f"http://127.0.0.1:{held.getsockname()[1]}"))
        ui = await sign_in(api)

        page = await ui.page("/admin/issues")
        steps = await htmx_get(ui, f"/admin/jobs/{NAME}/steps")

    assert '<p class="error" role="alert">ProjectMappings are not listed yet' in page
    assert '<p class="error" role="alert">the Kubernetes API is unavailable' in steps


async def test_the_pipelines_panel_shows_jobs_with_every_column(api: Api, store: Store, clock: FakeClock) -> None:
    started = clock.now
    for kind, name, pull_request in (
        ("planning", "eng-1-planning-1", None),
        ("implementation", NAME, "https://github.com/acme/web/pull/7"),
    ):
        await store.append_dispatch_log(
            now=clock.now,
            issue_id="uuid-1",
            identifier="ENG-1",
            title="Add dark mode",
            team_key="ENG",
            repo="acme/web",
            kind=kind,  # type: ignore[arg-type]
            iteration=1,
            runner_mode="github-actions",
            session_image="ghcr.io/acme/session:1",
            status="succeeded",
            dispatch_name=name,
            pull_request_url=pull_request,
        )
        clock.advance(timedelta(minutes=3))
    usage = Usage(input_tokens=1200, output_tokens=340, cost_usd=0.42, model="claude-sonnet")
    await store.update_dispatch_status(NAME, "failed", message=HOSTILE_MESSAGE, usage=usage, finished_at=clock.now)
    ui = await sign_in(api)

    page = await ui.page("/admin/jobs")

    assert "<h1>Pipelines</h1>" in page
    assert 'hx-get="/admin/jobs/live" hx-trigger="every 10s"' in page
    for shown in ("ENG-1", "Add dark mode", "<code>acme/web</code>", "github-actions", "ghcr.io/acme/session:1"):
        assert shown in page
    assert 'planning: <span class="badge badge-ok">succeeded</span>' in page
    assert 'implementation: <span class="badge badge-error">failed</span>' in page
    assert '<a href="https://github.com/acme/web/pull/7" rel="noreferrer">' in page
    assert "<td>#1</td>" in page, "the dispatch number"
    assert "$0.42 · 1,200 in · 340 out · claude-sonnet" in page
    assert f'datetime="{started.isoformat()}"' in page, "when the job started"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert f'hx-get="/admin/jobs/{NAME}/steps"' in page
    assert 'hx-preserve="true"' in page, "opened steps survive the live refresh"
    live = await ui.page("/admin/jobs/live")
    assert live.lstrip().startswith('<div id="jobs-live"'), "the live part alone, for htmx to swap"


async def test_the_pipelines_panel_never_links_a_script_url(api: Api, store: Store, clock: FakeClock) -> None:
    await store.append_dispatch_log(
        now=clock.now,
        issue_id="uuid-9",
        identifier="ENG-9",
        title=HOSTILE_TITLE,
        team_key="ENG",
        repo="acme/web",
        kind="implementation",
        iteration=2,
        runner_mode="local",
        session_image="img",
        status="failed",
        dispatch_name="eng-9-implementation-2",
        pull_request_url=HOSTILE_URL,
        message=HOSTILE_MESSAGE,
    )
    ui = await sign_in(api)

    page = await ui.page("/admin/jobs")

    assert_inert(page)


async def test_the_pipelines_panel_says_what_to_do_when_nothing_was_dispatched(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/jobs")

    assert "No dispatch yet." in page


async def test_the_steps_drill_down_reads_the_live_dispatch_then_the_log(
    api: Api, store: Store, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    steps = [
        {"name": "clone", "status": "succeeded", "elapsedSeconds": 4.2, "message": HOSTILE_MESSAGE},
        {"name": "agent", "status": "running", "startedAt": kube_timestamp(clock.now)},
    ]
    await create_dispatch(kube, namespace, clock, steps=steps)
    clock.advance(timedelta(seconds=75))
    ui = await sign_in(api)

    live = await htmx_get(ui, f"/admin/jobs/{NAME}/steps")
    missing = await htmx_get(ui, "/admin/jobs/no-such-dispatch/steps")
    page = await ui.page(f"/admin/jobs/{NAME}/steps")

    assert "<html" not in live, "a partial for htmx to swap in"
    assert "<code>clone</code>" in live
    assert '<span class="badge badge-ok">succeeded</span>' in live
    assert "<td>4 s</td>" in live, "the elapsed time the runner reported"
    assert "<td>1 min 15 s</td>" in live, "a running step: the time since it started"
    assert "live from its Dispatch" in live
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in live
    assert "<script>alert" not in live
    assert '<p class="error" role="alert">there is no job &#39;no-such-dispatch&#39;' in missing
    assert "<h1>Pipelines</h1>" in page, "opened directly: a whole page"
    assert "<code>agent</code>" in page


async def test_the_steps_drill_down_says_when_no_step_was_reported(api: Api, store: Store, clock: FakeClock) -> None:
    await store.append_dispatch_log(
        now=clock.now,
        issue_id="uuid-1",
        identifier="ENG-1",
        title="t",
        team_key="ENG",
        repo="acme/web",
        kind="implementation",
        iteration=1,
        runner_mode="local",
        session_image="img",
        status="failed",
        dispatch_name="eng-1-implementation-1",
    )
    ui = await sign_in(api)

    partial = await htmx_get(ui, "/admin/jobs/eng-1-implementation-1/steps")

    assert "as logged after its Dispatch ended" in partial
    assert "No step reported yet" in partial


async def track(store: Store, clock: FakeClock, number: int, **changes: object) -> None:
    fields: dict[str, object] = {
        "repo": "acme/web",
        "number": number,
        "url": f"https://github.com/acme/web/pull/{number}",
        "head_branch": f"ai-implement/eng-{number}",
        "issue_id": f"uuid-{number}",
        "identifier": f"ENG-{number}",
        "title": "Add dark mode",
        "issue_url": f"https://linear.app/acme/issue/ENG-{number}",
        "team_key": "ENG",
        "provider": "linear",
        "job_status": "completed",
        "iteration": 2,
        "dispatch_name": f"eng-{number}-review-2",
        "now": clock.now,
    }
    await store.track_pull_request(**(fields | changes))  # type: ignore[arg-type]


async def test_the_pull_requests_panel_lists_every_tracked_pull_request(
    api: Api, store: Store, clock: FakeClock
) -> None:
    await track(store, clock, 7, job_status="review_failed")
    await store.append_dispatch_log(
        now=clock.now,
        issue_id="uuid-7",
        identifier="ENG-7",
        title="Add dark mode",
        team_key="ENG",
        repo="acme/web",
        kind="review",
        iteration=2,
        runner_mode="local",
        session_image="img",
        status="review-failed",
        dispatch_name="eng-7-review-2",
        pull_request_url="https://github.com/acme/web/pull/7",
    )
    usage = Usage(input_tokens=10, output_tokens=2000, cost_usd=1.5)
    await store.update_dispatch_status("eng-7-review-2", "review-failed", usage=usage)
    clock.advance(timedelta(minutes=5))
    ui = await sign_in(api)

    page = await ui.page("/admin/pulls")

    assert "<h1>Pull requests</h1>" in page
    assert 'hx-get="/admin/pulls/live" hx-trigger="every 10s"' in page
    assert '<a href="https://linear.app/acme/issue/ENG-7" rel="noreferrer">ENG-7</a>' in page
    assert "<code>acme/web</code>" in page
    assert '<span class="badge badge-error">review_failed</span>' in page
    assert "<td>2</td>" in page, "the iteration"
    assert ">5 min ago</time>" in page
    assert '<a href="https://github.com/acme/web/pull/7" rel="noreferrer">#7</a>' in page
    assert '<a href="https://github.com/acme/web/pull/7/checks" rel="noreferrer">#7 checks</a>' in page
    assert "$1.50 · 10 in · 2,000 out" in page
    live = await ui.page("/admin/pulls/live")
    assert live.lstrip().startswith('<div id="pulls-live"'), "the live part alone, for htmx to swap"


async def test_the_pull_requests_panel_never_links_a_script_url(api: Api, store: Store, clock: FakeClock) -> None:
    await track(store, clock, 8, title=HOSTILE_TITLE, issue_url=HOSTILE_URL, url=f"{HOSTILE_URL}//8")
    await track(store, clock, 9, title=HOSTILE_MESSAGE)
    ui = await sign_in(api)

    page = await ui.page("/admin/pulls")

    assert_inert(page)
    assert "<code>javascript:alert(1)//8</code>" in page


async def test_the_pull_requests_panel_says_what_to_do_when_none_is_tracked(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/pulls")

    assert "No pull request is tracked yet." in page


async def test_the_blockers_panel_counts_and_lists_the_held_back_tickets(api: Api, clock: FakeClock) -> None:
    await api.context.store.replace_issue_snapshot(
        "linear",
        [
            snapshot("ENG-1", "ready", reason="concurrency-cap", message="ENG is at its cap of 1", clock=clock),
            snapshot("ENG-2", "ready", reason="dedup-window", message="dispatched 3 h ago", clock=clock),
            snapshot("OPS-1", "planning-pending", reason="paused", clock=clock),
            snapshot("OPS-2", "ready", clock=clock),
        ],
    )
    ui = await sign_in(api)

    page = await ui.page("/admin/blockers")

    assert "<h1>Blockers</h1>" in page
    cards = {
        "Total blocked": 3,
        "Teams affected": 2,
        "By the concurrency cap": 1,
        "By the dedup window": 1,
    }
    for label, value in cards.items():
        assert f'<span class="card-value">{value}</span><span class="card-label">{label}</span>' in page
    assert '<a href="https://linear.app/acme/issue/ENG-1" rel="noreferrer">ENG-1</a>' in page
    assert '<span class="badge badge-warning">dedup-window</span>' in page
    assert "ENG is at its cap of 1" in page
    assert "OPS-2" not in page, "a ticket that is not held back is not a blocker"


async def test_the_blockers_panel_escapes_ticket_text_and_never_links_a_script_url(api: Api, clock: FakeClock) -> None:
    hostile = snapshot("ENG-9", "ready", reason="paused", url=HOSTILE_URL, message=HOSTILE_MESSAGE, clock=clock)
    await api.context.store.replace_issue_snapshot("linear", [hostile])
    ui = await sign_in(api)

    page = await ui.page("/admin/blockers")

    assert "<code>javascript:alert(1)</code>" in page
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


async def test_the_blockers_panel_says_when_nothing_is_held_back(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/blockers")

    assert "Nothing is held back" in page
    assert '<span class="card-value">0</span><span class="card-label">Total blocked</span>' in page


async def test_the_sidebar_lists_the_work_group_in_the_specifications_order(api: Api) -> None:
    ui = await sign_in(api)

    page = await ui.page("/admin/overview")

    paths = ["/admin/overview", "/admin/issues", "/admin/jobs", "/admin/pulls", "/admin/blockers"]
    positions = [page.index(f'href="{path}"') for path in paths]
    assert positions == sorted(positions)
    assert ">Pipelines</a>" in page
    assert ">Pull requests</a>" in page


async def test_the_work_panels_send_a_signed_out_browser_to_sign_in(api: Api) -> None:
    for path in ("/admin/issues", "/admin/jobs", "/admin/jobs/live", "/admin/pulls", "/admin/blockers"):
        response = await api.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/admin/sign-in?next="), path
