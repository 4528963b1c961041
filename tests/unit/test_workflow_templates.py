"""The synced workflow templates, rendered per mapping, their staleness, front matter and model rows: no I/O."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.resources import ProjectMappingSpec
from controller.runners.github_actions import WORKFLOW_INPUTS
from controller.sandbox.github import parse_workflow
from controller.workflows import (
    COMMENT_TRIGGER_PATH,
    DEFAULT_SESSION_IMAGE,
    GAP_FILL_TRIGGER_FIELDS,
    PLANNING_PROMPT_PATH,
    RUNNER_WORKFLOW_PATH,
    SYNCED_PATHS,
    TEMPLATE_VERSION,
    WORKFLOW_PROMPT_PATH,
    FileState,
    FrontMatterError,
    GapFillTriggerBody,
    ModelChoice,
    RenderedDigests,
    file_states,
    marker_of,
    model_choices_of,
    models_kpis,
    models_row,
    parse_front_matter,
    render_templates,
    repository_check,
    template_state,
    template_status_of,
)

RUNNERS_DOC = Path(__file__).parents[2] / "docs" / "runners.md"
RUN_STEP = "Run the pipeline"
BASE: dict[str, Any] = {
    "teamKey": "ENG",
    "ticketing": {"provider": "linear"},
    "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
}


def mapping(**changes: Any) -> ProjectMappingSpec:
    return ProjectMappingSpec.model_validate(BASE | changes)


ANTHROPIC = mapping()
BEDROCK = mapping(provider={"name": "bedrock", "awsRegion": "eu-west-1"})


def workflow(spec: ProjectMappingSpec = ANTHROPIC, path: str = RUNNER_WORKFLOW_PATH) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(render_templates(spec)[path])
    return document


def steps(document: dict[Any, Any], job: str = "run") -> dict[str, dict[str, Any]]:
    """A job's steps by name, and by id for those that have one."""
    found: dict[str, dict[str, Any]] = {}
    for step in document["jobs"][job]["steps"]:
        for key in ("name", "id"):
            if key in step:
                found[step[key]] = step
    return found


def documented_workflow() -> dict[Any, Any]:
    """The workflow written out in docs/runners.md ("How a run obtains its credentials")."""
    text = RUNNERS_DOC.read_text()
    block = re.search(r"```yaml\n(  on:\n.*?)```", text, re.S)
    assert block is not None, "docs/runners.md no longer shows the workflow's inputs and credentials step"
    document: dict[Any, Any] = yaml.safe_load(textwrap.dedent(block.group(1)))
    return document


# The runner workflow is the one the GitHub Actions backend dispatches, as docs/runners.md shows it.


@pytest.mark.parametrize("spec", [ANTHROPIC, BEDROCK], ids=["anthropic", "bedrock"])
def test_the_runner_workflow_follows_the_documented_contract(spec: ProjectMappingSpec) -> None:
    rendered = workflow(spec)
    documented = documented_workflow()
    assert rendered[True]["workflow_dispatch"]["inputs"] == documented[True]["workflow_dispatch"]["inputs"]
    assert rendered["run-name"] == documented["run-name"] == "${{ inputs.dispatch }} in ${{ inputs.namespace }}"
    assert rendered["permissions"] == documented["permissions"] == {}
    assert rendered["jobs"]["run"]["permissions"] == documented["jobs"]["run"]["permissions"] == {"id-token": "write"}
    for name in ("Export the run's settings", RUN_STEP):
        documented_step, rendered_step = steps(documented)[name], steps(rendered)[name]
        assert rendered_step["run"] == documented_step["run"]
        assert documented_step["env"].items() <= rendered_step["env"].items()
        assert "${{" not in documented_step["run"], "inputs reach the script through env, never as text"
    assert steps(rendered)[RUN_STEP]["env"]["AI_IMPLEMENT_CALLBACK_URL"] == "${{ inputs.callback_base_url }}"


