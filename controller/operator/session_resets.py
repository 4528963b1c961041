"""Destroy-and-reset of one runner session, asked for through `DELETE /api/sessions/:machineId`.

The API server records the request in the store; the active operator carries it out here, because
only the operator talks to runner backends. For a session whose Dispatch is still running, the
Dispatch is cancelled first (reason SessionDestroyed) so that its own close-out destroys the
session, comments on the ticket and tells the chat; the reset waits for that close-out before it
takes the marker off and lets the ticket out of the dedup window, so that no new run can start
while the old one is still closing (its close-out would take the new run's marker off). A request
is handled again every second until it finishes; a `SessionReset` condition on the Dispatch names
the request, so a destroyed machine is "already destroyed" only when this request did not do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.httpclient import ServiceError
from controller.kube import DISPATCHES, RUNNER_SESSIONS, KubeClient, KubeObject
from controller.kube.errors import KubeError, NotFoundError
from controller.operator.census import Claim, SessionCensus, TicketOf
from controller.operator.tickets import TicketCannotMove, TicketGone, TicketUpdater
from controller.resources.dispatch import IssueRef, is_terminal
from controller.runners.backend import METADATA_DISPATCH, RunHandle
from controller.runners.registry import BackendNotConfigured, Backends
from controller.store import JsonValue, SessionReset, SessionResetState, Store

logger = logging.getLogger("controller.operator.session_resets")

RESET_CONDITION = "SessionReset"
CANCEL_REASON = "SessionDestroyed"
GIVE_UP_AFTER = timedelta(minutes=10)
"""A request still unfinished this long after it was made (a backend or ticketing system down) fails."""


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
    dispatch_changed: Callable[[str], None] = lambda _: None
    interval: float = 1.0

    async def run(self) -> None:
        while True:
            try:
                await self.process_pending()
            except Exception:
                logger.exception("unexpected failure handling session resets")
            await asyncio.sleep(self.interval)

    async def process_pending(self) -> int:
        """Move every waiting request forward once; returns how many finished."""
        finished = 0
        for reset in await self.store.pending_session_resets():
            if await self.handle(reset):
                finished += 1
        return finished

    async def handle(self, reset: SessionReset) -> bool:
        """One step of one request; True when it finished (either way)."""
        try:
            outcome = await self._reset(reset)
        except BackendNotConfigured as error:
            outcome = Finished("failed", str(error), _base_details(reset))
        except (ServiceError, KubeError, OSError) as error:
            message = error.message if isinstance(error, ServiceError) else str(error)
            temporary = not isinstance(error, ServiceError) or error.temporary  # the API server: try again
            if temporary and self.clock() - reset.requested_at < GIVE_UP_AFTER:
                logger.warning("session reset %s waits: %s", reset.id, message)
                return False
            outcome = Finished("failed", f"the reset could not be completed: {message}", _base_details(reset))
        if outcome is None:
            return False
        await self.store.finish_session_reset(
            reset.id, state=outcome.state, message=outcome.message, details=outcome.details, now=self.clock()
        )
        logger.info("session reset %s of %s %s: %s", reset.id, reset.backend, reset.resource_id, outcome.message)
        return True

    async def _reset(self, reset: SessionReset) -> Finished | None:
        backend = self.backends.backend(reset.backend)
        handle = await backend.status(reset.resource_id)
        gone = handle is None or handle.state == "destroyed"
        ownership = await self.census.fresh_ownership()
        probe = handle or await self._remembered(reset)
        claim = ownership.claim(probe)
        details = _base_details(reset) | {"dispatch": claim.dispatch_name}
        dispatch = claim.dispatch
        requested_here = dispatch is not None and _names_request(dispatch, reset.id)
        if gone and not requested_here:
            await self.store.forget_live_session(reset.backend, reset.resource_id)
            return Finished(
                "already-destroyed",
                f"{reset.backend} {reset.resource_id} was already destroyed; nothing else was changed",
                details | {"destroyed": False},
            )
        if claim.foreign:
            return Finished(
                "failed",
                f"{reset.resource_id} is labelled for another namespace or tenant: this controller leaves it alone",
                details | {"destroyed": False},
            )
        if dispatch is not None and not claim.shadow and not requested_here:
            await self._claim_dispatch(dispatch, reset)
        if not gone:
            await backend.destroy(reset.resource_id)
            await self.store.forget_live_session(reset.backend, reset.resource_id)
        if claim.session is not None:
            await self._delete_session(claim.session)
        details["destroyed"] = True
        if claim.shadow:
            return Finished(
                "reset",
                f"destroyed the shadow run {reset.resource_id}; its Dispatch and ticket are left as they are",
                details,
            )
        if dispatch is not None and not await self._closed(claim):
            if self.clock() - reset.requested_at < GIVE_UP_AFTER:
                return None
            return Finished(
                "failed",
                f"destroyed {reset.resource_id}, but Dispatch {claim.dispatch_name} did not close out within "
                f"{int(GIVE_UP_AFTER.total_seconds() // 60)} min (see the operator's log): the ticket was not reset",
                details,
            )
        ticket = ownership.ticket_of(probe, claim)
        if ticket is not None and (other := ownership.live_run_of(ticket.identifier, claim.dispatch_name)):
            return Finished(
                "reset",
                f"destroyed {reset.backend} {reset.resource_id}; {ticket.identifier} is left as it is because "
                f"another run of it ({other}) is in progress",
                details | {"ticket": ticket.identifier, "markerRemoved": False, "dedupCleared": False},
            )
        return await self._reset_ticket(reset, claim, ticket, details)

    async def _remembered(self, reset: SessionReset) -> RunHandle:
        """A resource the backend no longer has, as the last census saw it (for its labels)."""
        row = await self.store.live_session(reset.resource_id, reset.backend)
        metadata = {METADATA_DISPATCH: row.dispatch_name} if row is not None and row.dispatch_name else {}
        return RunHandle(
            backend=reset.backend,
            id=reset.resource_id,
            name=row.name if row is not None else "",
            state="destroyed",
            backend_state="gone",
            metadata=metadata,
        )

    async def _claim_dispatch(self, dispatch: KubeObject, reset: SessionReset) -> None:
        """Name the request on the Dispatch, and cancel it if it still runs, before anything is destroyed."""
        name = dispatch["metadata"]["name"]
        status = dispatch.get("status") or {}
        now = kube_timestamp(self.clock())
        condition = {
            "type": RESET_CONDITION,
            "status": "True",
            "reason": "DestroyedByOperator",
            "message": f"reset request {reset.id}: {reset.requested_by} destroyed the session {reset.resource_id}",
            "lastTransitionTime": now,
        }
        others = [c for c in status.get("conditions") or [] if c.get("type") != RESET_CONDITION]
        patch: dict[str, Any] = {"conditions": [*others, condition]}
        if not is_terminal(status.get("phase")):
            patch |= {
                "phase": "Cancelled",
                "finishedAt": now,
                "error": {
                    "reason": CANCEL_REASON,
                    "message": f"{reset.requested_by} destroyed the session from the sessions panel; "
                    "the ticket goes back to the queue",
                },
            }
        await self.kube.merge_patch(
            DISPATCHES,
            self.namespace,
            name,
            {"status": patch},
            subresource="status",
            field_manager=constants.FIELD_MANAGER,
        )
        self.dispatch_changed(name)

    async def _delete_session(self, session: KubeObject) -> None:
        """Its finalizer destroys the resource again (a no-op) and lets it go."""
        with contextlib.suppress(NotFoundError):
            await self.kube.delete(RUNNER_SESSIONS, self.namespace, session["metadata"]["name"])

    async def _closed(self, claim: Claim) -> bool:
        assert claim.dispatch_name is not None
        try:
            dispatch = await self.kube.get(DISPATCHES, self.namespace, claim.dispatch_name)
        except NotFoundError:
            return True
        return bool((dispatch.get("status") or {}).get("closedAt"))

    async def _reset_ticket(
        self, reset: SessionReset, claim: Claim, ticket: TicketOf | None, details: dict[str, JsonValue]
    ) -> Finished:
        what = f"destroyed {reset.backend} {reset.resource_id}"
        if ticket is None or ticket.provider not in ("linear", "jira"):
            return Finished("reset", f"{what}; no ticket is known for it", details | {"ticket": None})
        details |= {"ticket": ticket.identifier}
        marker_removed, problem = await self._remove_marker(claim, ticket)
        dedup_cleared = await self._leave_dedup_window(ticket)
        details |= {"markerRemoved": marker_removed, "dedupCleared": dedup_cleared}
        outcome = f"{what}; {ticket.identifier} " + (
            "lost its in-progress marker" if marker_removed else f"keeps its in-progress marker ({problem})"
        )
        outcome += " and left the dedup window" if dedup_cleared else " and was not in the dedup window"
        return Finished("reset", outcome, details)

    async def _remove_marker(self, claim: Claim, ticket: TicketOf) -> tuple[bool, str | None]:
        assert ticket.provider in ("linear", "jira")
        updater = self.tickets.get(ticket.provider)
        if updater is None:
            return False, f"the {ticket.provider} credentials are not set"
        status = (claim.dispatch.get("status") or {}) if claim.dispatch is not None else {}
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


def _names_request(dispatch: KubeObject, reset_id: int) -> bool:
    conditions = (dispatch.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == RESET_CONDITION and str(c.get("message", "")).startswith(f"reset request {reset_id}:")
        for c in conditions
    )


def _base_details(reset: SessionReset) -> dict[str, JsonValue]:
    return {"backend": reset.backend, "resourceId": reset.resource_id, "requestedBy": reset.requested_by}
