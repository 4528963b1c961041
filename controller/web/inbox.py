"""/api/issues, /api/blockers and /api/dedup: what the pollers saw and decided, read from the store.

The operator writes the inbox snapshot on every poll, so these endpoints cost one query and agree
across API replicas.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Final

from aiohttp import web
from pydantic import Field

from controller.store import DEDUP_WINDOW, DecisionReason, IssueSnapshot
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import not_found
from controller.web.mappings import mapping_index_of
from controller.web.models import CamelModel
from controller.web.paging import Position, Window, cursor_of, paging_parameters
from controller.web.routing import ApiRouter, limit_of, path_param, reject_unknown_query, respond

router = ApiRouter(tag="issues")

ISSUE_PAGE: Final = 100
MAX_ISSUE_PAGE: Final = 500


class IssueRow(CamelModel):
    id: str = Field(description="The ticket's id in its system.")
    identifier: str = Field(description="The ticket's key, e.g. ENG-12.")
    title: str
    url: str = Field(description="Link to the ticket.")
    team_key: str = Field(description="The mapping that routes it.")
    provider: str = Field(description="linear or jira.")
    state: str = Field(description="triage, backlog, unstarted, started, completed or cancelled.")
    readiness: str = Field(description="ready (for implementation), planning-pending, or done.")
    blocked_reason: str | None = Field(description="Why it is held back, when it is.")
    message: str | None = Field(description="What the last decision said about it.")
    updated_at: datetime = Field(description="When the ticket last changed in its system.")


class MappingLoad(CamelModel):
    team_key: str
    in_progress: int = Field(description="Runs in progress now.")
    cap: int = Field(description="maxInProgressAiIssues.")
    blocked: int = Field(description="Tickets held back at the last poll.")
    ready: int = Field(description="Tickets ready for implementation.")
    planning_pending: int = Field(description="Tickets whose planning has not succeeded yet.")


class IssueInbox(CamelModel):
    issues: list[IssueRow] = Field(
        description="One page of the tickets matched by a mapping as of the last polls, by team key, identifier "
        f"and id: the first {ISSUE_PAGE} unless limit or cursor say otherwise."
    )
    mappings: list[MappingLoad] = Field(
        description="In-progress counts of the mappings whose tickets are on this page, by team key."
    )
    next_cursor: str | None = Field(
        default=None, description="The cursor of the page after this one; null on the last page."
    )
    previous_cursor: str | None = Field(
        default=None, description="The cursor of the page before this one; null on the first page."
    )
    total: int = Field(default=0, description="How many tickets there are, on every page.")


class BlockerKpis(CamelModel):
    total: int = Field(description="Blocked tickets.")
    teams_affected: int = Field(description="Distinct mappings with at least one blocked ticket.")
    by_concurrency_cap: int
    by_dedup_window: int
    by_reason: dict[str, int] = Field(description="Every reason with its count.")


class BlockerRow(CamelModel):
    identifier: str
    team_key: str = Field(description="The project mapping.")
    reason: str = Field(description="concurrency-cap, dedup-window, paused, planning-pending or missing-credentials.")
    message: str | None = Field(description="The reason in words.")
    url: str = Field(description="Link back to the ticket.")


class Blockers(CamelModel):
    kpis: BlockerKpis
    blockers: list[BlockerRow]


class DedupRow(CamelModel):
    issue_id: str
    identifier: str
    title: str
    team_key: str
    provider: str
    dispatched_at: datetime
    expires_at: datetime = Field(description="When the ticket may be dispatched again.")


class DedupWindowList(CamelModel):
    entries: list[DedupRow] = Field(description="Tickets in the 24-hour window, most recent first.")


def _row(snapshot: IssueSnapshot) -> IssueRow:
    return IssueRow(
        id=snapshot.issue_id,
        identifier=snapshot.identifier,
        title=snapshot.title,
        url=snapshot.url,
        team_key=snapshot.team_key,
        provider=snapshot.provider,
        state=snapshot.state,
        readiness=snapshot.readiness,
        blocked_reason=snapshot.blocked_reason,
        message=snapshot.message,
        updated_at=snapshot.updated_at,
    )


@router.route(
    "GET",
    "/api/issues",
    summary="List AI-Implement issues across all project mappings, a page at a time",
    description=f"{ISSUE_PAGE} tickets to a page unless `limit` says otherwise, with the in-progress counts of "
    "their mappings; follow `nextCursor` (null on the last page) for the rest. `total` counts every ticket.",
    query=paging_parameters(ISSUE_PAGE, MAX_ISSUE_PAGE, order="by team key, identifier and id"),
    responses={200: IssueInbox, 422: None},
)
async def list_issues(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    limit = limit_of(request, ISSUE_PAGE, MAX_ISSUE_PAGE)
    return respond(await issue_inbox_of(context_of(request), cursor_of(request, arity=3), limit))


async def issue_inbox_of(context: WebContext, position: Position | None = None, limit: int = ISSUE_PAGE) -> IssueInbox:
    """A page of the inbox, for the JSON API and the Issues panel alike; ApiError 503 while mappings are not listed.

    The store reads the page by its sort key and counts the tickets of the page's teams only, so a
    page costs the same with ten tickets or ten thousand.
    """
    index = mapping_index_of(context)
    after = _inbox_key(position) if position is not None and position.forward else None
    before = _inbox_key(position) if position is not None and not position.forward else None
    page = await context.store.issue_snapshot_page(after=after, before=before, limit=limit)
    teams = list(dict.fromkeys(snapshot.team_key for snapshot in page.snapshots))
    counts = await context.store.issue_counts_by_team(teams)
    loads = []
    for team_key in sorted(teams):
        view = index.by_team_key.get(team_key)
        if view is None:
            continue
        tickets = counts.get(team_key)
        by_readiness = tickets.by_readiness if tickets is not None else {}
        loads.append(
            MappingLoad(
                team_key=team_key,
                in_progress=view.status.in_progress or 0,
                cap=view.spec.capacity.max_in_progress_ai_issues,
                blocked=tickets.blocked if tickets is not None else 0,
                ready=by_readiness.get("ready", 0),
                planning_pending=by_readiness.get("planning-pending", 0),
            )
        )
    window = Window(items=page.snapshots, more_before=page.more_before, more_after=page.more_after)
    previous, following = window.cursors(lambda s: (s.team_key, s.identifier, s.issue_id))
    return IssueInbox(
        issues=[_row(s) for s in page.snapshots],
        mappings=loads,
        next_cursor=following,
        previous_cursor=previous,
        total=page.total,
    )


def _inbox_key(position: Position) -> tuple[str, str, str]:
    team_key, identifier, issue_id = position.key
    return team_key, identifier, issue_id


@router.route(
    "GET",
    "/api/blockers",
    summary="List issues currently blocked from dispatch, with reason",
    responses={200: Blockers},
)
async def list_blockers(request: web.Request) -> web.Response:
    return respond(await blockers_of(context_of(request)))


async def blockers_of(context: WebContext) -> Blockers:
    """The blocked tickets and their counts, for the JSON API and the Blockers panel alike."""
    blocked = [s for s in await context.store.list_issue_snapshots() if s.blocked_reason is not None]
    reasons = Counter(s.blocked_reason or "" for s in blocked)
    kpis = BlockerKpis(
        total=len(blocked),
        teams_affected=len({s.team_key for s in blocked}),
        by_concurrency_cap=reasons[DecisionReason.CONCURRENCY_CAP.value],
        by_dedup_window=reasons[DecisionReason.DEDUP_WINDOW.value],
        by_reason=dict(sorted(reasons.items())),
    )
    rows = [
        BlockerRow(
            identifier=s.identifier, team_key=s.team_key, reason=s.blocked_reason or "", message=s.message, url=s.url
        )
        for s in blocked
    ]
    return Blockers(kpis=kpis, blockers=rows)


@router.route("GET", "/api/dedup", summary="List issues in the 24-hour dedup window", responses={200: DedupWindowList})
async def list_dedup(request: web.Request) -> web.Response:
    return respond(await dedup_window_of(context_of(request)))


async def dedup_window_of(context: WebContext) -> DedupWindowList:
    """Every ticket in the dedup window now, for the JSON API and the Audit log panel alike."""
    entries = await context.store.list_dedup_window(context.clock())
    rows = [
        DedupRow(
            issue_id=e.issue_id,
            identifier=e.identifier,
            title=e.title,
            team_key=e.team_key,
            provider=e.provider,
            dispatched_at=e.dispatched_at,
            expires_at=e.dispatched_at + DEDUP_WINDOW,
        )
        for e in entries
    ]
    return DedupWindowList(entries=rows)


@router.route(
    "DELETE",
    "/api/dedup/{issueId}",
    summary="Remove an issue from the dedup window",
    description="The ticket becomes eligible again at the next poll.",
    responses={204: None},
)
async def remove_dedup(request: web.Request) -> web.Response:
    await remove_from_dedup(context_of(request), path_param(request, "issueId"), actor_of(request))
    return web.Response(status=204)


async def remove_from_dedup(context: WebContext, issue_id: str, actor: str) -> None:
    """Let the next poll dispatch the ticket again; 404 when it is not in the window (any more)."""
    inside = await context.store.is_within_dedup_window(issue_id, context.clock())
    if not inside or not await context.store.remove_dedup(issue_id):
        raise not_found(f"issue {issue_id} is not in the dedup window")
    await record_change_by(context, actor, "dedup.remove", issue_id)