@pytest.mark.parametrize("spec", [ANTHROPIC, BEDROCK], ids=["anthropic", "bedrock"])
def test_no_run_holds_the_apps_private_key_or_its_full_permissions(spec: ProjectMappingSpec) -> None:
    text = render_templates(spec)[RUNNER_WORKFLOW_PATH]
    assert "create-github-app-token" not in text
    assert "PRIVATE_KEY" not in text
    assert "secrets.AI_IMPLEMENT_APP_ID" not in text
    assert "write" not in str(workflow(spec)["permissions"].get("contents"))


def test_github_can_dispatch_the_rendered_workflow_with_every_input() -> None:
    definition = parse_workflow(render_templates(ANTHROPIC)[RUNNER_WORKFLOW_PATH])
    assert definition.run_name == "${{ inputs.dispatch }} in ${{ inputs.namespace }}"
    assert definition.dispatch_inputs is not None
    assert tuple(definition.dispatch_inputs) == WORKFLOW_INPUTS
    assert [name for name, spec in definition.dispatch_inputs.items() if spec.required] == ["dispatch"]


def test_the_run_exports_its_settings_then_runs_the_pipeline_in_the_session_image() -> None:
    document = workflow()
    names = list(steps(document))
    assert names.index("Export the run's settings") < names.index(RUN_STEP)
    export = steps(document)["Export the run's settings"]
    assert export["env"] == {"AI_IMPLEMENT_SETTINGS": "${{ inputs.environment }}"}
    assert "GITHUB_ENV" in export["run"]
    assert steps(document)["Run the pipeline"]["run"] == "ai-implement-runner"
    assert document["jobs"]["run"]["container"]["image"] == "${{ needs.image.outputs.image }}"
    assert steps(document, "image")["pick"]["env"]["SYNCED_IMAGE"] == DEFAULT_SESSION_IMAGE


def test_the_mappings_session_image_wins_over_the_default() -> None:
    own = mapping(runner={"sessionImage": "ghcr.io/acme/runner:1.4"})
    for spec, image in ((own, "ghcr.io/acme/runner:1.4"), (ANTHROPIC, "registry.example.com/runner:2")):
        text = render_templates(spec, session_image="registry.example.com/runner:2")[RUNNER_WORKFLOW_PATH]
        assert steps(yaml.safe_load(text), "image")["pick"]["env"]["SYNCED_IMAGE"] == image


