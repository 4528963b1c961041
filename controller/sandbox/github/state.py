"""The GitHub sandbox's state: Apps and installations, repositories as small git stores, runs, pull requests.

A repository keeps blobs, commits and refs the way git does, so blob shas are real git blob shas
(what the contents API's `sha` must name), every file write is one commit, and a branch is a ref
to a commit. Workflows are the `.github/workflows/*.yml` files of the default branch, read on
each dispatch at the dispatched ref, as GitHub does. Times are epoch seconds on the sandbox clock;
the `*_json` functions render GitHub's wire shapes (`2026-01-02T03:04:05Z`, no fraction).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

WEB_URL: Final = "https://github.com"
WORKFLOWS_DIRECTORY: Final = ".github/workflows/"
DEFAULT_PERMISSIONS: Final = {
    "actions": "write",
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "workflows": "write",
    "metadata": "read",
}
"""What the controller's App asks for (EXTERNAL_APIS.md §3.2)."""
TOKEN_LIFETIME_SECONDS: Final = 3600.0
CONCLUSIONS: Final = frozenset(
    {
        "success",
        "failure",
        "cancelled",
        "skipped",
        "timed_out",
        "action_required",
        "neutral",
        "stale",
        "startup_failure",
    }
)
NOT_STARTED_STATUSES: Final = frozenset({"requested", "pending", "waiting", "queued"})


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_sha(kind: str, data: bytes) -> str:
    """A git object id: sha1 over `<kind> <size>\\0<data>`, exactly as git computes it."""
    header = f"{kind} {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


@dataclass
class AppState:
    id: int
    slug: str
    client_id: str
    name: str
    public_key: rsa.RSAPublicKey = field(repr=False)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"

    def bot_json(self) -> dict[str, Any]:
        """The user the App acts as (comments, pull requests, dispatched runs)."""
        return user_json(self.bot_login, 41_000_000 + self.id, kind="Bot")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "client_id": self.client_id,
            "name": self.name,
            "html_url": f"{WEB_URL}/apps/{self.slug}",
        }


@dataclass
class InstallationState:
    id: int
    app: AppState
    account: str
    account_type: str
    repositories: frozenset[str] | None
    """Lower-case names of the repositories selected; None for every repository of the account."""
    permissions: dict[str, str]
    suspended: bool = False

    def covers(self, repo: RepoState) -> bool:
        if repo.owner.lower() != self.account.lower():
            return False
        return self.repositories is None or repo.name.lower() in self.repositories

    def allows(self, permission: str, *, write: bool) -> bool:
        level = self.permissions.get(permission)
        return level == "write" or (level == "read" and not write)

    def as_json(self, api_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": user_json(self.account, 1_000 + self.id, kind=self.account_type),
            "app_id": self.app.id,
            "app_slug": self.app.slug,
            "client_id": self.app.client_id,
            "target_type": self.account_type,
            "target_id": 1_000 + self.id,
            "permissions": dict(self.permissions),
            "events": ["pull_request", "pull_request_review", "issue_comment"],
            "repository_selection": "all" if self.repositories is None else "selected",
            "access_tokens_url": f"{api_url}/app/installations/{self.id}/access_tokens",
            "html_url": f"{WEB_URL}/organizations/{self.account}/settings/installations/{self.id}",
            "suspended_at": "2026-01-01T00:00:00Z" if self.suspended else None,
            "suspended_by": None,
        }


@dataclass
class TokenState:
    """An installation token; it may be narrowed to some repositories and permissions."""

    installation: InstallationState
    expires_at: float
    repositories: frozenset[str] | None
    permissions: dict[str, str]

    def covers(self, repo: RepoState) -> bool:
        named = self.repositories is None or repo.name.lower() in self.repositories
        return named and self.installation.covers(repo)

    def allows(self, permission: str, *, write: bool) -> bool:
        level = self.permissions.get(permission)
        return level == "write" or (level == "read" and not write)


@dataclass
class CommitState:
    sha: str
    tree: dict[str, str]
    """Path → blob sha: the whole tree of the commit, flattened."""
    parents: tuple[str, ...]
    message: str
    author: dict[str, str]
    created_at: float

    @property
    def tree_sha(self) -> str:
        listing = "".join(f"{path}\0{sha}\n" for path, sha in sorted(self.tree.items()))
        return git_sha("tree", listing.encode())


