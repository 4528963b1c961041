"""The WorkflowsInSync condition and status.workflowTemplate of a mapping, from a template check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.operator.reviews.workflow_templates import template_status_patch

NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
READY = {
    "type": "Ready",
    "status": "True",
    "reason": "Ready",
    "message": "m",
    "lastTransitionTime": "2026-11-20T00:00:00Z",
}


@pytest.mark.parametrize(
    ("state", "status", "reason", "template"),
    [
        ("current", "True", "TemplatesCurrent", "current"),
        ("stale", "False", "TemplatesStale", "stale"),
        ("missing", "False", "TemplatesMissing", "missing"),
        (None, "Unknown", "RepositoryUnreadable", "unknown"),
    ],
)
def test_the_condition_follows_the_check_and_leaves_the_others_to_their_writers(
    state: str | None, status: str, reason: str, template: str
) -> None:
    patch = template_status_patch({"conditions": [READY]}, state, "App not installed", 1, NOW)

    (in_sync,) = patch["conditions"]
    assert (in_sync["type"], in_sync["status"], in_sync["reason"]) == ("WorkflowsInSync", status, reason)
    assert patch["workflowTemplate"] == template
    if state is None:
        assert in_sync["message"] == "App not installed"


def test_the_transition_time_moves_only_when_the_status_changes() -> None:
    first = template_status_patch({}, "stale", None, 1, NOW)
    same = template_status_patch(first, "missing", None, 1, NOW + timedelta(hours=1))
    changed = template_status_patch(same, "current", None, 1, NOW + timedelta(hours=2))

    assert same["conditions"][0]["lastTransitionTime"] == "2026-11-22T05:00:00Z"
    assert changed["conditions"][0]["lastTransitionTime"] == "2026-11-22T07:00:00Z"
