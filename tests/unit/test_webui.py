"""The admin UI's pure parts: times as people read them, the trend chart, capacity, safe redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.store.records import DispatchLogEntry
from controller.web.overview import hourly_trend
from webui.app import HOME, _next_page
from webui.rendering import duration, relative, when
from webui.stepper import STEPS, shown_fields
from webui.views.overview import trend_chart

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (NOW - timedelta(seconds=10), "just now"),
        (NOW - timedelta(minutes=3), "3 min ago"),
        (NOW - timedelta(hours=5), "5 h ago"),
        (NOW - timedelta(days=2), "2 d ago"),
        (NOW + timedelta(minutes=10), "in 10 min"),
    ],
)
def test_relative_times(moment: datetime, words: str) -> None:
    assert relative(moment, NOW) == words


def test_a_time_shows_its_absolute_value_on_hover() -> None:
    shown = str(when(NOW - timedelta(minutes=3), NOW))
    assert shown == '<time datetime="2026-03-01T12:27:00+00:00" title="2026-03-01 12:27:00 UTC">3 min ago</time>'
    assert (duration(59), duration(61), duration(3725)) == ("59 s", "1 min 01 s", "1 h 02 min")


def entry(created: datetime, status: str) -> DispatchLogEntry:
    return DispatchLogEntry(
        id=1,
        created_at=created,
        issue_id="i",
        identifier="ENG-1",
        title="t",
        team_key="ENG",
        repo="acme/web",
        kind="implementation",
        iteration=1,
        runner_mode="local",
        session_image="img",
        status=status,
        pull_request_url=None,
        dispatch_name="eng-1-implementation-1",
        message=None,
    )


def test_the_trend_has_24_hourly_buckets_ending_with_the_current_hour() -> None:
    log = [
        entry(NOW, "succeeded"),
        entry(NOW - timedelta(minutes=20), "failed"),
        entry(NOW - timedelta(hours=30), "failed"),
    ]

    trend = hourly_trend([(logged.created_at, logged.status) for logged in log], NOW)

    assert len(trend) == 24
    assert trend[-1].hour == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert (trend[-1].dispatches, trend[-1].failed) == (2, 1)
    assert sum(bucket.dispatches for bucket in trend) == 2, "older than 24 h is left out"
    chart = trend_chart(trend)
    assert chart.peak == 2
    assert chart.bars[-1].height > chart.bars[-1].failed_height > 0
    assert chart.bars[0].height == 0
    assert chart.bars[-1].label == "12:00 UTC: 2 dispatches, 1 failed"


@pytest.mark.parametrize(
    ("given", "goes_to"),
    [
        ("/admin/issues?team=ENG", "/admin/issues?team=ENG"),
        ("https://evil.example/admin/", HOME),
        ("//evil.example/admin/", HOME),
        ("/admin\\@evil", HOME),
        ("/api/mappings", HOME),
        (None, HOME),
    ],
)
def test_signing_in_only_ever_goes_to_a_page_of_the_admin_ui(given: str | None, goes_to: str) -> None:
    assert _next_page(given) == goes_to


@pytest.mark.parametrize(
    ("system", "asked", "not_asked"),
    [
        ("linear", {"linearTeamKey"}, {"jql", "repoField", "repoFieldValue"}),
        ("jira", {"jql", "repoField"}, {"linearTeamKey"}),
    ],
)
def test_step_one_asks_only_for_the_chosen_ticketing_systems_settings(
    system: str, asked: set[str], not_asked: set[str]
) -> None:
    shown = set(shown_fields(1, {"ticketingProvider": system}))
    assert {"teamKey", "ticketingProvider"} | asked <= shown
    assert not shown & not_asked
    assert shown_fields(2, {"ticketingProvider": system}) == STEPS[1].fields