@dataclass
class RepoState:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool = True
    blobs: dict[str, bytes] = field(default_factory=dict, repr=False)
    commits: dict[str, CommitState] = field(default_factory=dict, repr=False)
    refs: dict[str, str] = field(default_factory=dict)
    """`refs/heads/<branch>` or `refs/tags/<tag>` → commit sha."""
    workflow_ids: dict[str, int] = field(default_factory=dict)
    """Workflow file path → its id, assigned when GitHub first sees the file on the default branch."""
    pulls: dict[int, PullRequestState] = field(default_factory=dict)
    comments: dict[int, list[CommentState]] = field(default_factory=dict)
    reviews: dict[int, list[ReviewState]] = field(default_factory=dict)
    next_number: int = 1
    """Issues and pull requests share one sequence of numbers."""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def html_url(self) -> str:
        return f"{WEB_URL}/{self.full_name}"

    def branch_head(self, branch: str) -> CommitState | None:
        sha = self.refs.get(f"refs/heads/{branch}")
        return self.commits.get(sha) if sha else None

    def resolve(self, ref: str | None) -> CommitState | None:
        """A commit by branch, tag, full ref or commit sha; None for the default branch's head."""
        name = ref or self.default_branch
        for candidate in (name, f"refs/heads/{name}", f"refs/tags/{name}"):
            if candidate in self.refs:
                return self.commits[self.refs[candidate]]
        return self.commits.get(name)

    def file(self, commit: CommitState, path: str) -> bytes | None:
        sha = commit.tree.get(path)
        return self.blobs[sha] if sha else None

    def commit(
        self,
        branch: str,
        changes: Mapping[str, bytes | None],
        *,
        message: str,
        author: Mapping[str, str],
        now: float,
    ) -> CommitState:
        """One commit on `branch` (created from nothing when new) writing or, with None, deleting paths."""
        parent = self.branch_head(branch)
        tree = dict(parent.tree) if parent else {}
        for path, data in changes.items():
            if data is None:
                tree.pop(path, None)
            else:
                sha = git_sha("blob", data)
                self.blobs[sha] = data
                tree[path] = sha
        parents = (parent.sha,) if parent else ()
        identity = f"{sorted(tree.items())}{parents}{message}{now}{len(self.commits)}".encode()
        commit = CommitState(
            sha=git_sha("commit", identity),
            tree=tree,
            parents=parents,
            message=message,
            author={"name": author.get("name", ""), "email": author.get("email", ""), "date": iso(now)},
            created_at=now,
        )
        self.commits[commit.sha] = commit
        self.refs[f"refs/heads/{branch}"] = commit.sha
        return commit

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether moving a branch from `ancestor` to `descendant` is a fast-forward."""
        pending = [descendant]
        seen: set[str] = set()
        while pending:
            sha = pending.pop()
            if sha == ancestor:
                return True
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            pending.extend(self.commits[sha].parents)
        return False

    def workflow_paths(self) -> list[str]:
        """The workflow files on the default branch, each given an id the first time it is seen."""
        head = self.branch_head(self.default_branch)
        return sorted(
            path
            for path in (head.tree if head else {})
            if path.startswith(WORKFLOWS_DIRECTORY) and path.endswith((".yml", ".yaml"))
        )

    def as_json(self, api_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": _node_id("R", self.id),
            "name": self.name,
            "full_name": self.full_name,
            "private": self.private,
            "visibility": "private" if self.private else "public",
            "owner": user_json(self.owner, 1_000 + self.id, kind="Organization"),
            "html_url": self.html_url,
            "url": f"{api_url}/repos/{self.full_name}",
            "clone_url": f"{api_url}/{self.full_name}.git",
            "default_branch": self.default_branch,
            "archived": False,
            "disabled": False,
        }


@dataclass
class RunState:
    id: int
    repo: RepoState = field(repr=False)
    workflow_id: int
    workflow_path: str
    workflow_name: str
    run_number: int
    display_title: str
    event: str
    ref: str
    """The full ref the run was dispatched at, `refs/heads/main`."""
    head_sha: str
    inputs: dict[str, str]
    actor: dict[str, Any]
    created_at: float
    updated_at: float
    status: str = "queued"
    conclusion: str | None = None
    run_started_at: float | None = None

    @property
    def head_branch(self) -> str:
        return self.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")

    def as_json(self, api_url: str) -> dict[str, Any]:
        repo_url = f"{api_url}/repos/{self.repo.full_name}"
        run_url = f"{repo_url}/actions/runs/{self.id}"
        return {
            "id": self.id,
            "name": self.workflow_name,
            "node_id": _node_id("WFR", self.id),
            "head_branch": self.head_branch,
            "head_sha": self.head_sha,
            "path": self.workflow_path,
            "display_title": self.display_title,
            "run_number": self.run_number,
            "event": self.event,
            "status": self.status,
            "conclusion": self.conclusion,
            "workflow_id": self.workflow_id,
            "url": run_url,
            "html_url": f"{self.repo.html_url}/actions/runs/{self.id}",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "run_attempt": 1,
            "run_started_at": iso(self.run_started_at or self.created_at),
            "actor": self.actor,
            "triggering_actor": self.actor,
            "jobs_url": f"{run_url}/jobs",
            "logs_url": f"{run_url}/logs",
            "cancel_url": f"{run_url}/cancel",
            "rerun_url": f"{run_url}/rerun",
            "workflow_url": f"{repo_url}/actions/workflows/{self.workflow_id}",
            "pull_requests": [],
            "repository": {"id": self.repo.id, "name": self.repo.name, "full_name": self.repo.full_name},
            "head_repository": {"id": self.repo.id, "name": self.repo.name, "full_name": self.repo.full_name},
        }


@dataclass
class PullRequestState:
    number: int
    title: str
    body: str | None
    head: str
    base: str
    user: dict[str, Any]
    created_at: float
    updated_at: float
    draft: bool = False
    state: str = "open"
    closed_at: float | None = None
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    merged_by: dict[str, Any] | None = None

    def as_json(self, repo: RepoState, api_url: str, *, full: bool) -> dict[str, Any]:
        """`full`: the answer for one pull request; lists leave out `merged` and the merge details."""
        repo_url = f"{api_url}/repos/{repo.full_name}"
        answer: dict[str, Any] = {
            "id": 70_000_000 + self.number,
            "node_id": _node_id("PR", self.number),
            "number": self.number,
            "state": self.state,
            "locked": False,
            "title": self.title,
            "body": self.body,
            "draft": self.draft,
            "user": self.user,
            "labels": [],
            "html_url": f"{repo.html_url}/pull/{self.number}",
            "url": f"{repo_url}/pulls/{self.number}",
            "issue_url": f"{repo_url}/issues/{self.number}",
            "comments_url": f"{repo_url}/issues/{self.number}/comments",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "closed_at": iso(self.closed_at) if self.closed_at else None,
            "merged_at": iso(self.merged_at) if self.merged_at else None,
            "merge_commit_sha": self.merge_commit_sha,
            "head": self._branch_json(repo, self.head, api_url),
            "base": self._branch_json(repo, self.base, api_url),
            "author_association": "NONE",
        }
        if full:
            answer.update(
                {
                    "merged": self.merged_at is not None,
                    "mergeable": None if self.state == "closed" else True,
                    "mergeable_state": "clean" if self.state == "open" else "unknown",
                    "merged_by": self.merged_by,
                    "comments": len(repo.comments.get(self.number, [])),
                    "maintainer_can_modify": False,
                }
            )
        return answer

    def issue_json(self, repo: RepoState, api_url: str) -> dict[str, Any]:
        """The pull request as an issue, as `issue_comment` webhooks carry it: `pull_request` marks it as one."""
        repo_url = f"{api_url}/repos/{repo.full_name}"
        return {
            "id": 60_000_000 + self.number,
            "node_id": _node_id("I", self.number),
            "number": self.number,
            "title": self.title,
            "state": self.state,
            "body": self.body,
            "user": self.user,
            "labels": [],
            "comments": len(repo.comments.get(self.number, [])),
            "html_url": f"{repo.html_url}/pull/{self.number}",
            "url": f"{repo_url}/issues/{self.number}",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "closed_at": iso(self.closed_at) if self.closed_at else None,
            "author_association": "NONE",
            "pull_request": {
                "url": f"{repo_url}/pulls/{self.number}",
                "html_url": f"{repo.html_url}/pull/{self.number}",
                "diff_url": f"{repo.html_url}/pull/{self.number}.diff",
                "patch_url": f"{repo.html_url}/pull/{self.number}.patch",
                "merged_at": iso(self.merged_at) if self.merged_at else None,
            },
        }

    @staticmethod
    def _branch_json(repo: RepoState, branch: str, api_url: str) -> dict[str, Any]:
        head = repo.branch_head(branch)
        return {
            "label": f"{repo.owner}:{branch}",
            "ref": branch,
            "sha": head.sha if head else "",
            "user": user_json(repo.owner, 1_000 + repo.id, kind="Organization"),
            "repo": repo.as_json(api_url),
        }


@dataclass
class CommentState:
    id: int
    number: int
    body: str
    user: dict[str, Any]
    created_at: float
    updated_at: float
    author_association: str = "NONE"
    """OWNER, MEMBER, COLLABORATOR, …: what the comment-trigger workflow's `if:` checks."""

    def as_json(self, repo: RepoState, api_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": _node_id("IC", self.id),
            "body": self.body,
            "user": self.user,
            "html_url": f"{repo.html_url}/pull/{self.number}#issuecomment-{self.id}",
            "url": f"{api_url}/repos/{repo.full_name}/issues/comments/{self.id}",
            "issue_url": f"{api_url}/repos/{repo.full_name}/issues/{self.number}",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "author_association": self.author_association,
            "performed_via_github_app": None,
        }


