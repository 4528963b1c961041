"""Workflow sync: one pull request per target repository that brings its synced files up to date.

`WorkflowSync.sync()` works on the branch `ai-implement/sync-workflows`, which belongs to the
controller:

- It reads the synced files on the default branch and decides which are not current
  (`controller.workflows.rendering`). None: nothing is written and no pull request is opened.
- No open pull request from the branch: the branch is created at the default branch's head, or
  moved there (forced) when an earlier sync left it behind, and each file that is not current is
  committed to it (the contents API writes one commit per file); then the pull request is opened.
- An open pull request: its branch is brought forward with one commit per file whose content on
  the branch is not what it should be. It is never moved back to the default branch first: a head
  pointing at a commit of its base reads to GitHub as merged, and the pull request would close.
  If the default branch changed a synced file since the branch was made, the pull request may show
  a conflict for a person to resolve.

`WorkflowSync.check()` reads the same files once for the template-status and models panels
(`controller.workflows.checks`); a sync hands back the check its own read amounts to.

A file that is current on the default branch keeps its text there (a team's edited prompt is never
proposed back to the starter); the others get the rendering. Running a sync twice therefore opens
one pull request and, the second time, commits nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from controller.clock import Clock, utc_now
from controller.github import (
    FileCommit,
    GitHubPullRequestExists,
    GitHubReferenceExists,
    GitRef,
    PullRequest,
    Repository,
    RepositoryFile,
)
from controller.resources import ProjectMappingSpec
from controller.store import RepositoryCheck
from controller.workflows.checks import RepositoryKey, repository_check
from controller.workflows.rendering import (
    DEFAULT_SESSION_IMAGE,
    SYNCED_PATHS,
    TEMPLATE_VERSION,
    FileState,
    file_states,
    render_templates,
)

SYNC_BRANCH: Final = "ai-implement/sync-workflows"
PULL_REQUEST_TITLE: Final = f"Sync AI-Implement workflows (template v{TEMPLATE_VERSION})"
SyncOutcome = Literal["opened", "updated", "current"]


class RepositoryApi(Protocol):
    """The calls of `controller.github.GitHubClient` a sync makes."""

    async def get_file(self, owner: str, repo: str, path: str, *, ref: str | None = None) -> RepositoryFile | None: ...

    async def put_file(
        self,
        owner: str,
        repo: str,
        path: str,
        *,
        content: str | bytes,
        message: str,
        branch: str | None = None,
        sha: str | None = None,
    ) -> FileCommit: ...

    async def get_repository(self, owner: str, repo: str) -> Repository: ...

    async def get_branch_ref(self, owner: str, repo: str, branch: str) -> GitRef | None: ...

    async def create_branch(self, owner: str, repo: str, branch: str, sha: str) -> GitRef: ...

    async def update_branch(self, owner: str, repo: str, branch: str, sha: str, *, force: bool = False) -> GitRef: ...

    async def list_pull_requests(
        self,
        owner: str,
        repo: str,
        *,
        head: str | None = None,
        base: str | None = None,
        state: Literal["open", "closed", "all"] = "open",
    ) -> list[PullRequest]: ...

    async def create_pull_request(
        self, owner: str, repo: str, *, title: str, head: str, base: str, body: str = "", draft: bool = False
    ) -> PullRequest: ...


class WorkflowSyncError(Exception):
    """The mapping does not fit its repository (its default branch does not exist); the message says how."""


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome
    """`opened` a pull request, `updated` the open one, or nothing to do: `current`."""
    repo: str
    branch: str
    pull_request_url: str | None
    number: int | None
    created: bool
    changed_files: tuple[str, ...]
    """The synced files that differ from the default branch, which the pull request changes."""
    check: RepositoryCheck
    """The default branch as the sync read it: the repository's check, fresh."""


