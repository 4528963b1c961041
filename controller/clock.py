"""Time as a dependency: decisions take `now` from a `Clock` so that tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock, always timezone-aware UTC."""
    return datetime.now(UTC)