def test_anthropic_runs_use_the_oauth_token_else_the_api_key() -> None:
    document = workflow(ANTHROPIC)
    env = steps(document)["Run the pipeline"]["env"]
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}"
    assert env["ANTHROPIC_API_KEY"] == (
        "${{ secrets.CLAUDE_CODE_OAUTH_TOKEN == '' && secrets.ANTHROPIC_API_KEY || '' }}"
    )
    assert "CLAUDE_CODE_USE_BEDROCK" not in env
    assert "AWS_BEDROCK_ROLE_ARN" not in render_templates(ANTHROPIC)[RUNNER_WORKFLOW_PATH]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_bedrock_runs_assume_the_role_in_the_mappings_region(region: str) -> None:
    document = workflow(mapping(provider={"name": "bedrock", "awsRegion": region}))
    aws = steps(document)["Assume the Bedrock role"]
    assert aws["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert aws["with"] == {"role-to-assume": "${{ secrets.AWS_BEDROCK_ROLE_ARN }}", "aws-region": region}
    env = steps(document)["Run the pipeline"]["env"]
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert env["AWS_REGION"] == region
    assert "ANTHROPIC_API_KEY" not in env
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in env


def test_the_job_times_out_with_the_mapping() -> None:
    assert workflow(mapping(capacity={"maxJobMinutes": 45}))["jobs"]["run"]["timeout-minutes"] == 45
    assert workflow()["jobs"]["run"]["timeout-minutes"] == 90


# The comment trigger sends exactly the body the gap-fill endpoint accepts.


def test_the_comment_trigger_posts_pull_request_comments_to_the_gap_fill_endpoint() -> None:
    document = workflow(path=COMMENT_TRIGGER_PATH)
    assert document[True] == {"issue_comment": {"types": ["created"]}}
    job = document["jobs"]["trigger"]
    assert "github.event.issue.pull_request" in job["if"]
    assert "startsWith(github.event.comment.body, '/ai-implement')" in job["if"]
    assert "author_association" in job["if"]
    script = job["steps"][0]["run"]
    assert '"$AI_IMPLEMENT_URL/trigger/gap-fill"' in script
    assert '-H "Authorization: Bearer $GAP_FILL_TRIGGER_SECRET"' in script
    assert "${{" not in script, "secrets and variables reach the script through env: only"
    environment = job["steps"][0]["env"]
    assert environment["GAP_FILL_TRIGGER_SECRET"] == "${{ secrets.GAP_FILL_TRIGGER_SECRET }}"
    assert environment["AI_IMPLEMENT_URL"] == "${{ vars.AI_IMPLEMENT_URL }}"
    body = re.search(r"'(\{.*\})'\)", script)
    assert body is not None
    keys = [item.split(":")[0].strip() for item in body.group(1).strip("{}").split(",")]
    assert tuple(keys) == GAP_FILL_TRIGGER_FIELDS == tuple(GapFillTriggerBody.__annotations__)
    assert job["steps"][0]["env"]["COMMENT_BODY"] == "${{ github.event.comment.body }}"  # never inlined in the script


# The prompts' front matter.


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"model": "claude-sonnet-4-5", "provider": "anthropic", "max_turns": 50, "max_iterations": 3}),
        (
            {"provider": {"name": "bedrock", "awsRegion": "us-east-1"}},
            {"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "provider": "bedrock", "max_iterations": 2},
        ),
        (
            {"provider": {"name": "bedrock", "awsRegion": "eu-central-1"}},
            {"model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        ),
        (
            {"provider": {"name": "bedrock", "awsRegion": "ap-northeast-1"}},
            {"model": "apac.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        ),
        (
            {"provider": {"name": "bedrock", "awsRegion": "sa-east-1"}},
            {"model": "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        ),
        (
            {"capacity": {"maxTurns": 20, "maxIterations": 5, "maxJobMinutes": 30}},
            {"max_turns": 20, "max_iterations": 5, "max_job_minutes": 30},
        ),
    ],
)
def test_the_prompts_front_matter_follows_the_mapping(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    rendered = render_templates(mapping(**changes))
    for path in (WORKFLOW_PROMPT_PATH, PLANNING_PROMPT_PATH):
        front_matter = parse_front_matter(rendered[path])
        assert set(front_matter) == {"model", "provider", "max_turns", "max_iterations", "max_job_minutes"}
        assert front_matter | expected == front_matter


def test_every_file_carries_the_template_version_and_a_hash_of_its_rendering() -> None:
    first, second = render_templates(ANTHROPIC), render_templates(mapping(capacity={"maxTurns": 7}))
    assert set(first) == set(SYNCED_PATHS)
    assert render_templates(ANTHROPIC) == first
    for text in first.values():
        marker = marker_of(text)
        assert marker is not None
        assert marker.version == TEMPLATE_VERSION
        assert "@@" not in text
    assert marker_of(first[WORKFLOW_PROMPT_PATH]) != marker_of(second[WORKFLOW_PROMPT_PATH])
    assert first[RUNNER_WORKFLOW_PATH] == second[RUNNER_WORKFLOW_PATH]  # turns travel in the settings input


# Staleness.

RENDERED = render_templates(ANTHROPIC)
OLD_MARKER = RENDERED[WORKFLOW_PROMPT_PATH].replace(
    f"template: v{TEMPLATE_VERSION} ", f"template: v{TEMPLATE_VERSION - 1} "
)


def found(**changes: str | None) -> dict[str, str | None]:
    by_name = {
        "runner": RUNNER_WORKFLOW_PATH,
        "trigger": COMMENT_TRIGGER_PATH,
        "workflow_md": WORKFLOW_PROMPT_PATH,
        "planning_md": PLANNING_PROMPT_PATH,
    }
    files: dict[str, str | None] = dict(RENDERED)
    for name, text in changes.items():
        files[by_name[name]] = text
    return files


@pytest.mark.parametrize(
    ("files", "state", "path", "file_state"),
    [
        (found(), "current", RUNNER_WORKFLOW_PATH, FileState.CURRENT),
        (found(runner=None), "missing", RUNNER_WORKFLOW_PATH, FileState.MISSING),
        (found(runner=RENDERED[RUNNER_WORKFLOW_PATH] + "\n"), "stale", RUNNER_WORKFLOW_PATH, FileState.STALE),
        (
            found(trigger=RENDERED[COMMENT_TRIGGER_PATH].replace("/ai-implement'", "/ai'")),
            "stale",
            COMMENT_TRIGGER_PATH,
            FileState.STALE,
        ),
        (
            found(workflow_md=RENDERED[WORKFLOW_PROMPT_PATH] + "\nAlways write tests first.\n"),
            "current",
            WORKFLOW_PROMPT_PATH,
            FileState.CURRENT,
        ),
        (
            found(workflow_md=RENDERED[WORKFLOW_PROMPT_PATH].replace("claude-sonnet-4-5", "claude-opus-4-1")),
            "current",
            WORKFLOW_PROMPT_PATH,
            FileState.CURRENT,
        ),
        (found(workflow_md=OLD_MARKER), "stale", WORKFLOW_PROMPT_PATH, FileState.STALE),
        (found(planning_md="---\nmodel: x\n---\nPlan.\n"), "stale", PLANNING_PROMPT_PATH, FileState.STALE),
        (found(runner="name: mine\n", planning_md=None), "missing", RUNNER_WORKFLOW_PATH, FileState.STALE),
    ],
    ids=[
        "as-rendered",
        "workflow-absent",
        "workflow-edited",
        "trigger-edited",
        "prompt-edited-below-marker",
        "prompt-model-changed",
        "prompt-older-version",
        "prompt-without-marker",
        "missing-wins-over-stale",
    ],
)
def test_template_states(files: dict[str, str | None], state: str, path: str, file_state: FileState) -> None:
    assert template_state(RENDERED, files) == state
    assert file_states(RENDERED, files)[path] is file_state
    stored = template_status_of(RenderedDigests().of("eng", ANTHROPIC), repository_check(KEY, files, NOW))
    assert (stored.state, stored.files[path]) == (state, file_state), "a stored check judges as the texts do"


KEY = ("acme", "web", "main")
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def test_a_path_not_read_at_all_is_missing() -> None:
    assert template_state(RENDERED, {}) == "missing"


def test_caps_changed_on_the_mapping_leave_the_prompts_current_but_not_the_workflows() -> None:
    tighter = render_templates(mapping(capacity={"maxTurns": 5, "maxJobMinutes": 30}))
    states = file_states(tighter, RENDERED)
    assert states[WORKFLOW_PROMPT_PATH] is FileState.CURRENT
    assert states[RUNNER_WORKFLOW_PATH] is FileState.STALE  # timeout-minutes


# Front matter parsing.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nmodel: claude-opus-4-1\nmax_turns: 9\n---\nBody\n", {"model": "claude-opus-4-1", "max_turns": 9}),
        ("\ufeff---\r\nmodel: m\r\n---\r\n", {"model": "m"}),
        ("---\n# only a comment\n---\n", {}),
        ("---\nmodel: a:b\n...\n", {"model": "a:b"}),
    ],
)
def test_front_matter_is_read(text: str, expected: dict[str, Any]) -> None:
    assert parse_front_matter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Just a prompt\n", "acme/web:WORKFLOW.md has no front matter: its first line must be '---'"),
        ("", "has no front matter"),
        ("---\nmodel: m\nBody without a closing line\n", "never closed by a '---' line"),
        ("---\nmodel: [unclosed\n---\n", "the front matter is not valid YAML (line 2)"),
        ("---\nmodel: a\n  bad: indent\n---\n", "not valid YAML (line 3)"),
        ("---\n- model\n- other\n---\n", "must be a mapping of keys to values (model: ...), not a list"),
    ],
)
def test_bad_front_matter_says_what_is_wrong_and_where(text: str, message: str) -> None:
    with pytest.raises(FrontMatterError, match=re.escape(message)):
        parse_front_matter(text, source="acme/web:WORKFLOW.md")


# The Models & providers rows.


def prompts(workflow_md: str | None, planning_md: str | None) -> tuple[ModelChoice, ModelChoice]:
    """The model ids as a check of acme/web with these two prompts stores them."""
    return model_choices_of(
        repository_check(KEY, {WORKFLOW_PROMPT_PATH: workflow_md, PLANNING_PROMPT_PATH: planning_md}, NOW)
    )


NONE = (ModelChoice(None, "not read"), ModelChoice(None, "not read"))


def test_a_row_shows_the_models_of_both_prompts() -> None:
    rendered = render_templates(BEDROCK)
    choices = prompts(rendered[WORKFLOW_PROMPT_PATH], rendered[PLANNING_PROMPT_PATH])
    row = models_row(BEDROCK, *choices, runner_mode="local", checked_at=NOW)
    assert (row.team_key, row.repo, row.provider, row.bedrock_region, row.region_badge) == (
        "ENG",
        "acme/web",
        "bedrock",
        "eu-west-1",
        None,
    )
    assert (row.planning_enabled, row.runner_mode, row.configured_runner_mode) == (True, "local", "github-actions")
    assert row.implementation.model == row.planning.model == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert row.implementation.reason is None
    assert row.checked_at == NOW


@pytest.mark.parametrize(
    ("workflow_md", "reason"),
    [
        (None, "acme/web:WORKFLOW.md is not on the default branch"),
        ("---\nmodel: [\n---\n", "acme/web:WORKFLOW.md: the front matter is not valid YAML"),
        ("---\nprovider: anthropic\n---\n", "the front matter names no model"),
        ("---\nmodel: 42\n---\n", "the front matter names no model"),
        ("No front matter\n", "has no front matter"),
    ],
)
def test_a_row_without_a_model_says_why(workflow_md: str | None, reason: str) -> None:
    row = models_row(ANTHROPIC, *prompts(workflow_md, "---\nmodel: p\n---\n"), runner_mode="github-actions")
    assert row.implementation.model is None
    assert row.implementation.reason is not None
    assert reason in row.implementation.reason
    assert row.planning.model == "p"


def test_a_bedrock_mapping_without_its_region_gets_the_missing_badge() -> None:
    regionless = mapping(provider={"name": "bedrock"})  # the API server refuses this; an older CRD did not
    row = models_row(regionless, *NONE, runner_mode="github-actions")
    assert (row.bedrock_region, row.region_badge) == (None, "missing")
    assert models_row(ANTHROPIC, *NONE, runner_mode="github-actions").region_badge is None


def test_kpis_count_providers_and_distinct_bedrock_regions() -> None:
    specs = [
        ANTHROPIC,
        mapping(teamKey="OPS"),
        mapping(teamKey="PAY", provider={"name": "bedrock", "awsRegion": "us-east-1"}),
        mapping(teamKey="WEB", provider={"name": "bedrock", "awsRegion": "us-east-1"}),
        mapping(teamKey="ML", provider={"name": "bedrock", "awsRegion": "eu-west-1"}),
        mapping(teamKey="NEW", provider={"name": "bedrock"}),
    ]
    kpis = models_kpis([models_row(spec, *NONE, runner_mode="github-actions") for spec in specs])
    assert (kpis.projects, kpis.anthropic, kpis.bedrock, kpis.bedrock_regions) == (6, 2, 4, 2)
