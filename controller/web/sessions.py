"""The Sessions panel: live runner sessions, and destroy-and-reset of one of them.

The list comes from the operator's census of the backends (the API server never talks to a
backend), so machines the controller knows nothing about show too. Destroying is a request the
active operator carries out within about a second; the handler waits for its answer a little while
and otherwise answers 202, and the list shows the request as pending until it is done.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Final, Literal, get_args

from aiohttp import web
from pydantic import Field, JsonValue

from controller.kube import RUNNER_SESSIONS
from controller.store import LiveSession, SessionKey, SessionReset, session_key
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, not_found
from controller.web.models import CamelModel
from controller.web.paging import Position, Window, cursor_of, paging_parameters
from controller.web.routing import ApiRouter, QueryParameter, limit_of, path_param, reject_unknown_query, respond

router = ApiRouter(tag="sessions")

Backend = Literal["github-actions", "fly-machines", "local"]
BACKENDS: tuple[str, ...] = get_args(Backend)
BACKEND_SCHEMA = {"type": "string", "enum": list(BACKENDS)}
PANEL_STATES = ("created", "starting", "started")
"""The states the Sessions panel lists: a machine that is stopping is already on its way out."""
SESSION_PAGE: Final = 100
MAX_SESSION_PAGE: Final = 500
SESSION_KEY_PARTS: Final = 4
POLL_SECONDS = 0.2


class IssueLink(CamelModel):
    identifier: str = Field(description="The ticket, e.g. ENG-123.")
    url: str | None = Field(description="Link to the ticket, when it is known.")


class SessionRow(CamelModel):
    machine_id: str = Field(description="Fly machine id, container id, or owner/repo/run_id of a workflow run.")
    name: str
    backend: Backend
    state: str = Field(description="created, starting or started.")
    backend_state: str = Field(description="The backend's own word for the state.")
    created_at: datetime | None
    uptime_seconds: int | None = Field(description="Seconds since the backend created it, when it says.")
    region: str | None
    url: str | None = Field(description="Link to the run (GitHub Actions), when there is one.")
    dispatch: str | None = Field(description="The Dispatch it runs for, when known.")
    issue: IssueLink | None
    repo: str | None = Field(description="owner/name of the target repository, when known.")
    team_key: str | None
    tenant: str | None
    observed_at: datetime = Field(description="When the operator last saw it.")
    reset_pending: bool = Field(description="A destroy-and-reset request is waiting for the operator.")


class CensusRow(CamelModel):
    backend: Backend
    last_attempt_at: datetime
    last_success_at: datetime | None
    error: str | None = Field(description="Why the last listing failed; the rows are from the last success.")


class SessionList(CamelModel):
    sessions: list[SessionRow] = Field(
        description=f"One page, oldest first (by creation, those of unknown age last): the first {SESSION_PAGE} "
        "unless limit or cursor say otherwise."
    )
    census: list[CensusRow] = Field(description="When each backend was last listed, and any error.")
    next_cursor: str | None = Field(
        default=None, description="The cursor of the page after this one; null on the last page."
    )
    previous_cursor: str | None = Field(
        default=None, description="The cursor of the page before this one; null on the first page."
    )
    total: int = Field(default=0, description="How many live sessions there are (of the backend asked for).")


class SessionResetAnswer(CamelModel):
    request_id: int
    machine_id: str
    backend: Backend
    state: Literal["pending", "reset", "already-destroyed", "failed"]
    message: str
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None
    details: dict[str, JsonValue] = Field(
        description="dispatch, ticket, destroyed, markerRemoved and dedupCleared, as far as they apply."
    )


def session_row(row: LiveSession, now: datetime, pending: set[tuple[Backend, str]]) -> SessionRow:
    issue = IssueLink(identifier=row.issue_identifier, url=row.issue_url) if row.issue_identifier else None
    uptime = max(int((now - row.created_at).total_seconds()), 0) if row.created_at else None
    return SessionRow(
        machine_id=row.resource_id,
        name=row.name,
        backend=row.backend,
        state=row.state,
        backend_state=row.backend_state,
        created_at=row.created_at,
        uptime_seconds=uptime,
        region=row.region,
        url=row.url,
        dispatch=row.dispatch_name,
        issue=issue,
        repo=row.repo,
        team_key=row.team_key,
        tenant=row.tenant,
        observed_at=row.observed_at,
        reset_pending=(row.backend, row.resource_id) in pending,
    )


def _backend_filter(request: web.Request) -> Backend | None:
    value = request.query.get("backend")
    if value is None:
        return None
    if value not in BACKENDS:
        raise ApiError(422, "invalid_backend", f"backend={value!r} is not a runner backend: use {', '.join(BACKENDS)}")
    return value  # type: ignore[return-value]


@router.route(
    "GET",
    "/api/sessions",
    summary="List live runner sessions",
    description=(
        "Every machine, container or workflow run in the created, starting or started state, as the operator "
        "last listed its backend (Fly machines and containers every 30 s, workflow runs at each reaper sweep)."
    ),
    query={
        "backend": QueryParameter("Only this backend: fly-machines, github-actions or local.", schema=BACKEND_SCHEMA)
    }
    | paging_parameters(SESSION_PAGE, MAX_SESSION_PAGE, order="oldest first, those of unknown age last"),
    responses={200: SessionList, 422: None},
)
async def list_sessions(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    backend = _backend_filter(request)
    limit = limit_of(request, SESSION_PAGE, MAX_SESSION_PAGE)
    return respond(await sessions_of(context_of(request), backend, session_position(request), limit))


def session_position(request: web.Request) -> Position | None:
    """The `cursor` of a sessions listing, checked down to its timestamps; 422 for one we did not hand out."""
    position = cursor_of(request, arity=SESSION_KEY_PARTS)
    if position is not None:
        try:
            _session_key(position)
        except ValueError:
            raise ApiError(
                422,
                "invalid_cursor",
                "cursor is not a cursor of the sessions listing: pass nextCursor or "
                "previousCursor as it came, or leave cursor out for the first page",
            ) from None
    return position


def _session_key(position: Position) -> SessionKey:
    created, first_seen, resource_id, backend = position.key
    moments = datetime.fromisoformat(created), datetime.fromisoformat(first_seen)
    if any(moment.tzinfo is None for moment in moments) or backend not in BACKENDS:
        raise ValueError(f"not a session's place: {position.key}")
    return moments[0], moments[1], resource_id, backend


def _cursor_key(row: LiveSession) -> tuple[str, ...]:
    created, first_seen, resource_id, backend = session_key(row)
    return created.isoformat(), first_seen.isoformat(), resource_id, backend


async def sessions_of(
    context: WebContext, backend: Backend | None = None, position: Position | None = None, limit: int = SESSION_PAGE
) -> SessionList:
    """A page of live sessions and how each census went, for the JSON API and the Sessions panel alike."""
    now = context.clock()
    pending = {(reset.backend, reset.resource_id) for reset in await context.store.pending_session_resets(limit=1000)}
    key = _session_key(position) if position is not None else None
    page = await context.store.live_session_page(
        states=PANEL_STATES,
        backend=backend,
        after=key if position is not None and position.forward else None,
        before=key if position is not None and not position.forward else None,
        limit=limit,
    )
    rows = [session_row(row, now, pending) for row in page.sessions]
    window = Window(items=page.sessions, more_before=page.more_before, more_after=page.more_after)
    previous, following = window.cursors(_cursor_key)
    census = [
        CensusRow(
            backend=state.backend,
            last_attempt_at=state.last_attempt_at,
            last_success_at=state.last_success_at,
            error=state.error,
        )
        for state in await context.store.census_states()
        if backend is None or state.backend == backend
    ]
    return SessionList(sessions=rows, census=census, next_cursor=following, previous_cursor=previous, total=page.total)


async def listed_session(context: WebContext, machine_id: str, backend: Backend | None) -> SessionRow | None:
    """One session as the list shows it, or None when the census no longer lists it as live."""
    row = await context.store.live_session(machine_id, backend) if 0 < len(machine_id) <= 256 else None
    if row is None or row.state not in PANEL_STATES:
        return None
    pending = {(reset.backend, reset.resource_id) for reset in await context.store.pending_session_resets(limit=1000)}
    return session_row(row, context.clock(), pending)


@router.route(
    "DELETE",
    "/api/sessions/{machineId}",
    summary="Destroy a session and reset its ticket",
    description=(
        "Destroys the machine (or container, or workflow run: URL-encode its owner/repo/run_id), cancels the "
        "Dispatch it runs for, removes the ticket's in-progress marker (Linear AI-Working label, Jira "
        "Implementing status) and takes the ticket out of the dedup window, so the next poll can pick it up "
        "again. 200 when done, 202 while the operator is still at it, 404 for an unknown machine, 409 when it "
        "was already destroyed or could not be reset."
    ),
    query={"backend": QueryParameter("The backend, when the same id could exist on two.", schema=BACKEND_SCHEMA)},
    responses={200: SessionResetAnswer, 202: SessionResetAnswer, 404: None, 409: None, 422: None},
)
async def destroy_session(request: web.Request) -> web.Response:
    context = context_of(request)
    reject_unknown_query(request)
    machine_id = path_param(request, "machineId").strip()
    answer = await destroy_and_reset(
        context, machine_id, _backend_filter(request), actor_of(request), wait=context.session_reset_wait
    )
    if answer.state == "pending":
        return respond(answer, status=202)
    if answer.state == "reset":
        return respond(answer)
    code = "already_destroyed" if answer.state == "already-destroyed" else "reset_failed"
    raise ApiError(409, code, answer.message)


async def destroy_and_reset(
    context: WebContext, machine_id: str, backend: Backend | None, actor: str, *, wait: float
) -> SessionResetAnswer:
    """Ask the operator to destroy a session and reset its ticket, then wait up to `wait` seconds for it.

    The admin UI waits not at all and shows the request's progress instead; the JSON API waits a
    little, so that a script usually gets the outcome in one call.
    """
    found = await _backend_of(context, machine_id, backend)
    reset = await context.store.request_session_reset(
        backend=found, resource_id=machine_id, requested_by=actor, now=context.clock()
    )
    await record_change_by(context, actor, "session.destroy", machine_id, {"backend": found, "request": reset.id})
    return _answer(await _wait_for(context, reset, wait))


@router.route(
    "GET",
    "/api/sessions/resets/{requestId}",
    summary="Read a destroy-and-reset request",
    description="For a DELETE /api/sessions/:machineId that answered 202: what became of it.",
    responses={200: SessionResetAnswer, 404: None, 422: None},
)
async def read_session_reset(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    return respond(await session_reset_of(context_of(request), path_param(request, "requestId")))


async def session_reset_of(context: WebContext, request_id: str) -> SessionResetAnswer:
    """What became of a destroy-and-reset request; 404 for an id that is not one."""
    readable = request_id.isascii() and request_id.isdigit() and len(request_id) < 19
    reset = await context.store.session_reset(int(request_id)) if readable else None
    if reset is None:
        raise not_found(f"there is no destroy-and-reset request {request_id}")
    return _answer(reset)


async def _backend_of(context: WebContext, machine_id: str, wanted: Backend | None) -> Backend:
    """Which backend runs it, from the census or a RunnerSession; 404/409 when there is nothing to destroy."""
    row = await context.store.live_session(machine_id, wanted) if 0 < len(machine_id) <= 256 else None
    if row is not None:
        return row.backend
    sessions = await context.kube.list(RUNNER_SESSIONS, context.namespace) if machine_id else None
    for session in sessions.items if sessions is not None else []:
        spec = session.get("spec") or {}
        if spec.get("resourceId") != machine_id or (wanted is not None and spec.get("backend") != wanted):
            continue
        state = (session.get("status") or {}).get("state")
        if state in ("stopped", "destroyed") or session["metadata"].get("deletionTimestamp"):
            raise ApiError(409, "already_destroyed", f"session {machine_id} has already ended or is being destroyed")
        backend: Backend = spec["backend"]
        return backend
    raise not_found(
        f"no live runner session has the id {machine_id!r}: it was already destroyed or never existed "
        "(GET /api/sessions lists the live ones)"
    )


async def _wait_for(context: WebContext, reset: SessionReset, wait: float) -> SessionReset:
    """The request once the operator finished it, or as it stands when the wait runs out."""
    deadline = asyncio.get_running_loop().time() + wait
    current = reset
    while current.state == "pending" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        current = await context.store.session_reset(reset.id) or current
    return current


def _answer(reset: SessionReset) -> SessionResetAnswer:
    if reset.message:
        message = reset.message
    elif reset.state == "pending":
        message = f"waiting for the operator; GET /api/sessions/resets/{reset.id} tells when it is done"
    else:
        message = f"the reset of {reset.resource_id} {reset.state}"
    return SessionResetAnswer(
        request_id=reset.id,
        machine_id=reset.resource_id,
        backend=reset.backend,
        state=reset.state,
        message=message,
        requested_by=reset.requested_by,
        requested_at=reset.requested_at,
        finished_at=reset.finished_at,
        details=dict(reset.details),
    )
