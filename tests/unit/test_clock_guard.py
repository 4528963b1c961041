"""The suite's guard against clocks that start on a fixed date and then meet the real API server."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clock import START_TOLERANCE, FakeClock, far_starts, forget_starts, real_now

pytest_plugins = ("pytester",)


def test_a_clock_starts_at_the_real_now_truncated_to_the_second() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock()
    assert before <= clock() <= datetime.now(UTC)
    assert clock().microsecond == 0


def test_a_clock_moved_by_hand_is_not_a_far_start() -> None:
    forget_starts()
    clock = FakeClock()
    clock.advance(timedelta(days=400))
    assert far_starts() == []


def test_a_clock_started_on_a_fixed_date_is_reported_with_its_line() -> None:
    forget_starts()
    FakeClock(real_now() + START_TOLERANCE - timedelta(seconds=5))
    FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    [far] = far_starts()
    assert far.started_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert far.where == f"{__file__}:{line}"


GUARDED_TESTS = """
import inspect
from datetime import UTC, datetime

import pytest

from tests.support.clock import FakeClock


@pytest.fixture
def cluster():
    return "a stand-in: the guard looks only at the fixture's name"


@pytest.fixture
def kube(cluster):
    return cluster


def test_fixed_date_with_the_control_plane(kube):
    FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))


def test_real_now_with_the_control_plane(kube):
    FakeClock()


def test_fixed_date_without_the_control_plane():
    FakeClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
"""


def test_the_suite_fails_a_fixed_date_clock_only_where_it_meets_the_control_plane(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_guarded=GUARDED_TESTS)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest("from tests.conftest import clocks_meeting_the_control_plane_start_now  # noqa: F401\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*test_fixed_date_with_the_control_plane*", "*started at 2026-11-22 12:00:00Z*"])
