"""Login throttling and admin tokens as pure logic, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.web.admin_tokens import TOKEN_LIFETIME, AdminTokens
from controller.web.throttle import FailureThrottle, client_key

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
"""Any moment will do: nothing here meets a server's time."""

SECRET = b"installation-secret"


def test_past_its_own_limit_a_client_is_told_to_wait_for_its_oldest_failure_to_expire() -> None:
    throttle = FailureThrottle(max_failures=5, window=timedelta(minutes=15))
    for minute in range(5):
        assert throttle.failed("10.0.0.1", START + timedelta(minutes=minute)) is None
    assert throttle.failed("10.0.0.1", START + timedelta(minutes=5)) == 11 * 60, "until the 5th-last failure expires"
    assert throttle.failed("10.0.0.2", START + timedelta(minutes=5)) is None
    assert throttle.recent_failures("10.0.0.1", START + timedelta(minutes=16)) == 4


def test_a_correct_code_clears_the_client_but_not_the_global_budget() -> None:
    throttle = FailureThrottle(max_failures=1, global_budget=2, refill=timedelta(minutes=1))
    throttle.failed("a", START)
    throttle.failed("a", START)
    throttle.succeeded("a")
    assert throttle.recent_failures("a", START) == 0
    assert throttle.refusal(START) == 60, "the global budget is spent whoever succeeded"


def test_rotating_addresses_buys_nothing_against_the_global_budget() -> None:
    throttle = FailureThrottle(global_budget=30, refill=timedelta(seconds=10))
    for client in range(30):
        assert throttle.refusal(START) is None
        throttle.failed(f"192.0.2.{client}", START)
    assert throttle.refusal(START) == 10
    assert throttle.refusal(START + timedelta(seconds=10)) is None, "a token came back"
    throttle.failed("198.51.100.1", START + timedelta(seconds=10))
    assert throttle.refusal(START + timedelta(seconds=10)) == 10


def test_ipv6_clients_count_by_their_64_network() -> None:
    throttle = FailureThrottle(max_failures=2)
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"):
        over = throttle.failed(host, START)
    assert over is not None, "three addresses of one /64 are one client"
    assert throttle.failed("2001:db8:1:3::1", START) is None
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("not an address") == "not an address"


def test_the_client_table_is_bounded_and_forgets_the_least_recent_first() -> None:
    throttle = FailureThrottle(max_clients=3, global_budget=100)
    for client in ("a", "b", "c", "a", "d"):
        throttle.failed(client, START)
    assert [throttle.recent_failures(client, START) for client in ("a", "b", "c", "d")] == [2, 0, 1, 1]


def test_codes_are_compared_by_digest() -> None:
    tokens = AdminTokens(access_code="the-right-code-0123", installation_secret=SECRET)
    assert tokens.code_matches("the-right-code-0123")
    assert not tokens.code_matches("the-right-code-012")
    assert not tokens.code_matches("the-right-code-0123 ")


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
