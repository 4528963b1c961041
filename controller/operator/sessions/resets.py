"""Destroy-and-reset of one runner session, asked for through `DELETE /api/sessions/:machineId`.

The API server records the request in the store; the active operator carries it out here, because
only the operator talks to runner backends. It happens in two stages, and the store records when
the first one is done, so that a request picked up again (next second, or by a new leader) goes on
where it stopped instead of calling a resource it destroyed itself "already destroyed":

1. Destroy: the owning Dispatch, if it still runs, is cancelled (reason SessionDestroyed, only if
   it has not changed since it was read, so a run that just ended keeps its outcome), then the
   resource is destroyed and its RunnerSession deleted.
2. Reset: once the Dispatch has closed out (its own close-out comments and notifies), the ticket
   loses its in-progress marker and leaves the dedup window, so the next poll dispatches it again.
   Waiting for the close-out means no new run can start while the old one still closes (which would
   take the new run's marker off). The ticket is reset only when the run's end releases it anyway
   (a planning run, an implementation that did not succeed) or no Dispatch is known: a review run's
   or a succeeded implementation's pull request is still open, and another live run of the same
   ticket keeps the ticket as it is.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.httpclient import ServiceError
from controller.kube import DISPATCHES, RUNNER_SESSIONS, KubeClient, KubeObject
from controller.kube.errors import ConflictError, KubeError, NotFoundError
from controller.operator.periodic import every
from controller.operator.runs.reconciler import releases_ticket
from controller.operator.runs.ticket_updates import TicketCannotMove, TicketGone, TicketUpdater
from controller.operator.sessions.census import Ownership, SessionCensus, TicketOf
from controller.resources.dispatch import IssueRef, is_terminal
from controller.runners.backend import LIVE_STATES
from controller.runners.registry import BackendNotConfigured, Backends
from controller.store import JsonValue, SessionReset, SessionResetState, Store

logger = logging.getLogger("controller.operator.sessions.resets")

CANCEL_REASON = "SessionDestroyed"
TICKET_KEY = "ticketOfResource"
"""Where stage 1 leaves the resource's ticket in the request, for stage 2 (the resource is gone by then)."""
GIVE_UP_AFTER = timedelta(minutes=10)
"""A request still unfinished this long after the leader took it up (a backend or ticketing system down) fails."""


@dataclass(frozen=True, slots=True)
class Finished:
    state: SessionResetState
    message: str
    details: dict[str, JsonValue]


