"""Time as a dependency: decisions take `now` from a `Clock` so that tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock, always timezone-aware UTC."""
    return datetime.now(UTC)


def kube_timestamp(moment: datetime) -> str:
    """RFC 3339 with `Z`, as Kubernetes writes times in resources."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_kube_timestamp(text: object) -> datetime | None:
    """A Kubernetes time (`2026-12-07T15:00:00Z`) as aware UTC; None when absent or not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
