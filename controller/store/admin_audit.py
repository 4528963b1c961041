"""The admin audit trail: who changed what through the admin UI or API, newest first.

Details describe the change (a mapping field, a secret's name) and never carry secret values.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select

from controller.store.base import StoreBase
from controller.store.records import AuditEntry
from controller.store.tables import AdminAuditRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import JsonValue


class AdminAudit(StoreBase):
    """Append to the audit trail and read its latest entries."""

    async def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, JsonValue] | None = None,
    ) -> AuditEntry:
        """Record one admin change; `action` is dotted, like "mapping.update" or "secret.set"."""
        row = AdminAuditRow(at=as_utc(at), actor=actor, action=action, target=target, details=dict(details or {}))
        async with self._transaction() as session:
            session.add(row)
            await session.flush()
            return _audit_entry(row)

    async def recent_audit(self, limit: int) -> Sequence[AuditEntry]:
        """The latest changes, newest first."""
        query = select(AdminAuditRow).order_by(AdminAuditRow.at.desc(), AdminAuditRow.id.desc()).limit(limit)
        async with self._transaction() as session:
            rows = await session.scalars(query)
            return [_audit_entry(row) for row in rows]


def _audit_entry(row: AdminAuditRow) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, action=row.action, target=row.target, details=row.details)
