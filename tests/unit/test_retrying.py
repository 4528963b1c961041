"""Errors classified once: what is retried, after how long, and what stops for good."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from controller.fly.errors import FlyError
from controller.httpclient import ServiceError
from controller.kube.errors import ConflictError, ForbiddenError, InvalidError, KubeUnavailableError, NotFoundError
from controller.operator.retrying import BACKOFF_MAX_SECONDS, UnreadableResource, backoff, classify


class Temporary(ServiceError):
    temporary = True


def invalid_model() -> ValidationError:
    class Model(BaseModel):
        number: int

    try:
        Model.model_validate({"number": "many"})
    except ValidationError as error:
        return error
    raise AssertionError("the model accepted a bad number")


def test_the_backoff_doubles_from_one_second_up_to_five_minutes() -> None:
    assert [backoff(attempt) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(30) == BACKOFF_MAX_SECONDS == 300.0


@pytest.mark.parametrize(
    ("error", "temporary", "reason"),
    [
        (Temporary("503 from the service", status=503), True, "ServiceUnavailable"),
        (ServiceError("401: the token was refused", status=401), False, "ServiceRefused"),
        (FlyError("app not found", status=404), False, "ServiceRefused"),
        (KubeUnavailableError("connection refused"), True, "KubernetesUnavailable"),
        (ConflictError("the object was modified"), True, "KubernetesUnavailable"),
        (NotFoundError("gone"), True, "KubernetesUnavailable"),
        (ForbiddenError("cannot patch dispatches"), False, "KubernetesRefused"),
        (InvalidError("spec.x: Invalid value"), False, "KubernetesRefused"),
        (invalid_model(), False, "InvalidResource"),
        (UnreadableResource("the mapping cannot be read"), False, "InvalidResource"),
        (ConnectionResetError("reset by peer"), True, "NetworkError"),
        (TimeoutError(), True, "NetworkError"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_error_is_temporary_or_permanent(error: Exception, temporary: bool, reason: str) -> None:
    verdict = classify(error, attempt=3)
    assert (verdict.temporary, verdict.reason, verdict.expected) == (temporary, reason, True)
    assert verdict.delay == (4.0 if temporary else 0.0)


def test_the_services_own_wait_wins_and_is_bounded() -> None:
    assert classify(Temporary("slow down", status=429, retry_after=17.0), attempt=1).delay == 17.0
    assert classify(Temporary("slow down", status=429, retry_after=86_400.0), attempt=1).delay == BACKOFF_MAX_SECONDS
    assert classify(Temporary("slow down", status=429, retry_after=-1.0), attempt=2).delay == 2.0


def test_an_error_nobody_classified_is_retried_and_flagged_as_unexpected() -> None:
    verdict = classify(KeyError("spec"), attempt=1)
    assert (verdict.temporary, verdict.reason, verdict.expected, verdict.delay) == (True, "UnexpectedError", False, 1.0)
