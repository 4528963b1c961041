"""The census of live runner sessions: what the leader last listed on each backend (GET /api/sessions).

Only the leader talks to the backends; it replaces one backend's rows with each census, and the API
reads them. Replacing a backend in one transaction means a reader sees one census or the next,
never half of each; a failed census keeps the previous rows and says why it failed.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, literal, select

from controller.store.base import StoreBase
from controller.store.records import CensusState, LiveSession, ObservedSession
from controller.store.tables import LiveSessionRow, SessionCensusRow
from controller.store.timestamps import UtcDateTime, as_utc
from controller.store.vocabulary import SessionBackend

_KEY = ("backend", "resource_id")
_FIRST_SEEN = "first_seen_at"

UNKNOWN_AGE: Final = datetime(9999, 12, 31, tzinfo=UTC)
"""Where a session whose backend does not say when it was created sorts: after every other."""
SessionKey = tuple[datetime, datetime, str, str]
"""A session's place in the listing: (created, or UNKNOWN_AGE; first seen; resource id; backend)."""
_AGE = func.coalesce(LiveSessionRow.created_at, literal(UNKNOWN_AGE, UtcDateTime()))
_LISTING_ORDER = (_AGE, LiveSessionRow.first_seen_at, LiveSessionRow.resource_id, LiveSessionRow.backend)


def session_key(session: LiveSession) -> SessionKey:
    return (session.created_at or UNKNOWN_AGE, session.first_seen_at, session.resource_id, session.backend)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSessionPage:
    """Up to `limit` sessions, oldest first, and whether there are more on either side of them."""

    sessions: Sequence[LiveSession]
    more_before: bool
    more_after: bool
    total: int
    """Every session the listing selects, on every page."""


