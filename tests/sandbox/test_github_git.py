"""The GitHub sandbox over git's smart HTTP protocol: real clones and pushes with an installation token."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github import GitHubClient
from controller.httpclient import RetryPolicy
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.github.git_http import parents_first
from controller.sandbox.github.state import CommitState, RepoState, TokenState
from tests.sandbox.github_fixtures import OWNER, REPO, github_client, seeded_sandbox
from tests.sandbox.support import FakeTime


@pytest.fixture
async def github_sandbox(fake_time: FakeTime, rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[GitHubSandbox]:
    sandbox = seeded_sandbox(fake_time, rsa_key)
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def github(github_sandbox: GitHubSandbox, rsa_key_pem: str, retry: RetryPolicy) -> AsyncIterator[GitHubClient]:
    async with github_client(github_sandbox, rsa_key_pem, retry) as client:
        yield client


async def installation_token(github: GitHubClient, sandbox: GitHubSandbox) -> str:
    await github.get_repository(OWNER, REPO)  # mints the installation's token
    return next(iter(sandbox.tokens))


def remote(sandbox: GitHubSandbox, token: str) -> str:
    assert sandbox.url is not None
    return sandbox.url.replace("http://", f"http://x-access-token:{token}@") + f"/{OWNER}/{REPO}.git"


async def git(directory: Path, *arguments: str, check: bool = True) -> tuple[int, str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(directory.parent),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Runner",
        "GIT_AUTHOR_EMAIL": "runner@example.com",
        "GIT_COMMITTER_NAME": "Runner",
        "GIT_COMMITTER_EMAIL": "runner@example.com",
    }
    process = await asyncio.create_subprocess_exec(
        "git",
        *arguments,
        cwd=directory,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if check and process.returncode != 0:
        raise AssertionError(f"git {' '.join(arguments)} failed ({process.returncode}):\n{text}")
    return process.returncode or 0, text


async def test_a_clone_has_the_repositorys_files_and_a_push_reaches_the_rest_api(
    github_sandbox: GitHubSandbox, github: GitHubClient, tmp_path: Path
) -> None:
    token = await installation_token(github, github_sandbox)
    await git(tmp_path, "clone", "-q", remote(github_sandbox, token), "web")
    checkout = tmp_path / "web"
    assert (checkout / "README.md").read_text() == "# web\n"
    assert (checkout / ".github" / "workflows" / "ai-implement.yml").exists()

    await git(checkout, "checkout", "-q", "-b", "ai-implement/eng-1")
    (checkout / "src").mkdir()
    (checkout / "src" / "theme.css").write_text("body { background: black }\n")
    await git(checkout, "add", ".")
    await git(checkout, "commit", "-q", "-m", "ENG-1: dark mode")
    await git(checkout, "push", "-q", "origin", "ai-implement/eng-1")

    pushed = await github.read_text(OWNER, REPO, "src/theme.css", ref="ai-implement/eng-1")
    assert pushed == "body { background: black }\n"
    _, head = await git(checkout, "rev-parse", "HEAD")
    repo = github_sandbox.repos[(OWNER, REPO)]
    assert repo.refs["refs/heads/ai-implement/eng-1"] == head.strip(), "the model knows the commit by its git id"
    assert repo.commits[head.strip()].message == "ENG-1: dark mode\n"


async def test_a_change_made_through_the_api_is_fetched_by_git(
    github_sandbox: GitHubSandbox, github: GitHubClient, tmp_path: Path
) -> None:
    token = await installation_token(github, github_sandbox)
    await git(tmp_path, "clone", "-q", remote(github_sandbox, token), "web")
    github_sandbox.repos[(OWNER, REPO)].commit(
        "main", {"docs/new.md": b"new\n"}, message="from the API", author={"name": "Bot"}, now=1.0
    )

    await git(tmp_path / "web", "pull", "-q", "--ff-only")

    assert (tmp_path / "web" / "docs" / "new.md").read_text() == "new\n"


async def test_without_a_token_git_is_asked_to_authenticate(github_sandbox: GitHubSandbox) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{github_sandbox.url}/{OWNER}/{REPO}.git/info/refs?service=git-upload-pack")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


async def test_a_read_only_token_clones_but_cannot_push(
    github_sandbox: GitHubSandbox, github: GitHubClient, tmp_path: Path, fake_time: FakeTime
) -> None:
    issued = github_sandbox.tokens[await installation_token(github, github_sandbox)]
    github_sandbox.tokens["ghs_readOnlyToken"] = TokenState(
        installation=issued.installation,
        expires_at=fake_time.now + 3600,
        repositories=None,
        permissions={"contents": "read", "metadata": "read"},
    )
    await git(tmp_path, "clone", "-q", remote(github_sandbox, "ghs_readOnlyToken"), "web")
    checkout = tmp_path / "web"
    (checkout / "x.txt").write_text("x\n")
    await git(checkout, "add", ".")
    await git(checkout, "commit", "-q", "-m", "x")

    code, said = await git(checkout, "push", "origin", "main", check=False)

    assert code != 0
    assert "403" in said or "denied" in said
    main = github_sandbox.repos[(OWNER, REPO)].branch_head("main")
    assert main is not None
    assert "x.txt" not in main.tree


async def test_a_fetch_that_git_compresses_is_served(
    github_sandbox: GitHubSandbox, github: GitHubClient, tmp_path: Path
) -> None:
    """With many commits the client's negotiation exceeds 1 KiB and git gzips it."""
    repo = github_sandbox.repos[(OWNER, REPO)]
    for number in range(60):
        repo.commit("main", {f"log/{number}.txt": b"x\n"}, message=f"commit {number}", author={"name": "B"}, now=2.0)
    token = await installation_token(github, github_sandbox)
    await git(tmp_path, "clone", "-q", remote(github_sandbox, token), "web")
    repo.commit("main", {"last.txt": b"last\n"}, message="one more", author={"name": "B"}, now=3.0)

    await git(tmp_path / "web", "pull", "-q", "--ff-only")

    assert (tmp_path / "web" / "last.txt").read_text() == "last\n"


def test_commits_are_writtenparents_first_even_across_a_merge() -> None:
    repo = RepoState(id=1, owner=OWNER, name=REPO, default_branch="main")

    def commit(sha: str, *parents: str) -> None:
        repo.commits[sha] = CommitState(sha=sha, tree={}, parents=parents, message=sha, author={}, created_at=0.0)

    commit("root")
    commit("base-1", "root")
    commit("head-1", "root")
    commit("head-2", "head-1")
    commit("merge", "base-1", "head-2")

    order = parents_first(repo, "merge", known={"root"})

    assert sorted(order) == ["base-1", "head-1", "head-2", "merge"]
    for sha in order:
        assert all(parent == "root" or order.index(parent) < order.index(sha) for parent in repo.commits[sha].parents)


async def test_a_runs_token_covers_its_repository_with_only_what_a_run_needs(
    github_sandbox: GitHubSandbox, github: GitHubClient, tmp_path: Path
) -> None:
    minted = await github.repository_token(OWNER, REPO)
    token = minted.token.get_secret_value()

    assert minted.permissions == {"contents": "write", "pull_requests": "write", "metadata": "read"}
    assert minted.repository_selection == "selected"
    assert "workflows" not in github_sandbox.tokens[token].permissions
    await git(tmp_path, "clone", "-q", remote(github_sandbox, token), "web")
    other = remote(github_sandbox, token).replace(f"/{REPO}.git", "/api.git")
    code, said = await git(tmp_path, "clone", "-q", other, "api", check=False)
    assert code != 0, "the token opens no other repository of the installation"
    assert "not found" in said.lower()
