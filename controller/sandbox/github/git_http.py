"""The sandbox's repositories over git's smart HTTP protocol, so that a runner really clones and pushes.

Each repository is mirrored into a bare git repository on disk and served by `git http-backend`,
git's own CGI program, at `<sandbox>/<owner>/<repo>.git` with HTTP Basic auth whose password is an
installation token (as `https://x-access-token:<token>@github.com/owner/repo.git` sends it):
fetching needs `contents: read`, pushing `contents: write`. The sandbox's own model of commits and
refs stays what its REST API answers from:

- before git serves anything, every model commit that git does not have yet is written as a real git
  commit (blobs, nested trees, the commit with its author and time) and the refs are set;
- after a push, every commit git received is read back into the model under its real id, and the
  model's refs follow git's, so the REST API (contents, refs, pull requests) sees what was pushed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from aiohttp import web

from controller.sandbox.base import Rejection
from controller.sandbox.github.api import GitHubApi, repo_key
from controller.sandbox.github.state import CommitState, RepoState

GIT_PATH: Final = "/{owner}/{repo_git:[^/]+\\.git}"
SERVICES: Final = {"git-upload-pack": False, "git-receive-pack": True}
"""Each service, and whether it writes."""
FILE_MODE: Final = "100644"


class GitCommandFailed(Exception):
    pass


async def git(repository: Path, *arguments: str, stdin: bytes = b"", env: Mapping[str, str] | None = None) -> bytes:
    """Run one git command in `repository`; its stdout, or GitCommandFailed with its stderr."""
    process = await asyncio.create_subprocess_exec(
        "git",
        *arguments,
        cwd=repository,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    if process.returncode != 0:
        raise GitCommandFailed(f"git {' '.join(arguments[:2])} failed: {err.decode(errors='replace').strip()}")
    return out


@dataclass
class GitMirror:
    """One repository's bare git mirror, and which model commit is which git commit."""

    path: Path
    to_git: dict[str, str] = field(default_factory=dict)
    to_model: dict[str, str] = field(default_factory=dict)
    written_blobs: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def create(self, default_branch: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        await git(self.path, "init", "-q", "--bare")
        await git(self.path, "config", "http.receivepack", "true")
        await git(self.path, "symbolic-ref", "HEAD", f"refs/heads/{default_branch}")

    async def export(self, repo: RepoState) -> None:
        """Write every model commit git lacks, and point git's refs where the model's are."""
        for ref, sha in sorted(repo.refs.items()):
            await git(self.path, "update-ref", ref, await self._commit(repo, sha))

    async def _commit(self, repo: RepoState, sha: str) -> str:
        """The git id of a model commit, writing it and its unwritten ancestors, parents first."""
        for current in parents_first(repo, sha, set(self.to_git)):
            self._remember(current, await self._write_commit(repo, repo.commits[current]))
        return self.to_git[sha]

    async def _write_commit(self, repo: RepoState, commit: CommitState) -> str:
        tree = await self._write_tree(repo, commit.tree)
        parents = [argument for parent in commit.parents for argument in ("-p", self.to_git[parent])]
        name = commit.author.get("name") or "sandbox"
        email = commit.author.get("email") or "sandbox@example.com"
        moment = f"@{int(commit.created_at)} +0000"
        identity = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": moment,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": moment,
        }
        out = await git(self.path, "commit-tree", tree, *parents, stdin=commit.message.encode(), env=identity)
        return out.decode().strip()

    async def _write_tree(self, repo: RepoState, flat: Mapping[str, str]) -> str:
        for blob in set(flat.values()) - self.written_blobs:
            await git(self.path, "hash-object", "-w", "--stdin", stdin=repo.blobs[blob])
            self.written_blobs.add(blob)
        return await self._mktree(flat, "")

    async def _mktree(self, flat: Mapping[str, str], prefix: str) -> str:
        files: dict[str, str] = {}
        directories: set[str] = set()
        for path, blob in flat.items():
            if not path.startswith(prefix):
                continue
            name, slash, _ = path[len(prefix) :].partition("/")
            if slash:
                directories.add(name)
            else:
                files[name] = blob
        lines = [f"{FILE_MODE} blob {blob}\t{name}" for name, blob in files.items()]
        for name in sorted(directories):
            lines.append(f"040000 tree {await self._mktree(flat, f'{prefix}{name}/')}\t{name}")
        out = await git(self.path, "mktree", stdin=("\n".join(sorted(lines)) + "\n").encode() if lines else b"")
        return out.decode().strip()

    async def absorb(self, repo: RepoState) -> list[str]:
        """Read what a push brought into the model; the refs that changed."""
        listing = await git(self.path, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags")
        refs: dict[str, str] = {}
        for line in listing.decode().splitlines():
            git_sha, _, ref = line.partition(" ")
            if ref:
                refs[ref] = git_sha
        for git_sha in refs.values():
            await self._absorb_commits(repo, git_sha)
        changed = []
        for ref, git_sha in refs.items():
            if repo.refs.get(ref) != self.to_model[git_sha]:
                repo.refs[ref] = self.to_model[git_sha]
                changed.append(ref)
        for ref in [ref for ref in repo.refs if ref not in refs]:
            del repo.refs[ref]
            changed.append(ref)
        return changed

    async def _absorb_commits(self, repo: RepoState, tip: str) -> None:
        if tip in self.to_model:
            return
        stdin = "\n".join([tip, *(f"^{known}" for known in self.to_model)]) + "\n"
        listed = await git(self.path, "rev-list", "--reverse", "--topo-order", "--stdin", stdin=stdin.encode())
        for sha in listed.decode().split():
            commit = await self._read_commit(repo, sha)
            repo.commits[commit.sha] = commit
            self._remember(commit.sha, sha)

    async def _read_commit(self, repo: RepoState, sha: str) -> CommitState:
        raw = (await git(self.path, "cat-file", "commit", sha)).decode(errors="replace")
        headers, _, message = raw.partition("\n\n")
        parents: list[str] = []
        name, email, moment = "", "", 0.0
        for line in headers.splitlines():
            key, _, value = line.partition(" ")
            if key == "parent":
                parents.append(self.to_model[value])
            elif key == "author":
                identity, _, when = value.rpartition(">")
                name, _, email = identity.partition(" <")
                moment = float(when.split()[0])
        tree: dict[str, str] = {}
        listing = await git(self.path, "ls-tree", "-r", "-z", sha)
        for entry in listing.decode().split("\0"):
            if not entry:
                continue
            description, _, path = entry.partition("\t")
            _, kind, blob = description.split()
            if kind != "blob":
                continue
            if blob not in repo.blobs:
                repo.blobs[blob] = await git(self.path, "cat-file", "blob", blob)
            tree[path] = blob
            self.written_blobs.add(blob)
        author = {"name": name.strip(), "email": email.strip(), "date": _iso(moment)}
        return CommitState(
            sha=sha, tree=tree, parents=tuple(parents), message=message, author=author, created_at=moment
        )

    def _remember(self, model_sha: str, git_sha: str) -> None:
        self.to_git[model_sha] = git_sha
        self.to_model[git_sha] = model_sha


def parents_first(repo: RepoState, tip: str, known: set[str]) -> list[str]:
    """The commits reachable from `tip` and not `known`, each after all of its parents."""
    order: list[str] = []
    placed = set(known)
    stack: list[tuple[str, bool]] = [(tip, False)]
    while stack:
        sha, parents_done = stack.pop()
        if sha in placed:
            continue
        if parents_done:
            placed.add(sha)
            order.append(sha)
            continue
        stack.append((sha, True))
        stack.extend((parent, False) for parent in repo.commits[sha].parents if parent not in placed)
    return order


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitMirrors:
    """Every repository's mirror under one directory, created on first use and removed with the sandbox."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._mirrors: dict[str, GitMirror] = {}
        self._creating = asyncio.Lock()

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="github-sandbox-git-"))
        return self._root

    async def of(self, repo: RepoState) -> GitMirror:
        async with self._creating:  # two first requests must not both run `git init`
            mirror = self._mirrors.get(repo.full_name.lower())
            if mirror is None:
                mirror = GitMirror(self.root / repo.owner.lower() / f"{repo.name.lower()}.git")
                await mirror.create(repo.default_branch)
                self._mirrors[repo.full_name.lower()] = mirror
        return mirror

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._mirrors.clear()


def basic_password(request: web.Request) -> str | None:
    """The password of HTTP Basic auth (git's way of sending a token), or a Bearer token."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            _, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            return password or None
        return None
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None


async def http_backend(mirror: GitMirror, request: web.Request, path_info: str, user: str) -> web.Response:
    """Hand one smart-HTTP request to `git http-backend` and relay its CGI answer."""
    body = await request.read()
    environment = {
        "GIT_PROJECT_ROOT": str(mirror.path.parent.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "QUERY_STRING": request.query_string,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": user,
        "REMOTE_ADDR": "127.0.0.1",
    }
    if "Git-Protocol" in request.headers:  # not Content-Encoding: aiohttp has already decompressed the body
        environment["HTTP_GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    out = await git(mirror.path, "http-backend", stdin=body, env=environment)
    separator = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
    head, _, payload = out.partition(separator)
    status, headers = 200, {}
    for line in head.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    if status >= 400:
        raise Rejection(status, payload.decode(errors="replace").strip() or "git refused the request")
    return web.Response(status=status, body=payload, headers=headers)


class GitRoutes(GitHubApi):
    """`/<owner>/<repo>.git/...`: clone, fetch and push with an installation token."""

    _git_mirrors: GitMirrors | None = None

    def _add_git_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(f"{GIT_PATH}/info/refs", self._git_info_refs)
        router.add_post(f"{GIT_PATH}/{{service:git-upload-pack|git-receive-pack}}", self._git_service)

    @property
    def git_mirrors(self) -> GitMirrors:
        if self._git_mirrors is None:
            self._git_mirrors = GitMirrors()
        return self._git_mirrors

    async def _git_info_refs(self, request: web.Request) -> web.Response:
        service = request.query.get("service", "")
        if service not in SERVICES:
            raise Rejection(
                403, "only git's smart HTTP protocol is served (service=git-upload-pack or git-receive-pack)"
            )
        return await self._git_call(request, service)

    async def _git_service(self, request: web.Request) -> web.Response:
        return await self._git_call(request, request.match_info["service"])

    async def _git_call(self, request: web.Request, service: str) -> web.Response:
        writes = SERVICES[service]
        repo = self._git_repo(request, write=writes)
        mirror = await self.git_mirrors.of(repo)
        suffix = request.path.split(".git/", 1)[1]
        path_info = f"/{mirror.path.parent.name}/{mirror.path.name}/{suffix}"  # the mirror's own (lower) case
        async with mirror.lock:
            await mirror.export(repo)
            answer = await http_backend(mirror, request, path_info, "x-access-token")
            if writes and request.method == "POST":
                await mirror.absorb(repo)
        return answer

    def _git_repo(self, request: web.Request, *, write: bool) -> RepoState:
        """401 asking for Basic auth without a token, 404 for a repository the token does not cover, 403 read-only."""
        credential = basic_password(request)
        challenge = {"WWW-Authenticate": 'Basic realm="GitHub"'}
        token = self.tokens.get(credential) if credential is not None else None
        if token is None or token.expires_at <= self.clock():
            raise Rejection(401, "Invalid username or token.", headers=challenge)
        name = request.match_info["repo_git"].removesuffix(".git")
        repo = self.repos.get(repo_key(request.match_info["owner"], name))
        if repo is None or not token.covers(repo):
            raise Rejection(404, "Repository not found.")
        if not token.allows("contents", write=write):
            raise Rejection(403, f"Permission to {repo.full_name}.git denied to {token.installation.app.bot_login}.")
        return repo
