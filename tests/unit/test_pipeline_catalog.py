"""Pipelines, steps and providers: built-in ones, and what custom/ overrides, adds or gets wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.pipelines import KINDS, CatalogError, load_catalog

STEP = (
    "from controller.runner.step import StepContext\n\n\n"
    "async def run(context: StepContext) -> None:\n"
    "    return None\n"
)
YAML_PROBLEM = "custom/pipelines/implementation.yml: is not valid YAML"
NOT_A_STEP = "custom/steps/lint.py: does not implement the step interface"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_kind_has_a_built_in_pipeline_whose_steps_all_exist() -> None:
    catalog = load_catalog(None)

    assert catalog.problems() == []
    for kind in KINDS:
        pipeline = catalog.pipeline_for(kind)
        assert pipeline.status == "builtin"
        assert all(catalog.steps[step].status == "builtin" for step in pipeline.steps)
    assert catalog.pipeline_for("implementation").steps[-1] == "open-pull-request"
    assert catalog.provider("claude-code").status == "builtin"


def test_custom_files_override_by_name_and_add_new_ones(tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    write(custom / "pipelines" / "review.yml", "steps: [checkout, address-review, lint, push]\n")
    write(custom / "steps" / "lint.py", STEP)
    write(custom / "steps" / "run_checks.py", STEP)  # `_` spells the id's `-`
    write(custom / "README.md", "ours\n")
    write(custom / "steps" / ".gitkeep", "")
    write(custom / "prompts" / "house-style.md", "Be brief.\n")

    catalog = load_catalog(custom)

    assert catalog.problems() == []
    assert catalog.pipeline_for("review").steps == ("checkout", "address-review", "lint", "push")
    assert catalog.pipelines["review"].status == "override"
    assert catalog.steps["lint"].status == "additive"
    assert catalog.steps["run-checks"].status == "override"
    assert catalog.steps["run-checks"].path == custom / "steps" / "run_checks.py"
    files = {item.path: item for item in catalog.custom_files}
    assert sorted(files) == [
        "custom/pipelines/review.yml",
        "custom/prompts/house-style.md",
        "custom/steps/lint.py",
        "custom/steps/run_checks.py",
    ]
    assert (files["custom/pipelines/review.yml"].category, files["custom/pipelines/review.yml"].status) == (
        "pipeline",
        "override",
    )
    assert files["custom/pipelines/review.yml"].upstream == "controller/pipelines/review.yml"
    assert files["custom/steps/run_checks.py"].upstream == "controller/runner/steps/run_checks.py"
    assert (files["custom/steps/lint.py"].status, files["custom/steps/lint.py"].upstream) == ("additive", None)
    assert (files["custom/prompts/house-style.md"].category, files["custom/prompts/house-style.md"].status) == (
        "other",
        "other",
    )
    assert files["custom/steps/lint.py"].size == len(STEP)


@pytest.mark.parametrize(
    ("path", "text", "problem"),
    [
        ("pipelines/implementation.yml", "steps: [checkout\n", YAML_PROBLEM),
        ("pipelines/implementation.yml", "steps: [checkout, deploy]\n", "names unknown steps: deploy"),
        ("pipelines/implementation.yml", "- checkout\n", "must be a mapping with `steps:`"),
        ("pipelines/implementation.yml", "steps: []\n", "`steps` must be a non-empty list"),
        ("pipelines/implementation.yml", "steps: [checkout]\nstep: [x]\n", "has unknown keys step"),
        ("steps/lint.py", "def run(context):\n    pass\n", NOT_A_STEP),
        ("steps/lint.py", "async def run():\n    pass\n", "does not implement the step interface"),
        ("steps/lint.py", "async def run(context:\n", "custom/steps/lint.py: is not valid Python"),
        ("steps/Lint.py", STEP, "'Lint' is not a kebab-case id"),
        ("providers/codex.py", "def command(settings):\n    return []\n", "does not implement the agent provider"),
    ],
)
def test_a_bad_custom_file_is_reported_by_name_and_never_run(
    tmp_path: Path, path: str, text: str, problem: str
) -> None:
    custom = tmp_path / "custom"
    write(custom / path, text)

    catalog = load_catalog(custom)

    assert any(problem in found for found in catalog.problems()), catalog.problems()
    [listed] = [item for item in catalog.custom_files if item.path == f"custom/{path}"]
    assert listed.problem is not None


def test_a_run_refuses_a_pipeline_with_a_problem_before_it_starts(tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    write(custom / "pipelines" / "implementation.yml", "steps: [checkout, lint]\n")
    write(custom / "steps" / "lint.py", "def run(context):\n    pass\n")

    catalog = load_catalog(custom)

    with pytest.raises(CatalogError, match=re.escape(NOT_A_STEP)):
        catalog.pipeline_for("implementation")
    with pytest.raises(CatalogError, match="no pipeline for 'deploy'"):
        catalog.pipeline_for("deploy")
    assert catalog.pipeline_for("planning").status == "builtin", "the other pipelines still run"


def test_a_missing_custom_directory_means_built_ins_only(tmp_path: Path) -> None:
    assert load_catalog(tmp_path / "absent").custom_files == ()
    assert load_catalog(tmp_path / "absent").problems() == []
    write(tmp_path / "a-file", "")
    expected = f"{tmp_path / 'a-file'} is not a directory: no customizations are used"
    assert load_catalog(tmp_path / "a-file").problems() == [expected]
