"""Repository checks, decided without I/O: which repositories are due, how a mapping is judged from a stored check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.operator.reviews.workflow_templates import status_changes, template_status_patch
from controller.resources import ProjectMappingSpec
from controller.workflows import (
    NOT_CHECKED_YET,
    PLANNING_PROMPT_PATH,
    RECHECK_EVERY,
    SYNCED_PATHS,
    WORKFLOW_PROMPT_PATH,
    ModelChoice,
    RenderedDigests,
    RepositoryKey,
    model_choices_of,
    render_templates,
    repositories_due,
    repositories_forgotten,
    repository_check,
    template_status_of,
    unreadable_check,
)

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
WEB: RepositoryKey = ("acme", "web", "main")
API: RepositoryKey = ("acme", "api", "main")
API_DEVELOP: RepositoryKey = ("acme", "api", "develop")
DOCS: RepositoryKey = ("acme", "docs", "main")


def spec(team_key: str = "ENG", repo: str = "web", **changes: Any) -> ProjectMappingSpec:
    body = {
        "teamKey": team_key,
        "ticketing": {"provider": "linear"},
        "source": {"owner": "acme", "repo": repo, "defaultBranch": "main"},
    }
    return ProjectMappingSpec.model_validate(body | changes)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


# Which repositories a round reads.


@pytest.mark.parametrize(
    ("wanted", "checked", "due"),
    [
        ([WEB, API], {}, [WEB, API]),
        ([WEB, API, WEB, WEB], {}, [WEB, API]),
        ([WEB], {WEB: ago(9)}, []),
        ([WEB], {WEB: NOW - RECHECK_EVERY}, [WEB]),
        ([WEB], {WEB: NOW - RECHECK_EVERY + timedelta(seconds=1)}, []),
        ([WEB, API, DOCS], {WEB: ago(30), API: ago(12)}, [DOCS, WEB, API]),
        ([API_DEVELOP], {API: ago(1)}, [API_DEVELOP]),
        ([], {WEB: ago(60)}, []),
    ],
    ids=[
        "never-checked",
        "shared-repository-read-once",
        "fresh-check-waits",
        "exactly-the-interval",
        "a-second-before-the-interval",
        "unchecked-first-then-oldest",
        "changed-branch-is-a-new-repository",
        "unmapped-repository-is-not-read",
    ],
)
def test_the_repositories_due(
    wanted: list[RepositoryKey], checked: dict[RepositoryKey, datetime], due: list[RepositoryKey]
) -> None:
    assert repositories_due(wanted, checked, NOW) == due


def test_checks_of_repositories_no_mapping_names_are_forgotten() -> None:
    assert repositories_forgotten({WEB, API_DEVELOP}, [WEB, API, DOCS]) == [API, DOCS]
    assert repositories_forgotten({WEB}, [WEB]) == []


# A mapping judged from its repository's check.


def as_rendered(mapping: ProjectMappingSpec, **changes: str | None) -> dict[str, str | None]:
    texts: dict[str, str | None] = dict(render_templates(mapping))
    return texts | changes


def test_a_repository_not_checked_yet_is_unknown_and_says_so() -> None:
    judged = template_status_of(RenderedDigests().of("eng", spec()), None)

    assert (judged.state, judged.files, judged.checked_at) == ("unknown", {}, None)
    assert judged.error == NOT_CHECKED_YET
    assert "within 30 s" in NOT_CHECKED_YET


def test_an_unreadable_repository_is_unknown_with_the_reason_and_the_time() -> None:
    check = unreadable_check(WEB, "the GitHub App is not installed on acme/web", ago(3))

    judged = template_status_of(RenderedDigests().of("eng", spec()), check)

    assert (judged.state, judged.files, judged.checked_at) == ("unknown", {}, ago(3))
    assert judged.error == "the GitHub App is not installed on acme/web"
    assert model_choices_of(check) == (
        ModelChoice(None, "the GitHub App is not installed on acme/web"),
        ModelChoice(None, "the GitHub App is not installed on acme/web"),
    )


def test_mappings_sharing_a_repository_are_each_judged_against_their_own_rendering() -> None:
    eng, ops = spec("ENG"), spec("OPS")
    check = repository_check(WEB, as_rendered(eng), ago(1))
    digests = RenderedDigests()

    assert template_status_of(digests.of("eng", eng), check).state == "current"
    ops_status = template_status_of(digests.of("ops", ops), check)
    assert ops_status.state == "stale", "the workflows name the team they were synced for"
    assert ops_status.files[WORKFLOW_PROMPT_PATH] == "current"


def test_a_check_keeps_digests_and_model_ids_not_texts() -> None:
    texts = as_rendered(spec(), **{PLANNING_PROMPT_PATH: None})
    check = repository_check(WEB, texts, NOW)

    assert check.key == WEB
    assert set(check.files) == set(SYNCED_PATHS)
    assert check.files[PLANNING_PROMPT_PATH] is None
    workflow_md = check.files[WORKFLOW_PROMPT_PATH]
    assert workflow_md is not None
    assert len(workflow_md.sha256) == 64
    assert (check.implementation_model, check.implementation_model_reason) == ("claude-sonnet-4-5", None)
    assert check.planning_model is None
    assert (
        check.planning_model_reason == "acme/web:PLANNING.md is not on the default branch: sync the workflows to add it"
    )
    assert template_status_of(RenderedDigests().of("eng", spec()), check).state == "missing"


def test_model_ids_not_read_yet_say_why() -> None:
    assert model_choices_of(None, "no GitHub App") == (
        ModelChoice(None, "no GitHub App"),
        ModelChoice(None, "no GitHub App"),
    )


# Rendering once per spec.


def test_digests_are_rendered_again_only_when_the_spec_changes() -> None:
    digests = RenderedDigests()
    first = digests.of("eng", spec())

    assert digests.of("eng", spec()) is first, "an equal spec (a status-only change) reuses the rendering"
    longer = digests.of("eng", spec(capacity={"maxJobMinutes": 45}))
    assert longer is not first
    assert longer != first


def test_digests_follow_the_session_image() -> None:
    assert RenderedDigests("ghcr.io/acme/runner:1").of("eng", spec()) != RenderedDigests().of("eng", spec())


def test_digests_of_deleted_mappings_are_forgotten() -> None:
    digests = RenderedDigests()
    eng = digests.of("eng", spec("ENG"))
    digests.of("ops", spec("OPS"))

    digests.keep_only(["ops"])

    assert digests.of("eng", spec("ENG")) is not eng


# Writing the mapping's status only when it changes.


def test_a_status_is_written_only_when_the_check_changes_it() -> None:
    first = template_status_patch({}, "stale", None, 3, NOW)
    previous = {"conditions": [{"type": "Ready", "status": "True"}, *first["conditions"]], "workflowTemplate": "stale"}

    assert status_changes({}, first)
    assert not status_changes(previous, template_status_patch(previous, "stale", None, 3, NOW + timedelta(hours=1)))
    assert status_changes(previous, template_status_patch(previous, "missing", None, 3, NOW))
    assert status_changes(previous, template_status_patch(previous, None, "GitHub answered 502", 3, NOW))
    assert status_changes(previous, template_status_patch(previous, "stale", None, 4, NOW)), "the message names it"
