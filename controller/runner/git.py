"""git, as the runner uses it: clone, branch, commit and push with the run's repository token.

The token is sent as an HTTP header on each fetch and push (`http.extraHeader`), never written into
the checkout's configuration or remote URL: the agent works in the checkout and must not find it.
Commits are made as the AI-Implement bot unless the run's environment names someone else
(`GIT_AUTHOR_NAME`, `GIT_AUTHOR_EMAIL`).
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BOT_NAME: Final = "AI-Implement"
BOT_EMAIL: Final = "ai-implement@users.noreply.github.com"
OUTPUT_TAIL_CHARS: Final = 4000
GIT_TIMEOUT_SECONDS: Final = 600.0


class GitFailed(Exception):
    """A git command failed; the message says which and what git said (without the token)."""


@dataclass(frozen=True, slots=True)
class GitOutput:
    code: int
    output: str


class Git:
    """git in one working tree, authenticated for one remote."""

    def __init__(self, workdir: Path, token: str | None, environment: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self._token = token
        base = dict(os.environ if environment is None else environment)
        self._environment = {
            **base,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": base.get("GIT_AUTHOR_NAME", BOT_NAME),
            "GIT_AUTHOR_EMAIL": base.get("GIT_AUTHOR_EMAIL", BOT_EMAIL),
            "GIT_COMMITTER_NAME": base.get("GIT_COMMITTER_NAME", BOT_NAME),
            "GIT_COMMITTER_EMAIL": base.get("GIT_COMMITTER_EMAIL", BOT_EMAIL),
        }

    def _auth(self) -> list[str]:
        if not self._token:
            return []
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return ["-c", f"http.extraHeader=Authorization: Basic {basic}"]

    async def clone(self, url: str, branch: str) -> None:
        """A full clone of `branch` into the (empty) working tree."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self.run("clone", "--branch", branch, "--", url, ".", authenticated=True)

    async def run(self, *args: str, authenticated: bool = False, check: bool = True) -> GitOutput:
        command = ["git", *(self._auth() if authenticated else []), *args]
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=self.workdir,
            env=self._environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise GitFailed(f"git {args[0]} was still running after {GIT_TIMEOUT_SECONDS:.0f} s") from None
        output = self._redact(out.decode(errors="replace").strip())[-OUTPUT_TAIL_CHARS:]
        code = process.returncode if process.returncode is not None else -1
        if check and code != 0:
            raise GitFailed(f"git {' '.join(_shown(args))} failed (exit code {code}): {output}")
        return GitOutput(code, output)

    async def has_changes(self) -> bool:
        """Whether the working tree differs from HEAD, untracked files included."""
        return bool((await self.run("status", "--porcelain")).output.strip())

    async def changed_files(self) -> list[str]:
        listing = (await self.run("status", "--porcelain")).output
        return [line[3:] for line in listing.splitlines() if len(line) > 3]

    async def commit_all(self, message: str) -> str:
        """Stage everything and commit it; the new commit's sha."""
        await self.run("add", "--all")
        await self.run("commit", "--quiet", "--no-verify", "-m", message)
        return await self.head()

    async def head(self) -> str:
        return (await self.run("rev-parse", "HEAD")).output.strip()

    async def commits_since(self, base: str) -> int:
        counted = await self.run("rev-list", "--count", f"{base}..HEAD", check=False)
        return int(counted.output) if counted.code == 0 and counted.output.isdigit() else 0

    async def push(self, branch: str, *, force: bool = False) -> None:
        await self.run(
            "push", *(["--force"] if force else []), "origin", f"HEAD:refs/heads/{branch}", authenticated=True
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[redacted]") if self._token else text


def _shown(args: Sequence[str]) -> list[str]:
    return [arg if len(arg) < 80 else arg[:77] + "..." for arg in args[:6]]