@dataclass
class ReviewState:
    id: int
    number: int
    user: dict[str, Any]
    body: str
    state: str
    """Upper case, as REST answers it (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`); webhooks lower it."""
    commit_id: str
    submitted_at: float
    author_association: str = "MEMBER"

    def as_json(self, repo: RepoState, api_url: str, *, webhook: bool = False) -> dict[str, Any]:
        pull_url = f"{api_url}/repos/{repo.full_name}/pulls/{self.number}"
        return {
            "id": self.id,
            "node_id": _node_id("PRR", self.id),
            "user": self.user,
            "body": self.body or None,
            "state": self.state.lower() if webhook else self.state,
            "commit_id": self.commit_id,
            "submitted_at": iso(self.submitted_at),
            "html_url": f"{repo.html_url}/pull/{self.number}#pullrequestreview-{self.id}",
            "pull_request_url": pull_url,
            "author_association": self.author_association,
        }


def user_json(login: str, user_id: int, *, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": _node_id("U", user_id),
        "type": kind,
        "site_admin": False,
        "html_url": f"{WEB_URL}/{login.removesuffix('[bot]')}",
    }


def file_json(repo: RepoState, path: str, blob_sha: str, data: bytes, api_url: str, *, ref: str) -> dict[str, Any]:
    """A file of the contents API: base64 in lines of 60 characters, each ended by a newline, as GitHub sends."""
    encoded = base64.b64encode(data).decode()
    content = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
    return {**entry_json(repo, path, blob_sha, len(data), api_url, ref=ref), "encoding": "base64", "content": content}


