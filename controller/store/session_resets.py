"""Destroy-and-reset requests for runner sessions: the API asks, the leader carries them out and answers.

The API never talks to the backends, so a reset is a row here: pending until the leader has acted,
then finished with what happened. Asking again while a request is pending returns that request, so
that a double click or two replicas do not destroy a session twice.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import JSON, Boolean, String, and_, delete, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from controller.store.base import StoreBase
from controller.store.records import SessionReset
from controller.store.tables import SessionResetRow
from controller.store.timestamps import UtcDateTime, as_utc
from controller.store.vocabulary import SESSION_RESET_STATES, JsonValue, SessionBackend, SessionResetState

_LOCK = "session_resets"


class SessionResets(StoreBase):
    """Ask for a reset, list the pending ones, finish them, and purge the finished ones."""

    async def request_session_reset(
        self, *, backend: SessionBackend, resource_id: str, requested_by: str, now: datetime
    ) -> SessionReset:
        """Ask the leader to destroy and reset a session; a request already pending for it is returned instead.

        One INSERT ... WHERE NOT EXISTS decides, so that SQLite, which takes its write lock only at
        the first write, cannot let two callers both find nothing pending.
        """
        pending = _pending(backend, resource_id)
        request = select(
            literal(backend, String()),
            literal(resource_id, String()),
            literal(requested_by, String()),
            literal(as_utc(now), UtcDateTime()),
            literal("pending", String()),
            literal({}, JSON()),
            literal(False, Boolean()),
        ).where(~exists().where(pending))
        columns = ["backend", "resource_id", "requested_by", "requested_at", "state", "details", "shadow"]
        insert = self._insert(SessionResetRow).from_select(columns, request, include_defaults=False)
        async with self._transaction() as session:
            await self._serialise(session, _LOCK)
            await session.execute(insert)
            row = await session.scalar(select(SessionResetRow).where(pending).order_by(SessionResetRow.id).limit(1))
            assert row is not None, "a pending reset was just found or inserted under the lock"
            return _session_reset(row)

    async def pending_session_resets(self, limit: int = 20) -> Sequence[SessionReset]:
        """The requests the leader has still to carry out, oldest first."""
        query = (
            select(SessionResetRow)
            .where(SessionResetRow.state == "pending")
            .order_by(SessionResetRow.requested_at, SessionResetRow.id)
            .limit(limit)
        )
        async with self._transaction() as session:
            return [_session_reset(row) for row in await session.scalars(query)]

    async def finish_session_reset(
        self,
        reset_id: int,
        *,
        state: SessionResetState,
        message: str,
        details: Mapping[str, JsonValue],
        now: datetime,
    ) -> SessionReset:
        """Record what carrying out a request did; a request finished already keeps its first answer."""
        if state == "pending":
            finished = ", ".join(repr(word) for word in SESSION_RESET_STATES if word != "pending")
            raise ValueError(f"a session reset finishes as one of {finished}, not 'pending' (reset {reset_id})")
        statement = (
            update(SessionResetRow)
            .where(SessionResetRow.id == reset_id, SessionResetRow.state == "pending")
            .values(state=state, message=message, details=dict(details), finished_at=as_utc(now))
        )
        async with self._transaction() as session:
            await self._serialise(session, _LOCK)
            await self._rows_affected(session, statement)
            row = await _reset_row(session, reset_id)
            if row is None:
                raise LookupError(f"no session reset has the id {reset_id}")
            return _session_reset(row)

    async def mark_session_reset_started(self, reset_id: int, now: datetime) -> SessionReset:
        """The leader took the request up; the first time only counts."""
        return await self._progress(reset_id, SessionResetRow.started_at.is_(None), started_at=as_utc(now))

    async def mark_session_reset_destroyed(
        self,
        reset_id: int,
        *,
        now: datetime,
        dispatch_name: str | None,
        shadow: bool,
        details: Mapping[str, JsonValue] | None = None,
    ) -> SessionReset:
        """The resource is destroyed (and its Dispatch, if any, claimed): the rest only waits and resets.

        `details` keeps what the rest needs and can no longer read from the resource (its ticket).
        """
        return await self._progress(
            reset_id,
            SessionResetRow.destroyed_at.is_(None),
            destroyed_at=as_utc(now),
            dispatch_name=dispatch_name,
            shadow=shadow,
            details=dict(details or {}),
        )

    async def _progress(self, reset_id: int, unset: ColumnElement[bool], **values: object) -> SessionReset:
        statement = (
            update(SessionResetRow)
            .where(SessionResetRow.id == reset_id, SessionResetRow.state == "pending", unset)
            .values(**values)
        )
        async with self._transaction() as session:
            await self._rows_affected(session, statement)
            row = await _reset_row(session, reset_id)
            if row is None:
                raise LookupError(f"no session reset has the id {reset_id}")
            return _session_reset(row)

    async def session_reset(self, reset_id: int) -> SessionReset | None:
        async with self._transaction() as session:
            row = await _reset_row(session, reset_id)
            return _session_reset(row) if row is not None else None

    async def purge_session_resets(self, older_than: datetime) -> int:
        """Drop requests finished before `older_than`; pending ones stay however old they are."""
        statement = delete(SessionResetRow).where(
            SessionResetRow.state != "pending", SessionResetRow.finished_at < as_utc(older_than)
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement)


def _pending(backend: SessionBackend, resource_id: str) -> ColumnElement[bool]:
    return and_(
        SessionResetRow.backend == backend,
        SessionResetRow.resource_id == resource_id,
        SessionResetRow.state == "pending",
    )


async def _reset_row(session: AsyncSession, reset_id: int) -> SessionResetRow | None:
    """The row as the database has it now, not as this session may have cached it before an UPDATE."""
    return await session.get(SessionResetRow, reset_id, populate_existing=True)


def _session_reset(row: SessionResetRow) -> SessionReset:
    return SessionReset(
        id=row.id,
        backend=row.backend,
        resource_id=row.resource_id,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        state=row.state,
        finished_at=row.finished_at,
        message=row.message,
        details=row.details,
        started_at=row.started_at,
        destroyed_at=row.destroyed_at,
        dispatch_name=row.dispatch_name,
        shadow=row.shadow,
    )
