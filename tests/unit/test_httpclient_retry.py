"""The retry decision as a table: what is retried, for which calls, and how long to wait first."""

from __future__ import annotations

import httpx
import pytest

from controller.httpclient import (
    Outcome,
    RetryPolicy,
    TransportFailure,
    classify_transport_error,
    decide_retry,
)

NOT_SENT = TransportFailure.NOT_SENT
MAYBE_SENT = TransportFailure.MAYBE_SENT
PERMANENT = TransportFailure.PERMANENT


def policy(**overrides: float) -> RetryPolicy:
    """Jitter pinned to the top of the window, so backoff equals its ceiling."""
    settings: dict[str, float] = {"max_attempts": 4, "base_delay": 1.0, "max_delay": 30.0, "max_wait": 60.0}
    settings.update(overrides)
    return RetryPolicy(
        max_attempts=int(settings["max_attempts"]),
        base_delay=settings["base_delay"],
        max_delay=settings["max_delay"],
        max_wait=settings["max_wait"],
        random=lambda: 1.0,
    )


@pytest.mark.parametrize(
    ("outcome", "idempotent", "retry"),
    [
        pytest.param(Outcome(status=429), False, True, id="429-any-call"),
        pytest.param(Outcome(status=400, rate_limited=True), False, True, id="service-marker-any-call"),
        pytest.param(Outcome(status=200, rate_limited=True), True, True, id="marker-even-at-200"),
        pytest.param(Outcome(status=500), True, True, id="500-idempotent"),
        pytest.param(Outcome(status=503), True, True, id="503-idempotent"),
        pytest.param(Outcome(status=502), False, False, id="502-not-idempotent"),
        pytest.param(Outcome(status=501), True, False, id="501-never"),
        pytest.param(Outcome(status=505), True, False, id="505-never"),
        pytest.param(Outcome(status=400), True, False, id="400"),
        pytest.param(Outcome(status=401), True, False, id="401"),
        pytest.param(Outcome(status=404), True, False, id="404"),
        pytest.param(Outcome(status=408), True, False, id="408-is-an-answer"),
        pytest.param(Outcome(failure=NOT_SENT), False, True, id="not-sent-any-call"),
        pytest.param(Outcome(failure=MAYBE_SENT), True, True, id="maybe-sent-idempotent"),
        pytest.param(Outcome(failure=MAYBE_SENT), False, False, id="maybe-sent-not-idempotent"),
        pytest.param(Outcome(failure=PERMANENT), True, False, id="permanent"),
    ],
)
def test_what_is_retried(outcome: Outcome, idempotent: bool, retry: bool) -> None:
    decision = decide_retry(policy(), outcome, attempt=1, idempotent=idempotent)

    assert decision.retry is retry
    assert decision.exhausted is False
    assert decision.reason


@pytest.mark.parametrize(
    ("outcome", "attempt", "wait"),
    [
        pytest.param(Outcome(status=503), 1, 1.0, id="backoff-first"),
        pytest.param(Outcome(status=503), 2, 2.0, id="backoff-doubles"),
        pytest.param(Outcome(status=503), 3, 4.0, id="backoff-doubles-again"),
        pytest.param(Outcome(status=429, signalled_wait=7.0), 1, 7.0, id="server-wait-wins"),
        pytest.param(Outcome(status=429, signalled_wait=0.0), 3, 0.0, id="zero-wait-is-a-wait"),
        pytest.param(Outcome(status=429, signalled_wait=-3.0), 1, 0.0, id="past-reset-is-now"),
        pytest.param(Outcome(status=429, signalled_wait=60.0), 1, 60.0, id="exactly-max-wait"),
        pytest.param(Outcome(failure=NOT_SENT), 2, 2.0, id="transport-backoff"),
    ],
)
def test_how_long_to_wait(outcome: Outcome, attempt: int, wait: float) -> None:
    decision = decide_retry(policy(), outcome, attempt=attempt, idempotent=True)

    assert decision.retry
    assert decision.wait == wait


def test_backoff_is_capped() -> None:
    assert (
        decide_retry(policy(max_attempts=20, max_delay=5.0), Outcome(status=500), attempt=10, idempotent=True).wait
        == 5.0
    )


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999])
def test_backoff_has_full_jitter(draw: float) -> None:
    jittered = RetryPolicy(base_delay=1.0, random=lambda: draw)

    assert jittered.backoff(3) == pytest.approx(4.0 * draw)


def test_the_last_attempt_gives_up_and_says_so() -> None:
    decision = decide_retry(policy(max_attempts=3), Outcome(status=503), attempt=3, idempotent=True)

    assert not decision.retry
    assert decision.exhausted
    assert "gave up after 3 attempts" in decision.reason


def test_a_wait_beyond_max_wait_gives_up_at_once() -> None:
    decision = decide_retry(policy(), Outcome(status=429, signalled_wait=61.0), attempt=1, idempotent=True)

    assert not decision.retry
    assert decision.exhausted
    assert "max_wait" in decision.reason


def test_one_attempt_means_no_retries() -> None:
    assert not decide_retry(policy(max_attempts=1), Outcome(status=429), attempt=1, idempotent=True).retry


@pytest.mark.parametrize(
    "settings",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"max_wait": -1.0}],
)
def test_a_nonsensical_policy_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


REQUEST = httpx.Request("GET", "https://example.invalid/")


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (httpx.ConnectError("refused", request=REQUEST), NOT_SENT),
        (httpx.ConnectTimeout("slow", request=REQUEST), NOT_SENT),
        (httpx.PoolTimeout("busy", request=REQUEST), NOT_SENT),
        (httpx.ReadTimeout("slow", request=REQUEST), MAYBE_SENT),
        (httpx.WriteTimeout("slow", request=REQUEST), MAYBE_SENT),
        (httpx.ReadError("reset", request=REQUEST), MAYBE_SENT),
        (httpx.WriteError("broken pipe", request=REQUEST), MAYBE_SENT),
        (httpx.RemoteProtocolError("no answer", request=REQUEST), MAYBE_SENT),
        (httpx.LocalProtocolError("bad header", request=REQUEST), PERMANENT),
        (httpx.UnsupportedProtocol("ftp", request=REQUEST), PERMANENT),
        (httpx.ProxyError("proxy", request=REQUEST), PERMANENT),
        (httpx.DecodingError("gzip", request=REQUEST), PERMANENT),
        (httpx.TooManyRedirects("loop", request=REQUEST), PERMANENT),
    ],
)
def test_how_far_a_failed_request_got(error: httpx.HTTPError, failure: TransportFailure) -> None:
    assert classify_transport_error(error) is failure
