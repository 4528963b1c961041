"""The Events people read in `kubectl describe`: their bodies and which transition gets which, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.kube import DISPATCHES, EventType
from controller.kube.events import MESSAGE_LIMIT, TRUNCATED, event_body
from controller.operator.runs.reconciler import ending_event
from controller.operator.tickets.mappings import readiness_change

LISTED_DISPATCH = {"metadata": {"name": "eng-1-implementation-1", "namespace": "ai", "uid": "u-1"}}
"""As a list answer gives it: no kind, no apiVersion."""
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_an_event_names_its_object_by_kind_even_when_the_object_came_from_a_list() -> None:
    body = event_body(
        DISPATCHES, LISTED_DISPATCH, EventType.NORMAL, "Started", "running", component="op", instance="pod-1", now=NOW
    )
    assert body["involvedObject"] == {
        "apiVersion": "ai-implement.dev/v1alpha1",
        "kind": "Dispatch",
        "name": "eng-1-implementation-1",
        "namespace": "ai",
        "uid": "u-1",
    }
    assert body["metadata"] == {"generateName": "eng-1-implementation-1.", "namespace": "ai"}
    assert (body["type"], body["reason"], body["count"]) == ("Normal", "Started", 1)
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-11-22T12:00:00Z"
    assert (body["source"], body["reportingInstance"]) == ({"component": "op"}, "pod-1")


def test_a_long_message_is_cut_to_the_api_servers_limit_and_says_so() -> None:
    body = event_body(
        DISPATCHES, LISTED_DISPATCH, EventType.WARNING, "Failed", "x" * 5000, component="op", instance="i", now=NOW
    )
    assert len(body["message"]) == MESSAGE_LIMIT
    assert body["message"].endswith(TRUNCATED)


@pytest.mark.parametrize(
    ("phase", "ending", "expected"),
    [
        (
            "Succeeded",
            {"pullRequest": {"url": "https://github.com/acme/web/pull/7"}},
            (EventType.NORMAL, "Succeeded", "pull request https://github.com/acme/web/pull/7"),
        ),
        ("Succeeded", {}, (EventType.NORMAL, "Succeeded", "the run succeeded")),
        (
            "Failed",
            {"error": {"reason": "RunnerFailed", "message": "step test failed: 2 of 48"}},
            (EventType.WARNING, "Failed", "RunnerFailed: step test failed: 2 of 48"),
        ),
        (
            "TimedOut",
            {"error": {"reason": "Stalled", "message": "no progress for 20 minutes"}},
            (EventType.WARNING, "Stalled", "no progress for 20 minutes"),
        ),
        ("TimedOut", {}, (EventType.WARNING, "TimedOut", "no reason was given")),
        (
            "Cancelled",
            {"error": {"reason": "SessionDestroyed", "message": "destroyed from the Sessions panel"}},
            (EventType.NORMAL, "Cancelled", "destroyed from the Sessions panel"),
        ),
    ],
    ids=["pull-request", "no-pull-request", "failed", "stalled", "timed-out", "cancelled"],
)
def test_each_ending_has_its_event(phase: str, ending: dict[str, object], expected: tuple[EventType, str, str]) -> None:
    assert ending_event(phase, ending) == expected


def ready(status: str, reason: str = "Ready", message: str = "m") -> dict[str, object]:
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message}]}


def test_readiness_events_only_when_ready_turns() -> None:
    assert readiness_change({}, ready("True")) == (True, "Ready", "m"), "the first status counts"
    assert readiness_change(ready("True"), ready("True", message="other")) is None
    not_ready = ready("False", "CredentialsMissing", "runs cannot start until RUNNER_TOKEN_SECRET is set")
    assert readiness_change(ready("True"), not_ready) == (
        False,
        "CredentialsMissing",
        "runs cannot start until RUNNER_TOKEN_SECRET is set",
    )
    assert readiness_change(ready("True"), {"inProgress": 2}) is None
