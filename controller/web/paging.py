"""Cursor paging of the long listings: /api/mappings, /api/issues and the admin panels that show them.

A cursor is an opaque token for a place in the listing's order (the sort key of an item) and a
direction: the page after it (`nextCursor`) or the page before it (`previousCursor`). Places are
sort keys rather than offsets, so a mapping or ticket that appears or goes away while someone pages
moves no other item onto another page, and reading a page costs what the page holds: a bisection
of a sorted cache, or a keyset query on the store.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from aiohttp import web

from controller.web.errors import ApiError
from controller.web.routing import QueryParameter, limit_parameter

T = TypeVar("T")
SortKey = tuple[str, ...]
"""An item's place in its listing's order, unique within the listing."""

MAX_CURSOR_LENGTH: Final = 2048
_AFTER, _BEFORE = "after", "before"


@dataclass(frozen=True)
class Position:
    """Where a page starts (`forward`: the items after `key`) or ends (the items before `key`)."""

    key: SortKey
    forward: bool


@dataclass(frozen=True)
class Window(Generic[T]):
    """One page of a listing, and whether the listing goes on past either end of it."""

    items: Sequence[T]
    more_before: bool
    more_after: bool

    def cursors(self, key_of: Callable[[T], SortKey]) -> tuple[str | None, str | None]:
        """(previousCursor, nextCursor): None where the listing ends."""
        if not self.items:
            return None, None
        previous = encode_cursor(Position(key_of(self.items[0]), forward=False)) if self.more_before else None
        following = encode_cursor(Position(key_of(self.items[-1]), forward=True)) if self.more_after else None
        return previous, following


def paging_parameters(default: int, maximum: int, order: str) -> dict[str, QueryParameter]:
    """`limit` and `cursor` as the OpenAPI document declares them (`limit_of` and `cursor_of` read them)."""
    return limit_parameter(default, maximum, order=order) | {
        "cursor": QueryParameter(
            "Where the page starts: the nextCursor (or previousCursor) of an earlier answer; "
            "left out, the first page. Opaque: pass it back as it came.",
            schema={"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": MAX_CURSOR_LENGTH},
        )
    }


def encode_cursor(position: Position) -> str:
    text = json.dumps({_AFTER if position.forward else _BEFORE: list(position.key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> Position:
    """The place a cursor of this listing names; ValueError for anything this server did not hand out."""
    refused = ValueError(f"not a cursor of a listing with {arity}-part sort keys: {cursor[:60]!r}")
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise refused
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise refused from None
    if not isinstance(decoded, dict) or len(decoded) != 1:
        raise refused
    [(direction, key)] = decoded.items()
    if direction not in (_AFTER, _BEFORE) or not isinstance(key, list) or len(key) != arity:
        raise refused
    if not all(isinstance(part, str) for part in key):
        raise refused
    return Position(tuple(key), forward=direction == _AFTER)


def cursor_of(request: web.Request, arity: int) -> Position | None:
    """The `cursor` query parameter of a listing whose sort keys have `arity` parts; None for the first page."""
    text = request.query.get("cursor")
    if text is None:
        return None
    try:
        return decode_cursor(text, arity)
    except ValueError:
        shown = text if len(text) <= 60 else f"{text[:60]}…"
        raise ApiError(
            422,
            "invalid_cursor",
            f"cursor={shown!r} is not a cursor of this listing: pass the nextCursor or previousCursor "
            "of an earlier answer as it came, or leave cursor out for the first page",
        ) from None


def window_of_sorted(items: Sequence[T], keys: Sequence[SortKey], position: Position | None, limit: int) -> Window[T]:
    """The page of `items` (sorted, `keys` theirs in the same order) at `position`: two bisections and a slice."""
    if position is None:
        start, end = 0, min(limit, len(items))
    elif position.forward:
        start = bisect_right(keys, position.key)
        end = min(start + limit, len(items))
    else:
        end = bisect_left(keys, position.key)
        start = max(0, end - limit)
    return Window(items=items[start:end], more_before=start > 0, more_after=end < len(items))
