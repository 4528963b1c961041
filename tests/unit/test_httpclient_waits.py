"""Wait signals in every unit the services use, each turned into seconds from now."""

from __future__ import annotations

import pytest
from httpx import Headers

from controller.httpclient import (
    seconds_from_retry_after,
    seconds_until_epoch_ms,
    seconds_until_epoch_seconds,
    seconds_until_iso_instant,
    signalled_wait,
)
from controller.ticketing.jira import jira_reset_wait
from controller.ticketing.linear import linear_reset_wait

NOW = 1_767_323_040.0
"""2026-01-02T03:04:00Z."""


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Fri, 02 Jan 2026 03:04:30 GMT", 30.0),
        ("Fri, 02 Jan 2026 03:03:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, wait: float | None) -> None:
    assert seconds_from_retry_after(value, NOW) == wait


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        (str(int(NOW * 1000) + 1500), 1.5),
        (str(int(NOW * 1000) - 1), 0.0),
        ("not-a-number", None),
        (None, None),
    ],
)
def test_epoch_milliseconds(value: str | None, wait: float | None) -> None:
    result = seconds_until_epoch_ms(value, NOW)

    assert result == (pytest.approx(wait) if wait is not None else None)


def test_epoch_seconds() -> None:
    assert seconds_until_epoch_seconds(str(int(NOW) + 42), NOW) == 42.0
    assert seconds_until_epoch_seconds("x", NOW) is None


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("2026-01-02T03:05Z", 60.0),
        ("2026-01-02T03:04:10Z", 10.0),
        ("2026-01-02T03:04:05.500+0000", 5.5),
        ("2026-01-02T04:04:00+01:00", 0.0),
        ("2026-01-02T03:05", None),
        ("tomorrow", None),
        (None, None),
    ],
)
def test_iso_instants(value: str | None, wait: float | None) -> None:
    assert seconds_until_iso_instant(value, NOW) == wait


def test_retry_after_wins_over_a_services_reset() -> None:
    headers = Headers({"Retry-After": "3", "X-RateLimit-Reset": "2026-01-02T03:05Z"})

    assert signalled_wait(headers, NOW, jira_reset_wait) == 3.0
    assert signalled_wait(Headers({"X-RateLimit-Reset": "2026-01-02T03:05Z"}), NOW, jira_reset_wait) == 60.0
    assert signalled_wait(Headers({}), NOW, jira_reset_wait) is None
    assert signalled_wait(Headers({"X-RateLimit-Reset": "2026-01-02T03:05Z"}), NOW, None) is None


def ms(seconds_from_now: float) -> str:
    return str(round((NOW + seconds_from_now) * 1000))


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        pytest.param(
            {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": ms(2)}, 2.0, id="requests-spent"
        ),
        pytest.param(
            {
                "X-RateLimit-Requests-Remaining": "0",
                "X-RateLimit-Requests-Reset": ms(2),
                "X-RateLimit-Complexity-Remaining": "0",
                "X-RateLimit-Complexity-Reset": ms(9),
            },
            9.0,
            id="latest-of-spent-budgets",
        ),
        pytest.param(
            {
                "X-RateLimit-Requests-Remaining": "0",
                "X-RateLimit-Requests-Reset": ms(2),
                "X-RateLimit-Complexity-Remaining": "5000",
                "X-RateLimit-Complexity-Reset": ms(900),
            },
            2.0,
            id="budgets-with-room-do-not-count",
        ),
        pytest.param(
            {"X-RateLimit-Endpoint-Requests-Remaining": "0", "X-RateLimit-Endpoint-Requests-Reset": ms(4)},
            4.0,
            id="endpoint-budget",
        ),
        pytest.param(
            {"X-RateLimit-Requests-Remaining": "10", "X-RateLimit-Requests-Reset": ms(2)}, None, id="none-spent"
        ),
        pytest.param({"X-RateLimit-Requests-Remaining": "0"}, None, id="spent-without-reset"),
        pytest.param({}, None, id="no-headers"),
    ],
)
def test_linear_waits_for_the_latest_reset_of_a_spent_budget_in_milliseconds(
    headers: dict[str, str], wait: float | None
) -> None:
    result = linear_reset_wait(Headers(headers), NOW)

    assert result == (pytest.approx(wait) if wait is not None else None)
