"""Cursor paging's pure parts: which slice a place names, and which cursors the server hands out or refuses."""

from __future__ import annotations

import base64

import pytest

from controller.web.paging import MAX_CURSOR_LENGTH, Position, Window, decode_cursor, encode_cursor, window_of_sorted

LETTERS = ["A", "C", "E", "G", "I"]
KEYS = [(letter,) for letter in LETTERS]


def after(key: str) -> Position:
    return Position((key,), forward=True)


def before(key: str) -> Position:
    return Position((key,), forward=False)


@pytest.mark.parametrize(
    ("case", "position", "limit", "items", "more_before", "more_after"),
    [
        ("first-page", None, 2, ["A", "C"], False, True),
        ("first-page-is-everything", None, 5, LETTERS, False, False),
        ("first-page-bigger-than-everything", None, 9, LETTERS, False, False),
        ("after-an-item", after("C"), 2, ["E", "G"], True, True),
        ("after-a-gone-item-between-two", after("D"), 2, ["E", "G"], True, True),
        ("exactly-the-last-page", after("E"), 2, ["G", "I"], True, False),
        ("after-the-last", after("I"), 2, [], True, False),
        ("after-a-place-before-everything", after("0"), 2, ["A", "C"], False, True),
        ("before-an-item", before("G"), 2, ["C", "E"], True, True),
        ("exactly-the-first-page-backwards", before("E"), 2, ["A", "C"], False, True),
        ("before-near-the-start-is-short", before("C"), 2, ["A"], False, True),
        ("before-the-first", before("A"), 2, [], False, True),
        ("before-a-place-after-everything", before("Z"), 2, ["G", "I"], True, False),
    ],
)
def test_the_window_at_a_place(
    case: str, position: Position | None, limit: int, items: list[str], more_before: bool, more_after: bool
) -> None:
    window = window_of_sorted(LETTERS, KEYS, position, limit)

    assert (list(window.items), window.more_before, window.more_after) == (items, more_before, more_after), case


def test_paging_forward_then_back_visits_each_item_once_in_order() -> None:
    items = [f"T{n:03d}" for n in range(23)]
    keys = [(item,) for item in items]
    seen: list[str] = []
    position: Position | None = None
    while True:
        window = window_of_sorted(items, keys, position, 5)
        seen += window.items
        previous, following = window.cursors(lambda item: (item,))
        if following is None:
            break
        position = decode_cursor(following, 1)
    assert seen == items

    back: list[str] = list(window.items)
    while previous is not None:
        window = window_of_sorted(items, keys, decode_cursor(previous, 1), 5)
        back = list(window.items) + back
        previous, _ = window.cursors(lambda item: (item,))
    assert back == items


def test_the_ends_of_a_listing_have_no_cursor() -> None:
    assert Window(items=["A"], more_before=False, more_after=False).cursors(lambda item: (item,)) == (None, None)
    assert Window(items=[], more_before=True, more_after=True).cursors(lambda item: (item,)) == (None, None)


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    position = Position(("ENG", "ENG-12", "ä/+?&="), forward=False)

    cursor = encode_cursor(position)

    assert decode_cursor(cursor, 3) == position
    assert cursor.replace("-", "").replace("_", "").isalnum()


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("case", "cursor"),
    [
        ("not-base64", "!!!"),
        ("base64-of-no-json", b64("ENG")),
        ("base64-of-bytes-not-utf8", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
        ("impossible-length", "A"),
        ("json-not-an-object", b64('["ENG"]')),
        ("unknown-direction", b64('{"around":["ENG"]}')),
        ("both-directions", b64('{"after":["A"],"before":["B"]}')),
        ("key-of-another-listing", b64('{"after":["ENG","ENG-1","id"]}')),
        ("key-not-strings", b64('{"after":[12]}')),
        ("key-not-a-list", b64('{"after":"ENG"}')),
        ("not-ascii", "ÉNG"),
        ("too-long", "A" * (MAX_CURSOR_LENGTH + 1)),
    ],
)
def test_cursors_this_server_did_not_hand_out_are_refused(case: str, cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor of a listing with 1-part sort keys"):
        decode_cursor(cursor, 1)