class WorkflowSync:
    """Syncs and checks the templates of target repositories through the GitHub App's installation."""

    def __init__(
        self, github: RepositoryApi, *, session_image: str = DEFAULT_SESSION_IMAGE, clock: Clock = utc_now
    ) -> None:
        """`session_image` is SESSION_IMAGE, the image runs use when neither repository nor mapping names one."""
        self._github = github
        self._session_image = session_image
        self._clock = clock

    def render(self, spec: ProjectMappingSpec) -> dict[str, str]:
        return render_templates(spec, session_image=self._session_image)

    async def check(self, key: RepositoryKey) -> RepositoryCheck:
        """Read the synced files on a default branch once: what the template-status and models panels need.

        Raises `GitHubError` when GitHub refuses, `WorkflowSyncError` when the branch does not exist.
        """
        owner, repo, branch = key
        base_sha = await self._branch_head(owner, repo, branch)
        found = await self._read(owner, repo, base_sha)
        return repository_check(key, {path: _text(file) for path, file in found.items()}, self._clock())

    async def sync(self, spec: ProjectMappingSpec) -> SyncResult:
        owner, repo, base = spec.source.owner, spec.source.repo, spec.source.default_branch
        full_name = f"{owner}/{repo}"
        base_sha = await self._branch_head(owner, repo, base)
        rendered = self.render(spec)
        on_base = await self._read(owner, repo, base_sha)
        texts = {path: _text(file) for path, file in on_base.items()}
        check = repository_check((owner, repo, base), texts, self._clock())
        states = file_states(rendered, texts)
        changed = tuple(path for path in rendered if states[path] is not FileState.CURRENT)
        if not changed:
            return SyncResult(
                "current", full_name, SYNC_BRANCH, None, None, created=False, changed_files=changed, check=check
            )
        wanted = {path: rendered[path] if path in changed else _text(on_base[path]) or "" for path in rendered}
        pulls = await self._github.list_pull_requests(owner, repo, head=SYNC_BRANCH, base=base, state="open")
        if pulls:
            pull = pulls[0]
            on_branch = await self._read(owner, repo, SYNC_BRANCH)
            await self._commit(owner, repo, wanted, on_branch)
            return SyncResult(
                "updated",
                full_name,
                SYNC_BRANCH,
                pull.html_url,
                pull.number,
                created=False,
                changed_files=changed,
                check=check,
            )
        await self._branch_at(owner, repo, base_sha)
        await self._commit(owner, repo, wanted, on_base)
        pull = await self._open_pull_request(owner, repo, base, changed)
        return SyncResult(
            "opened",
            full_name,
            SYNC_BRANCH,
            pull.html_url,
            pull.number,
            created=True,
            changed_files=changed,
            check=check,
        )

    async def _branch_head(self, owner: str, repo: str, branch: str) -> str:
        """The commit the default branch points at.

        GitHub answers 404 alike for a missing branch and for a repository the App cannot see, so a
        missing branch is told apart by reading the repository: that raises `GitHubAppNotInstalled`
        or `GitHubNotFound` when the repository is the problem.
        """
        ref = await self._github.get_branch_ref(owner, repo, branch)
        if ref is not None:
            return ref.sha
        repository = await self._github.get_repository(owner, repo)
        raise WorkflowSyncError(
            f"{owner}/{repo} has no branch {branch!r}: set the mapping's source.defaultBranch to the repository's "
            f"primary branch ({repository.default_branch!r})"
        )

    async def _read(self, owner: str, repo: str, ref: str) -> dict[str, RepositoryFile | None]:
        files = await asyncio.gather(*(self._github.get_file(owner, repo, path, ref=ref) for path in SYNCED_PATHS))
        return dict(zip(SYNCED_PATHS, files, strict=True))

    async def _branch_at(self, owner: str, repo: str, sha: str) -> None:
        """The sync branch at `sha`: created, or moved back there when no open pull request uses it."""
        try:
            await self._github.create_branch(owner, repo, SYNC_BRANCH, sha)
        except GitHubReferenceExists:
            await self._github.update_branch(owner, repo, SYNC_BRANCH, sha, force=True)

    async def _commit(
        self, owner: str, repo: str, wanted: Mapping[str, str], on_branch: Mapping[str, RepositoryFile | None]
    ) -> None:
        """One commit per file whose text on the branch is not the wanted one, one after the other."""
        for path, text in wanted.items():
            existing = on_branch.get(path)
            if existing is not None and _text(existing) == text:
                continue
            verb = "Add" if existing is None else "Update"
            await self._github.put_file(
                owner,
                repo,
                path,
                content=text,
                message=f"{verb} {path} (AI-Implement template v{TEMPLATE_VERSION})",
                branch=SYNC_BRANCH,
                sha=existing.sha if existing is not None else None,
            )

    async def _open_pull_request(self, owner: str, repo: str, base: str, changed: Sequence[str]) -> PullRequest:
        """The pull request, or the one a concurrent sync opened a moment ago."""
        try:
            return await self._github.create_pull_request(
                owner, repo, title=PULL_REQUEST_TITLE, head=SYNC_BRANCH, base=base, body=_pull_request_body(changed)
            )
        except GitHubPullRequestExists:
            pulls = await self._github.list_pull_requests(owner, repo, head=SYNC_BRANCH, base=base, state="open")
            if not pulls:
                raise
            return pulls[0]


def _text(file: RepositoryFile | None) -> str | None:
    """A file's text; one that is not UTF-8, or too large to come with its content, reads as unusable text."""
    if file is None:
        return None
    try:
        return file.data.decode("utf-8", errors="replace")
    except ValueError:
        return ""


def _pull_request_body(changed: Sequence[str]) -> str:
    files = "\n".join(f"- `{path}`" for path in changed)
    return (
        f"The AI-Implement controller proposes these files from its templates (version {TEMPLATE_VERSION}):\n\n"
        f"{files}\n\n"
        "The two workflows belong to the controller: edit the ProjectMapping rather than the files, then sync "
        "again. `WORKFLOW.md` and `PLANNING.md` are starter prompts for you to edit after merging; the "
        "controller keeps your version until its template version changes.\n\n"
        "Merging makes the templates current. A later sync updates this pull request while it is open. The "
        "workflows need repository secrets and variables; see the controller's docs/workflows.md."
    )