class LiveSessions(StoreBase):
    """Replace one backend's census, record a failed one, and list the sessions and how the censuses went."""

    async def replace_live_sessions(
        self, backend: SessionBackend, sessions: Iterable[ObservedSession], observed_at: datetime
    ) -> None:
        """Make `sessions` the backend's whole census: vanished ones go, ones seen before keep `first_seen_at`.

        A resource listed twice keeps its last listing, as a backend paging through a changing list
        may return it twice.
        """
        observed_at = as_utc(observed_at)
        latest = {session.resource_id: session for session in sessions}
        strays = sorted(resource_id for resource_id, session in latest.items() if session.backend != backend)
        if strays:
            raise ValueError(
                f"cannot replace the {backend} census with sessions of another backend: {', '.join(strays)}"
            )
        values = [_row_values(session, observed_at) for session in latest.values()]
        vanished = delete(LiveSessionRow).where(
            LiveSessionRow.backend == backend, LiveSessionRow.resource_id.not_in(list(latest))
        )
        census = {"last_attempt_at": observed_at, "last_success_at": observed_at, "error": None}
        async with self._transaction() as session:
            await self._serialise(session, f"live_sessions:{backend}")
            await session.execute(vanished)
            if values:
                upsert = self._insert(LiveSessionRow)
                kept = {column: upsert.excluded[column] for column in values[0] if column not in (*_KEY, _FIRST_SEEN)}
                connection = await session.connection()
                await connection.execute(upsert.on_conflict_do_update(index_elements=list(_KEY), set_=kept), values)
            await session.execute(
                self._insert(SessionCensusRow)
                .values(backend=backend, **census)
                .on_conflict_do_update(index_elements=["backend"], set_=census)
            )

    async def record_census_failure(self, backend: SessionBackend, at: datetime, error: str) -> None:
        """Say why listing the backend failed; its sessions stay as the last successful census saw them."""
        attempt = {"last_attempt_at": as_utc(at), "error": error}
        statement = (
            self._insert(SessionCensusRow)
            .values(backend=backend, last_success_at=None, **attempt)
            .on_conflict_do_update(index_elements=["backend"], set_=attempt)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def live_sessions(self, backend: SessionBackend | None = None) -> Sequence[LiveSession]:
        """The sessions of every backend (or of one), oldest first; those of unknown age after the rest."""
        query = select(LiveSessionRow).order_by(
            LiveSessionRow.created_at.asc().nulls_last(),
            LiveSessionRow.first_seen_at,
            LiveSessionRow.resource_id,
            LiveSessionRow.backend,
        )
        if backend is not None:
            query = query.where(LiveSessionRow.backend == backend)
        async with self._transaction() as session:
            return [_live_session(row) for row in await session.scalars(query)]

    async def live_session_counts(self, states: Collection[str]) -> Mapping[SessionBackend, int]:
        """How many sessions in one of `states` each backend has: one grouped count, no row read."""
        query = (
            select(LiveSessionRow.backend, func.count())
            .where(LiveSessionRow.state.in_(list(states)))
            .group_by(LiveSessionRow.backend)
        )
        async with self._transaction() as session:
            return dict((await session.execute(query)).all())

    async def newest_live_sessions(self, states: Collection[str], limit: int) -> Sequence[LiveSession]:
        """The `limit` sessions in one of `states` that the census saw first most recently."""
        query = (
            select(LiveSessionRow)
            .where(LiveSessionRow.state.in_(list(states)))
            .order_by(
                LiveSessionRow.first_seen_at.desc(),
                LiveSessionRow.created_at.asc().nulls_last(),
                LiveSessionRow.resource_id,
                LiveSessionRow.backend,
            )
            .limit(limit)
        )
        async with self._transaction() as session:
            return [_live_session(row) for row in await session.scalars(query)]

    async def live_session_page(
        self,
        *,
        states: Collection[str],
        backend: SessionBackend | None = None,
        after: SessionKey | None = None,
        before: SessionKey | None = None,
        limit: int,
    ) -> LiveSessionPage:
        """The `limit` sessions in one of `states` after `after` (or before `before`, or the first ones),
        in the order of `live_sessions`: a keyset query, so a page costs what it holds."""
        selected: list[ColumnElement[bool]] = [LiveSessionRow.state.in_(list(states))]
        if backend is not None:
            selected.append(LiveSessionRow.backend == backend)
        page = await self._keyset_page(
            LiveSessionRow, _LISTING_ORDER, where=selected, after=after, before=before, limit=limit
        )
        return LiveSessionPage(
            sessions=[_live_session(row) for row in page.rows],
            more_before=page.more_before,
            more_after=page.more_after,
            total=page.total,
        )

    async def live_session(self, resource_id: str, backend: SessionBackend | None = None) -> LiveSession | None:
        """One session by its resource id; with no backend given, the first backend listing that id."""
        query = select(LiveSessionRow).where(LiveSessionRow.resource_id == resource_id).order_by(LiveSessionRow.backend)
        if backend is not None:
            query = query.where(LiveSessionRow.backend == backend)
        async with self._transaction() as session:
            row = await session.scalar(query.limit(1))
            return _live_session(row) if row is not None else None

    async def forget_live_session(self, backend: SessionBackend, resource_id: str) -> bool:
        """Drop a session the leader has just destroyed, so the panel need not wait for the next census."""
        statement = delete(LiveSessionRow).where(
            LiveSessionRow.backend == backend, LiveSessionRow.resource_id == resource_id
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1

    async def census_states(self) -> Sequence[CensusState]:
        """How the latest census of each backend went, for every backend listed at least once."""
        query = select(SessionCensusRow).order_by(SessionCensusRow.backend)
        async with self._transaction() as session:
            return [
                CensusState(
                    backend=row.backend,
                    last_attempt_at=row.last_attempt_at,
                    last_success_at=row.last_success_at,
                    error=row.error,
                )
                for row in await session.scalars(query)
            ]


def _row_values(session: ObservedSession, observed_at: datetime) -> dict[str, Any]:
    return {
        "backend": session.backend,
        "resource_id": session.resource_id,
        "name": session.name,
        "state": session.state,
        "backend_state": session.backend_state,
        "created_at": as_utc(session.created_at) if session.created_at is not None else None,
        "first_seen_at": observed_at,
        "observed_at": observed_at,
        "region": session.region,
        "app": session.app,
        "url": session.url,
        "dispatch_name": session.dispatch_name,
        "issue_identifier": session.issue_identifier,
        "issue_url": session.issue_url,
        "team_key": session.team_key,
        "repo": session.repo,
        "tenant": session.tenant,
        "namespace": session.namespace,
    }


def _live_session(row: LiveSessionRow) -> LiveSession:
    return LiveSession(
        backend=row.backend,
        resource_id=row.resource_id,
        name=row.name,
        state=row.state,
        backend_state=row.backend_state,
        created_at=row.created_at,
        first_seen_at=row.first_seen_at,
        observed_at=row.observed_at,
        region=row.region,
        app=row.app,
        url=row.url,
        dispatch_name=row.dispatch_name,
        issue_identifier=row.issue_identifier,
        issue_url=row.issue_url,
        team_key=row.team_key,
        repo=row.repo,
        tenant=row.tenant,
        namespace=row.namespace,
    )