@dataclass
class SessionResetter:
    store: Store
    kube: KubeClient
    namespace: str
    backends: Backends
    census: SessionCensus
    tickets: Mapping[str, TicketUpdater]
    clock: Clock
    interval: float = 1.0

    async def run(self) -> None:
        await every(self.interval, self.process_pending, "handling session resets")

    async def process_pending(self) -> int:
        """Move every waiting request forward once; returns how many finished."""
        finished = 0
        for reset in await self.store.pending_session_resets():
            try:
                done = await self.handle(reset)
            except Exception:  # one request's bug must not hold up the others
                logger.exception("session reset %s failed unexpectedly", reset.id)
                done = await self._give_up_if_late(reset, "an unexpected error (see the operator's log)")
            finished += done
        return finished

    async def handle(self, reset: SessionReset) -> bool:
        """One step of one request; True when it finished (either way)."""
        if reset.started_at is None:
            reset = await self.store.mark_session_reset_started(reset.id, self.clock())
        try:
            outcome = await self._step(reset)
        except BackendNotConfigured as error:
            outcome = Finished("failed", str(error), _base_details(reset))
        except (ServiceError, KubeError, OSError) as error:
            message = error.message if isinstance(error, ServiceError) else str(error)
            if isinstance(error, ServiceError) and not error.temporary:
                outcome = Finished("failed", f"the reset could not be completed: {message}", _base_details(reset))
            else:
                logger.warning("session reset %s waits: %s", reset.id, message)
                return await self._give_up_if_late(reset, message)
        if outcome is None:
            return await self._give_up_if_late(reset, "its Dispatch has not closed out")
        await self._finish(reset, outcome)
        return True

    async def _give_up_if_late(self, reset: SessionReset, why: str) -> bool:
        started = reset.started_at or reset.requested_at
        if self.clock() - started < GIVE_UP_AFTER:
            return False
        done = "destroyed the resource, but " if reset.destroyed_at is not None else ""
        minutes = int(GIVE_UP_AFTER.total_seconds() // 60)
        message = f"{done}the reset did not complete within {minutes} min: {why}; the ticket was not reset"
        await self._finish(reset, Finished("failed", message, _base_details(reset)))
        return True

    async def _finish(self, reset: SessionReset, outcome: Finished) -> None:
        await self.store.finish_session_reset(
            reset.id, state=outcome.state, message=outcome.message, details=outcome.details, now=self.clock()
        )
        logger.info("session reset %s of %s %s: %s", reset.id, reset.backend, reset.resource_id, outcome.message)

    async def _step(self, reset: SessionReset) -> Finished | None:
        if reset.destroyed_at is None:
            destroyed = await self._destroy(reset)
            if isinstance(destroyed, Finished):
                return destroyed
            reset = destroyed
        return await self._after_destroy(reset)

    async def _destroy(self, reset: SessionReset) -> Finished | SessionReset:
        """Stage 1: claim the Dispatch, destroy the resource, record that it is done."""
        backend = self.backends.backend(reset.backend)
        handle = await backend.status(reset.resource_id)
        if handle is None or handle.state not in LIVE_STATES:
            await self.store.forget_live_session(reset.backend, reset.resource_id)
            ended = "destroyed" if handle is None or handle.state == "destroyed" else f"ended ({handle.state})"
            return Finished(
                "already-destroyed",
                f"{reset.backend} {reset.resource_id} has already {ended}; nothing else was changed",
                _base_details(reset) | {"destroyed": False},
            )
        ownership = await self.census.fresh_ownership()
        claim = ownership.claim(handle)
        if claim.foreign:
            return Finished(
                "failed",
                f"{reset.resource_id} is labelled for another namespace or tenant: this controller leaves it alone",
                _base_details(reset) | {"destroyed": False},
            )
        if claim.dispatch is not None and not claim.shadow:
            await self._cancel_if_running(claim.dispatch, reset)
        await backend.destroy(reset.resource_id)
        await self.store.forget_live_session(reset.backend, reset.resource_id)
        if claim.session is not None:
            await self._delete_session(claim.session)
        ticket = ownership.ticket_of(handle, claim)
        return await self.store.mark_session_reset_destroyed(
            reset.id,
            now=self.clock(),
            dispatch_name=claim.dispatch_name if claim.dispatch is not None else None,
            shadow=claim.shadow,
            details={TICKET_KEY: _ticket_json(ticket)},
        )

    async def _after_destroy(self, reset: SessionReset) -> Finished | None:
        """Stage 2: wait for the Dispatch's close-out, then reset the ticket if the run's end allows it."""
        details = _base_details(reset) | {"dispatch": reset.dispatch_name, "destroyed": True}
        what = f"destroyed {reset.backend} {reset.resource_id}"
        if reset.shadow:
            return Finished("reset", f"{what} (a shadow run); its Dispatch and ticket are left as they are", details)
        dispatch = await self._dispatch(reset.dispatch_name)
        if dispatch is not None and not (dispatch.get("status") or {}).get("closedAt"):
            return None
        ownership = await self.census.fresh_ownership()
        ticket = _ticket_from_json(reset.details.get(TICKET_KEY))
        if ticket is None or ticket.provider not in ("linear", "jira"):
            return Finished("reset", f"{what}; no ticket is known for it", details | {"ticket": None})
        details |= {"ticket": ticket.identifier, "markerRemoved": False, "dedupCleared": False}
        kept = _why_the_ticket_stays(dispatch, ownership, ticket, reset.dispatch_name)
        if kept is not None:
            return Finished("reset", f"{what}; {ticket.identifier} is left as it is: {kept}", details)
        return await self._reset_ticket(what, dispatch, ticket, details)

    async def _cancel_if_running(self, dispatch: KubeObject, reset: SessionReset) -> None:
        """Cancel a Dispatch that still runs, unless it changed since it was read (then its own end stands)."""
        name = dispatch["metadata"]["name"]
        if is_terminal((dispatch.get("status") or {}).get("phase")):
            return
        patch: dict[str, Any] = {
            "phase": "Cancelled",
            "finishedAt": kube_timestamp(self.clock()),
            "error": {
                "reason": CANCEL_REASON,
                "message": f"{reset.requested_by} destroyed the session from the sessions panel; "
                "the ticket goes back to the queue",
            },
        }
        body = {"metadata": {"resourceVersion": dispatch["metadata"]["resourceVersion"]}, "status": patch}
        try:
            await self.kube.merge_patch(
                DISPATCHES, self.namespace, name, body, subresource="status", field_manager=constants.FIELD_MANAGER
            )
        except ConflictError:
            logger.info("session reset %s: %s changed meanwhile; its own outcome stands", reset.id, name)

    async def _delete_session(self, session: KubeObject) -> None:
        """Its finalizer destroys the resource again (a no-op) and lets it go."""
        with contextlib.suppress(NotFoundError):
            await self.kube.delete(RUNNER_SESSIONS, self.namespace, session["metadata"]["name"])

    async def _dispatch(self, name: str | None) -> KubeObject | None:
        if name is None:
            return None
        try:
            return await self.kube.get(DISPATCHES, self.namespace, name)
        except NotFoundError:
            return None

    async def _reset_ticket(
        self, what: str, dispatch: KubeObject | None, ticket: TicketOf, details: dict[str, JsonValue]
    ) -> Finished:
        marker_removed, problem = await self._remove_marker(dispatch, ticket)
        dedup_cleared = await self._leave_dedup_window(ticket)
        details |= {"markerRemoved": marker_removed, "dedupCleared": dedup_cleared}
        outcome = f"{what}; {ticket.identifier} " + (
            "lost its in-progress marker" if marker_removed else f"keeps its in-progress marker ({problem})"
        )
        outcome += " and left the dedup window" if dedup_cleared else " and was not in the dedup window"
        return Finished("reset", outcome, details)

    async def _remove_marker(self, dispatch: KubeObject | None, ticket: TicketOf) -> tuple[bool, str | None]:
        assert ticket.provider in ("linear", "jira")
        updater = self.tickets.get(ticket.provider)
        if updater is None:
            return False, f"the {ticket.provider} credentials are not set"
        status = (dispatch.get("status") or {}) if dispatch is not None else {}
        issue = IssueRef(
            provider=ticket.provider,
            id=ticket.id or ticket.identifier,
            identifier=ticket.identifier,
            url=ticket.url or "",
        )
        try:
            await updater.reset(issue, status.get("ticketStatusBefore"))
        except (TicketGone, TicketCannotMove) as error:
            return False, str(error)
        except ServiceError as error:
            if error.temporary:
                raise
            return False, error.message
        return True, None

    async def _leave_dedup_window(self, ticket: TicketOf) -> bool:
        if ticket.id is not None and await self.store.remove_dedup(ticket.id):
            return True
        wanted = ticket.identifier.casefold()
        for entry in await self.store.list_dedup_window(self.clock()):
            if entry.identifier.casefold() == wanted:
                return await self.store.remove_dedup(entry.issue_id)
        return False


def _why_the_ticket_stays(
    dispatch: KubeObject | None, ownership: Ownership, ticket: TicketOf, dispatch_name: str | None
) -> str | None:
    """Why the ticket must not be reset, or None: its pull request is open, or another run of it is live."""
    other = ownership.live_run_of(ticket.identifier, dispatch_name)
    if other is not None:
        return f"another run of it ({other}) is in progress"
    if dispatch is None:
        return None
    kind = str((dispatch.get("spec") or {}).get("kind"))
    phase = str((dispatch.get("status") or {}).get("phase"))
    if not releases_ticket(kind, phase):
        return f"its {kind} run ended {phase} and its pull request carries the work on"
    return None


def _base_details(reset: SessionReset) -> dict[str, JsonValue]:
    return {"backend": reset.backend, "resourceId": reset.resource_id, "requestedBy": reset.requested_by}


def _ticket_json(ticket: TicketOf | None) -> JsonValue:
    if ticket is None:
        return None
    return {"provider": ticket.provider, "id": ticket.id, "identifier": ticket.identifier, "url": ticket.url}


def _ticket_from_json(value: JsonValue | None) -> TicketOf | None:
    if not isinstance(value, dict) or not isinstance(value.get("identifier"), str):
        return None

    def text(key: str) -> str | None:
        found = value.get(key)
        return found if isinstance(found, str) else None

    return TicketOf(provider=text("provider"), id=text("id"), identifier=str(value["identifier"]), url=text("url"))
