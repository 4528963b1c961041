"""The protect-custom check: which changes under custom/ it flags, and how, on a real git repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "hack" / "protect_custom.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("protect_custom", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


protect_custom = load()


def test_only_the_readme_and_gitkeep_files_may_change_under_custom() -> None:
    changed = [
        "custom/README.md",
        "custom/steps/.gitkeep",
        "custom/pipelines/implementation.yml",
        "custom/steps/lint.py",
        "controller/cli.py",
        "docs/custom/notes.md",
        "custom/providers/x.py",
    ]
    assert protect_custom.violations(changed) == [
        "custom/pipelines/implementation.yml",
        "custom/providers/x.py",
        "custom/steps/lint.py",
    ]


def git(repository: Path, *arguments: str) -> str:
    result = subprocess.run(["git", *arguments], cwd=repository, check=True, capture_output=True, text=True)
    return result.stdout


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "Test")
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "README.md").write_text("# custom/\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "upstream")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def run(repository: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--base", "main", *arguments],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_pull_request_with_a_custom_step_gets_a_warning_and_passes(repository: Path) -> None:
    (repository / "custom" / "steps").mkdir()
    (repository / "custom" / "steps" / "lint.py").write_text("print('mine')\n")
    (repository / "custom" / "README.md").write_text("# custom/, reworded\n")
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "a deployment's own step")

    advisory, strict = run(repository), run(repository, "--strict")

    assert advisory.returncode == 0
    warnings = [line for line in advisory.stdout.splitlines() if line.startswith("::warning")]
    assert [line.split(",")[0] for line in warnings] == ["::warning file=custom/steps/lint.py"]
    assert strict.returncode == 1


def test_a_pull_request_outside_custom_is_quiet(repository: Path) -> None:
    (repository / "notes.md").write_text("upstream work\n")
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "elsewhere")

    checked = run(repository, "--strict")

    assert (checked.returncode, "::warning" in checked.stdout) == (0, False)


def test_a_base_that_looks_like_an_option_is_refused(repository: Path) -> None:
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--base=--output=/tmp/x"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 2
    assert "is not a git ref" in checked.stderr


def test_a_file_with_a_non_ascii_name_is_flagged_too(repository: Path) -> None:
    """git quotes such names in its usual output; the check reads them unquoted."""
    (repository / "custom" / "étape.py").write_text("print('à moi')\n")
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "une étape")

    checked = run(repository, "--strict")

    assert checked.returncode == 1
    assert "file=custom/étape.py," in checked.stdout
