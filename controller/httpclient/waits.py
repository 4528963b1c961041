"""Rate-limit wait signals, each in its own unit, turned into seconds to wait from now.

The units differ per service (EXTERNAL_APIS.md §8.1: seconds, HTTP-dates, epoch milliseconds,
ISO-8601 instants), and mixing them up is the most common client bug, so each parser names its
unit and every one answers "seconds from `now`", or None when the header is absent or unreadable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypeAlias

ResetParser: TypeAlias = Callable[[Mapping[str, str], float], float | None]
"""A service's own reading of its headers: (headers, now as epoch seconds) → seconds to wait, or None."""


def seconds_from_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment.timestamp() - now, 0.0)


def seconds_until_epoch_ms(value: str | None, now: float) -> float | None:
    """A reset given as UTC epoch **milliseconds** (Linear)."""
    if value is None:
        return None
    try:
        reset_ms = float(value.strip())
    except ValueError:
        return None
    return max(reset_ms / 1000.0 - now, 0.0)


def seconds_until_epoch_seconds(value: str | None, now: float) -> float | None:
    """A reset given as UTC epoch **seconds** (GitHub)."""
    if value is None:
        return None
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    return max(reset - now, 0.0)


def seconds_until_iso_instant(value: str | None, now: float) -> float | None:
    """A reset given as an ISO-8601 instant, with or without seconds and fraction (Jira's `…T03:04Z`)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(moment.timestamp() - now, 0.0)


def signalled_wait(headers: Mapping[str, str], now: float, reset_parser: ResetParser | None) -> float | None:
    """`Retry-After` wins when present (every service that sends it means it); else the service's reset."""
    wait = seconds_from_retry_after(headers.get("retry-after"), now)
    if wait is None and reset_parser is not None:
        wait = reset_parser(headers, now)
    return wait
