"""The Dockerfile builds both images as documented; Docker is not here, so its promises are read from the file."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).parents[2] / "Dockerfile").read_text()


def stage(name: str) -> str:
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert match is not None, f"no `{name}` stage"
    return match.group(1)


def test_the_runner_image_runs_the_runner_unprivileged_with_a_pinned_agent_and_custom() -> None:
    runner = stage("runner")
    assert re.search(r"^ARG CLAUDE_CODE_VERSION=\d+\.\d+\.\d+$", runner, re.M), "the agent CLI is pinned"
    assert '"@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}"' in runner
    assert re.search(r"^USER (?!root|0\b)\S+$", runner, re.M), "not root"
    assert "AI_IMPLEMENT_CUSTOM_DIR=/app/custom" in runner
    assert "COPY custom /app/custom" in runner
    assert 'CMD ["ai-implement-runner"]' in runner
    for tool in ("git", "jq", "python3"):
        assert f" {tool} " in runner


def test_the_controller_image_is_the_default_target_and_unprivileged() -> None:
    last = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert re.match(r"python:3\.11-slim@sha256:[0-9a-f]{64} AS controller\n", last)
    controller = stage("controller")
    assert "USER 65532:65532" in controller
    assert "COPY custom /app/custom" in controller


def test_the_controller_image_carries_the_admin_ui() -> None:
    build = stage("build")
    assert "COPY controller ./controller" in build
    assert "COPY webui ./webui" in build, "the API imports webui: templates and static assets are package data"
