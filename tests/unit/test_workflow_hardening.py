"""The workflows synced into target repositories, held to what a careful repository owner checks.

Least privilege per job, actions pinned by commit, values reaching scripts through `env:` only, a
`GITHUB_ENV` that a setting cannot inject into, and actionlint (with shellcheck on every script)
clean. actionlint is test infrastructure that `make install` builds (hack/build-actionlint.sh).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.resources import ProjectMappingSpec
from controller.workflows import COMMENT_TRIGGER_PATH, RUNNER_WORKFLOW_PATH, render_templates
from tests.support.workflow_linters import lint_workflows

BASE: dict[str, Any] = {
    "teamKey": "ENG",
    "ticketing": {"provider": "linear"},
    "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
}
SPECS = {
    "anthropic": ProjectMappingSpec.model_validate(BASE),
    "bedrock": ProjectMappingSpec.model_validate(BASE | {"provider": {"name": "bedrock", "awsRegion": "eu-west-1"}}),
}
WORKFLOWS = (RUNNER_WORKFLOW_PATH, COMMENT_TRIGGER_PATH)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def rendered(provider: str, path: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(render_templates(SPECS[provider])[path])
    return document


def every_step(document: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("provider", sorted(SPECS))
@pytest.mark.parametrize("path", WORKFLOWS)
def test_each_job_has_only_the_permissions_it_names(provider: str, path: str) -> None:
    document = rendered(provider, path)

    assert document["permissions"] == {}, "nothing granted workflow-wide"
    for name, job in document["jobs"].items():
        assert "permissions" in job, name
    if path == RUNNER_WORKFLOW_PATH:
        assert document["jobs"]["image"]["permissions"] == {"contents": "read"}
        assert document["jobs"]["run"]["permissions"] == {"id-token": "write"}


@pytest.mark.parametrize("provider", sorted(SPECS))
@pytest.mark.parametrize("path", WORKFLOWS)
def test_actions_are_pinned_by_commit_and_scripts_take_values_from_env_only(provider: str, path: str) -> None:
    for step in every_step(rendered(provider, path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if "run" in step:
            assert "${{" not in step["run"], f"an expression spliced into the script of {step.get('name')}"


def test_settings_reach_github_env_under_a_delimiter_no_value_can_guess(tmp_path: Path) -> None:
    script = _export_script()
    environment_file = tmp_path / "env"
    sneaky = "x\nAI_IMPLEMENT_EOF\nLD_PRELOAD=/tmp/evil.so"

    good = _run(script, {"AI_IMPLEMENT_MODEL": "claude", "AI_IMPLEMENT_MAX_TURNS": "40"}, environment_file)
    written = environment_file.read_text()
    refused_value = _run(script, {"AI_IMPLEMENT_MODEL": sneaky}, tmp_path / "refused")
    refused_name = _run(script, {"BAD NAME": "x"}, tmp_path / "refused-name")
    second = _run(script, {"AI_IMPLEMENT_MODEL": "claude"}, tmp_path / "second")

    assert good.returncode == 0, good.stderr
    assert "AI_IMPLEMENT_MODEL<<ai_implement_" in written
    assert "AI_IMPLEMENT_EOF" not in written
    delimiters = {line.split("<<", 1)[1] for line in written.splitlines() if "<<" in line}
    assert len(delimiters) == 1
    [delimiter] = delimiters
    assert re.fullmatch(r"ai_implement_[0-9a-f]{32}", delimiter)
    assert delimiter not in (tmp_path / "second").read_text(), "a new delimiter for every run"
    assert second.returncode == 0
    for refused, file in ((refused_value, "refused"), (refused_name, "refused-name")):
        assert refused.returncode == 1
        assert "must map variable names to one-line strings" in refused.stdout
        assert not (tmp_path / file).exists() or (tmp_path / file).read_text() == ""


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_the_rendered_workflows_are_clean_under_actionlint_and_shellcheck(provider: str, tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for path in WORKFLOWS:
        (tmp_path / path).write_text(render_templates(SPECS[provider])[path])

    linted = lint_workflows(*(tmp_path / path for path in WORKFLOWS), cwd=tmp_path)

    assert linted.returncode == 0, linted.stdout + linted.stderr


def _export_script() -> str:
    [step] = [
        s
        for s in every_step(rendered("anthropic", RUNNER_WORKFLOW_PATH))
        if s.get("name") == "Export the run's settings"
    ]
    return str(step["run"])


def _run(script: str, settings: dict[str, str], github_env: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "AI_IMPLEMENT_SETTINGS": json.dumps(settings),
        "GITHUB_ENV": str(github_env),
    }
    return subprocess.run(["bash", "-e", "-c", script], env=environment, capture_output=True, text=True, check=False)
