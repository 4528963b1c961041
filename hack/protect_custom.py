"""The `protect-custom` check: flag a pull request that changes files under `custom/`.

`custom/` belongs to each deployment's own overrides; upstream ships only `custom/README.md` and
`.gitkeep` files there, so that upgrading never touches anyone's customizations. The check is
advisory for now (a warning annotation on each file, exit 0); `--strict` makes it fail, which is
where the project means to go. Run by `.github/workflows/protect-custom.yml`; the tests run it too.

Usage: protect_custom.py [--strict] [--base REF] [PATH ...]
With paths, checks those; otherwise the files changed between REF (default origin/main) and HEAD.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

ALLOWED = frozenset({"custom/README.md"})


def violations(paths: Iterable[str]) -> list[str]:
    """The changed paths under custom/ that upstream must not carry, sorted."""
    flagged = set()
    for path in paths:
        posix = PurePosixPath(path.strip())
        if not posix.parts or posix.parts[0] != "custom":
            continue
        if str(posix) in ALLOWED or posix.name == ".gitkeep":
            continue
        flagged.add(str(posix))
    return sorted(flagged)


def annotation(path: str) -> str:
    """A GitHub Actions warning on the file, shown in the pull request (its properties escaped as GitHub asks)."""
    escaped = path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")
    return (
        f"::warning file={escaped},title=protect-custom::{escaped} is under custom/, which holds each deployment's "
        "own overrides; upstream carries only custom/README.md and .gitkeep files there"
    )


def changed_files(base: str) -> list[str]:
    if base.startswith("-"):
        raise ValueError(f"--base {base!r} is not a git ref")
    command = ["git", "diff", "--name-only", "-z", "--no-renames", f"{base}...HEAD"]  # -z: paths unquoted
    diff = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 - git from PATH, a checked ref
    return [path for path in diff.stdout.split("\0") if path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Flag changes under custom/ in an upstream pull request.")
    parser.add_argument("--strict", action="store_true", help="fail (exit 1) instead of only warning")
    parser.add_argument("--base", default="origin/main", help="the ref the pull request goes into")
    parser.add_argument("paths", nargs="*", help="the changed paths (default: git diff BASE...HEAD)")
    arguments = parser.parse_args(argv)
    try:
        paths = arguments.paths or changed_files(arguments.base)
    except subprocess.CalledProcessError as error:
        print(f"protect-custom: git diff {arguments.base}...HEAD failed: {error.stderr.strip()}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"protect-custom: {error}", file=sys.stderr)
        return 2
    flagged = violations(paths)
    for path in flagged:
        print(annotation(path))
    verdict = "fails" if arguments.strict else "warns (advisory)"
    print(
        f"protect-custom: {len(flagged)} file(s) under custom/ changed; the check {verdict}"
        if flagged
        else "protect-custom: nothing under custom/ changed beyond README.md and .gitkeep"
    )
    return 1 if flagged and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
