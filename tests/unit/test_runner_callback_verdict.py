"""How patient a run is with each callback: the pure verdict behind the runner's callback client."""

from __future__ import annotations

import pytest

from controller.callbacks.client import BACKOFF_MAX_SECONDS, PROGRESS_ATTEMPTS, Action, Answer, Purpose, verdict

CREDENTIALS, PROGRESS, RESULT = Purpose.CREDENTIALS, Purpose.PROGRESS, Purpose.RESULT
NO_ANSWER = Answer(status=None, code="ConnectError")


@pytest.mark.parametrize(
    ("purpose", "answer", "attempt", "action"),
    [
        (CREDENTIALS, Answer(200), 1, Action.DONE),
        (PROGRESS, Answer(202), 1, Action.DONE),
        (RESULT, Answer(200), 1, Action.DONE),
        (RESULT, Answer(409, "result_recorded"), 2, Action.DONE),
        (RESULT, Answer(409, "token_spent"), 2, Action.FAIL),  # spent, yet nothing recorded: lost, say so
        (RESULT, Answer(409, "run_ended"), 1, Action.FAIL),
        (PROGRESS, Answer(409, "run_ended"), 1, Action.FAIL),
        (CREDENTIALS, Answer(409, "not_started", retry_after=2), 1, Action.RETRY),
        (CREDENTIALS, Answer(401, "token_invalid"), 1, Action.FAIL),
        (CREDENTIALS, Answer(501, "callbacks_disabled"), 1, Action.FAIL),
        (RESULT, Answer(410, "dispatch_gone"), 1, Action.FAIL),
        (RESULT, Answer(422, "invalid_body"), 1, Action.FAIL),
        (PROGRESS, Answer(422, "invalid_body"), 1, Action.DROP),
        (PROGRESS, Answer(503, "busy"), 1, Action.RETRY),
        (PROGRESS, NO_ANSWER, PROGRESS_ATTEMPTS - 1, Action.RETRY),
        (PROGRESS, NO_ANSWER, PROGRESS_ATTEMPTS, Action.DROP),
        (RESULT, NO_ANSWER, 50, Action.RETRY),
        (RESULT, Answer(502), 3, Action.RETRY),
        (RESULT, Answer(429), 3, Action.RETRY),
        (CREDENTIALS, NO_ANSWER, 9, Action.RETRY),
    ],
)
def test_what_a_run_does_after_each_answer(purpose: Purpose, answer: Answer, attempt: int, action: Action) -> None:
    assert verdict(purpose, answer, attempt, remaining=600.0).action is action


def test_a_result_is_retried_with_backoff_until_the_deadline_and_no_longer() -> None:
    delays = [verdict(RESULT, NO_ANSWER, attempt, remaining=600.0).delay for attempt in (1, 2, 3, 4, 10)]
    assert delays == [1.0, 2.0, 4.0, 8.0, BACKOFF_MAX_SECONDS]
    assert verdict(RESULT, NO_ANSWER, 10, remaining=3.0).delay == 3.0, "never sleeps past the deadline"
    past = verdict(RESULT, NO_ANSWER, 10, remaining=0.0)
    assert (past.action, past.reason) == (Action.FAIL, "no answer, and the run's deadline has passed")


def test_the_controllers_own_wait_wins() -> None:
    assert verdict(CREDENTIALS, Answer(409, "not_started", retry_after=2.0), 5, remaining=600.0).delay == 2.0
    assert verdict(RESULT, Answer(503, "busy", retry_after=600.0), 1, remaining=600.0).delay == BACKOFF_MAX_SECONDS
