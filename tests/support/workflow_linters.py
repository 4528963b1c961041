"""The linters the tests hold GitHub workflows to: actionlint, which runs shellcheck on every `run:` script.

Both are test infrastructure that `make install` provides: actionlint is built from its pinned Go module
(hack/build-actionlint.sh), shellcheck is Debian's package (hack/install-system-deps.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def actionlint() -> str:
    """The path of actionlint, built once into the cache; the test fails, saying how to get it, when it can't be."""
    built = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-actionlint.sh")], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        pytest.fail(f"actionlint could not be built (make install builds it): {built.stderr[-2000:]}")
    return built.stdout.strip()


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck is not installed: `make install` installs Debian's shellcheck package")
    return found


def lint_workflows(*paths: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """actionlint with shellcheck on these workflow files; returncode 0 means clean, the output says what is not."""
    return subprocess.run(
        [actionlint(), "-shellcheck", shellcheck(), *(str(path) for path in paths)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