def entry_json(
    repo: RepoState, path: str, sha: str, size: int, api_url: str, *, ref: str, kind: str = "file"
) -> dict[str, Any]:
    url = f"{api_url}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    html_url = f"{repo.html_url}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    git_url = f"{api_url}/repos/{repo.full_name}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    return {
        "type": kind,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": size if kind == "file" else 0,
        "url": url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}" if kind == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


def directory_entries(commit: CommitState, directory: str) -> list[tuple[str, str]]:
    """The (name, kind) entries directly inside `directory` of a commit's tree; empty when it is no directory."""
    prefix = f"{directory.strip('/')}/" if directory.strip("/") else ""
    entries: dict[str, str] = {}
    for path in commit.tree:
        if path.startswith(prefix):
            name, _, rest = path[len(prefix) :].partition("/")
            entries[name] = "dir" if rest else "file"
    return sorted(entries.items())


def ref_json(repo: RepoState, ref: str, sha: str, api_url: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "node_id": _node_id("REF", int(git_sha("ref", f"{repo.full_name}:{ref}".encode())[:8], 16)),
        "url": f"{api_url}/repos/{repo.full_name}/git/{ref}",
        "object": {"sha": sha, "type": "commit", "url": f"{api_url}/repos/{repo.full_name}/git/commits/{sha}"},
    }


def commit_json(repo: RepoState, commit: CommitState, api_url: str) -> dict[str, Any]:
    repo_url = f"{api_url}/repos/{repo.full_name}"
    return {
        "sha": commit.sha,
        "node_id": _node_id("C", int(commit.sha[:8], 16)),
        "url": f"{repo_url}/git/commits/{commit.sha}",
        "html_url": f"{repo.html_url}/commit/{commit.sha}",
        "author": commit.author,
        "committer": commit.author,
        "message": commit.message,
        "tree": {"sha": commit.tree_sha, "url": f"{repo_url}/git/trees/{commit.tree_sha}"},
        "parents": [
            {"sha": parent, "url": f"{repo_url}/git/commits/{parent}", "html_url": f"{repo.html_url}/commit/{parent}"}
            for parent in commit.parents
        ],
    }


def lower_names(names: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(name.lower() for name in names) if names is not None else None


def _node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")
