"""Login throttling and admin tokens as pure logic, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.web.admin_tokens import TOKEN_LIFETIME, AdminTokens
from controller.web.throttle import FailureThrottle

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
"""Any moment will do: nothing here meets a server's time."""

SECRET = b"installation-secret"


def test_the_sixth_attempt_waits_for_the_oldest_failure_to_expire() -> None:
    throttle = FailureThrottle(max_failures=5, window=timedelta(minutes=15))
    for minute in range(5):
        assert throttle.retry_after("10.0.0.1", START + timedelta(minutes=minute)) is None
        throttle.record_failure("10.0.0.1", START + timedelta(minutes=minute))
    assert throttle.retry_after("10.0.0.1", START + timedelta(minutes=5)) == 10 * 60
    assert throttle.retry_after("10.0.0.2", START + timedelta(minutes=5)) is None
    assert throttle.retry_after("10.0.0.1", START + timedelta(minutes=15)) is None


def test_forgetting_a_client_clears_it() -> None:
    throttle = FailureThrottle(max_failures=1)
    throttle.record_failure("a", START)
    assert throttle.retry_after("a", START) is not None
    throttle.forget("a")
    assert throttle.retry_after("a", START) is None


def test_a_flood_of_clients_is_swept() -> None:
    throttle = FailureThrottle(max_failures=5, window=timedelta(minutes=1))
    for client in range(10_001):
        throttle.record_failure(f"client-{client}", START)
    throttle.record_failure("late", START + timedelta(minutes=2))
    assert throttle.retry_after("client-1", START + timedelta(minutes=2)) is None


def test_a_token_lives_exactly_its_lifetime() -> None:
    tokens = AdminTokens(access_code="code", installation_secret=SECRET)
    issued = tokens.issue(START)
    assert issued.expires_at == START + TOKEN_LIFETIME
    assert tokens.is_valid(issued.token, START + TOKEN_LIFETIME - timedelta(seconds=1))
    assert not tokens.is_valid(issued.token, START + TOKEN_LIFETIME)


def test_a_token_from_the_future_is_refused_beyond_clock_skew() -> None:
    tokens = AdminTokens(access_code="code", installation_secret=SECRET)
    issued = tokens.issue(START + timedelta(minutes=5))
    assert not tokens.is_valid(issued.token, START)
    assert tokens.is_valid(issued.token, START + timedelta(minutes=4, seconds=30))


def test_another_code_or_installation_cannot_verify() -> None:
    token = AdminTokens(access_code="code", installation_secret=SECRET).issue(START).token
    assert not AdminTokens(access_code="other", installation_secret=SECRET).is_valid(token, START)
    assert not AdminTokens(access_code="code", installation_secret=b"other").is_valid(token, START)


def test_the_code_comparison() -> None:
    tokens = AdminTokens(access_code="code", installation_secret=SECRET)
    assert tokens.code_matches("code")
    assert not tokens.code_matches("cod")
    assert not tokens.code_matches("code ")
