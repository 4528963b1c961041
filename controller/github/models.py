"""GitHub's answers as typed values: only the fields the controller reads, extra fields ignored.

The installation token is a `SecretStr`, so that no repr, log line or validation error ever shows it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, RootModel, SecretStr


class _GitHubModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Account(_GitHubModel):
    """A user, an organization or a bot (`type` is `User`, `Organization` or `Bot`)."""

    login: str
    id: int
    type: str = "User"


class Installation(_GitHubModel):
    """`GET /repos/{owner}/{repo}/installation`: which installation of the App covers a repository."""

    id: int
    account: Account
    app_id: int
    app_slug: str = ""
    target_type: str = ""
    permissions: dict[str, str] = Field(default_factory=dict)
    repository_selection: str = ""
    suspended_at: datetime | None = None


class InstallationToken(_GitHubModel):
    """`POST /app/installations/{id}/access_tokens`: a token that lives one hour."""

    token: SecretStr
    expires_at: datetime
    permissions: dict[str, str] = Field(default_factory=dict)
    repository_selection: str = ""


class Repository(_GitHubModel):
    id: int
    name: str
    full_name: str
    owner: Account
    default_branch: str
    private: bool = False
    html_url: str = ""
    clone_url: str = ""
    """Where git fetches and pushes (`https://github.com/owner/repo.git`; a sandbox serves its own)."""


class RepositoryFile(_GitHubModel):
    """One file of the contents API; `content` is base64 with line breaks, as GitHub sends it."""

    type: str
    path: str
    sha: str
    """The blob sha: what a later `PUT` must name to replace this version of the file."""
    size: int = 0
    encoding: str = "base64"
    content: str = ""

    @property
    def data(self) -> bytes:
        """The file's bytes; files over 1 MB come without content (`encoding: none`) and are refused."""
        if self.encoding != "base64":
            raise ValueError(f"{self.path} came without its content (encoding {self.encoding!r}): it is too large")
        try:
            return base64.b64decode(self.content)
        except binascii.Error as error:
            raise ValueError(f"{self.path} came with content that is not base64: {error}") from None

    @property
    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{self.path} is not UTF-8 text") from None


class WorkflowDispatch(_GitHubModel):
    """The 200 answer to a dispatch with `return_run_details: true`."""

    workflow_run_id: int
    run_url: str = ""
    html_url: str = ""


class WorkflowRun(_GitHubModel):
    id: int
    name: str | None = None
    display_title: str = ""
    """The rendered `run-name:`; the synced workflow puts the dispatch name there."""
    run_number: int = 0
    run_attempt: int = 1
    event: str = ""
    status: str | None = None
    """queued, in_progress, completed, waiting, requested or pending."""
    conclusion: str | None = None
    """None until completed; then success, failure, cancelled, skipped, timed_out, …"""
    head_branch: str | None = None
    head_sha: str = ""
    html_url: str = ""
    workflow_id: int = 0
    path: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    run_started_at: datetime | None = None
    actor: Account | None = None


class WorkflowRunPage(_GitHubModel):
    total_count: int = 0
    workflow_runs: list[WorkflowRun]


class BranchRef(_GitHubModel):
    """A pull request's `head` or `base`."""

    ref: str
    sha: str
    label: str = ""


class PullRequest(_GitHubModel):
    number: int
    state: str
    title: str
    body: str | None = None
    draft: bool = False
    html_url: str = ""
    user: Account | None = None
    head: BranchRef
    base: BranchRef
    merged: bool | None = None
    """Only in the answer for one pull request; lists leave it out (use `is_merged`)."""
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_merged(self) -> bool:
        """Merged or not, from a list entry (no `merged`) as well as from a single pull request."""
        return self.merged if self.merged is not None else self.merged_at is not None


class IssueComment(_GitHubModel):
    id: int
    body: str = ""
    html_url: str = ""
    issue_url: str = ""
    """The API URL of the issue or pull request it is on: `…/repos/{owner}/{repo}/issues/{number}`."""
    author_association: str = "NONE"
    user: Account | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class GitObject(_GitHubModel):
    sha: str
    type: str = "commit"


class GitRef(_GitHubModel):
    """`refs/heads/<branch>` and the commit it points at."""

    ref: str
    object: GitObject

    @property
    def sha(self) -> str:
        return self.object.sha


class FileContentSummary(_GitHubModel):
    path: str
    sha: str


class CommitSummary(_GitHubModel):
    sha: str
    message: str = ""


class FileCommit(_GitHubModel):
    """The answer to a contents `PUT`: the file's new blob sha and the commit that wrote it."""

    content: FileContentSummary
    commit: CommitSummary


class _PullRequestList(RootModel[list[PullRequest]]):
    model_config = ConfigDict(frozen=True)


class _IssueCommentList(RootModel[list[IssueComment]]):
    model_config = ConfigDict(frozen=True)
