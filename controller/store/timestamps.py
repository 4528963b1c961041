"""A column type that stores every instant in UTC and gives it back timezone-aware on every database.

PostgreSQL keeps the offset itself (timestamptz); SQLite has no timestamp type and would return
naive datetimes. Storing UTC on both keeps comparisons in SQL correct and lets callers compare the
values they get back with the `now` they pass in.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused because its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware in, timezone-aware UTC out; a naive datetime is refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        in_utc = as_utc(value)
        return in_utc.replace(tzinfo=None) if dialect.name == "sqlite" else in_utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
