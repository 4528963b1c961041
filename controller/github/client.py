"""The GitHub REST client (EXTERNAL_APIS.md §3), authenticated as a GitHub App.

One method per call on `_call()`, which sends through the shared retry loop with the App's
credentials (`controller.github.auth`) and maps GitHub's error body to `controller.github.errors`.
Every request carries `Accept: application/vnd.github+json` and the pinned
`X-GitHub-Api-Version: 2022-11-28`.

Rate limits (§3.7, §8.1): a 403 or 429 with `x-ratelimit-remaining: 0` is the primary limit and
waits until `x-ratelimit-reset` (epoch **seconds**); a 403 or 429 about a secondary limit waits for
`retry-after` when given, else at least a minute and then twice as long for each further one in a
row. Both go through `RetryPolicy`, so a wait longer than `max_wait` fails the call with the wait
attached for the caller to requeue.

Which calls are retried after the server may have acted: reads, cancelling a run (a repeat is
harmless) and moving a branch to a sha. Not a workflow dispatch (a repeat starts a second run),
creating a pull request, a comment or a branch, or writing a file: those are retried only when
the request never reached GitHub (or GitHub refused it for rate, which means it did not act).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github.auth import AppJwtSigner, GitHubAppAuth, SingleFlightCache
from controller.github.errors import (
    GitHubAppNotInstalled,
    GitHubAuthError,
    GitHubConflict,
    GitHubError,
    GitHubNotFound,
    GitHubPermissionError,
    GitHubPullRequestExists,
    GitHubRateLimited,
    GitHubReferenceExists,
    GitHubUnavailable,
    GitHubValidationError,
)
from controller.github.models import (
    FileCommit,
    GitRef,
    Installation,
    InstallationToken,
    IssueComment,
    PullRequest,
    Repository,
    RepositoryFile,
    WorkflowDispatch,
    WorkflowRun,
    WorkflowRunPage,
    _IssueCommentList,
    _PullRequestList,
)
from controller.httpclient import (
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
    seconds_until_epoch_seconds,
)
from controller.httpclient.client import REDACTED

DEFAULT_BASE_URL: Final = "https://api.github.com"
API_VERSION: Final = "2022-11-28"
MEDIA_TYPE: Final = "application/vnd.github+json"
REQUEST_ID_HEADER: Final = "x-github-request-id"
INSTALLATION_TTL_SECONDS: Final = 3600.0
"""How long a repository's installation id is trusted; an App reinstalled meanwhile gets a new id."""
TOKEN_REFRESH_MARGIN_SECONDS: Final = 300.0
"""An installation token is replaced this long before its `expires_at`, so no call carries a dying one."""
MAX_DISPATCH_INPUTS: Final = 25
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 100
"""A bound on one listing (10,000 items), against a server whose `next` link never ends."""
SECONDARY_LIMIT_FIRST_WAIT: Final = 60.0
SECONDARY_LIMIT_MAX_WAIT: Final = 960.0
_CREDENTIAL_PATTERN: Final = re.compile(r"\bgh[pousr]_[A-Za-z0-9_]{8,}|\beyJ[\w-]+\.[\w-]+\.[\w-]*")
"""Installation and user tokens (`ghs_…`) and JWTs, wherever a server might echo one."""

RateLimitKind = Literal["primary", "secondary"]


def rate_limit_kind(status: int, headers: Mapping[str, str], body: Any) -> RateLimitKind | None:
    """Whether a refusal was for rate, and which limit: 403 alone may also be a missing permission."""
    if status not in (403, 429):
        return None
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        return "primary"
    message = body.get("message") if isinstance(body, dict) else None
    said_rate = isinstance(message, str) and "rate limit" in message.lower()
    if said_rate or status == 429 or "retry-after" in headers:
        return "secondary"
    return None


def github_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `x-ratelimit-reset` (epoch seconds), only when the budget is spent."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    return seconds_until_epoch_seconds(headers.get("x-ratelimit-reset"), now)


class SecondaryLimitBackoff:
    """GitHub's rule for a secondary limit without `retry-after`: wait a minute, then exponentially longer.

    The streak belongs to the client, not to one call: GitHub limits the integration as a whole,
    and an integration that keeps knocking may be banned.
    """

    def __init__(self, first: float = SECONDARY_LIMIT_FIRST_WAIT, ceiling: float = SECONDARY_LIMIT_MAX_WAIT) -> None:
        self.first = first
        self.ceiling = ceiling
        self.streak = 0

    def next_wait(self) -> float:
        wait = min(self.first * 2.0**self.streak, self.ceiling)
        self.streak += 1
        return wait

    def reset(self) -> None:
        self.streak = 0


RUN_PERMISSIONS: Final[Mapping[str, str]] = {"contents": "write", "pull_requests": "write", "metadata": "read"}
"""What a run's token may do (`repository_token`): push and open pull requests, nothing more."""


class GitHubRestClient(ServiceClient):
    """Calls to the GitHub REST API (`DEFAULT_BASE_URL`, a GitHub Enterprise Server's `/api/v3`, a sandbox)
    with one fixed credential: a runner's repository token (`Authorization: token ghs_…`).

    The controller uses `GitHubClient`, which adds the App's authentication on top.
    """

    service: ClassVar[str] = "GitHub"
    error_class: ClassVar[type[ServiceError]] = GitHubError
    unavailable_class: ClassVar[type[ServiceError]] = GitHubUnavailable

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        authorization = f"token {token}" if token else None
        super().__init__(base_url, authorization=authorization, transport=transport, retry=retry, timeouts=timeouts)
        self._http.headers.update({"Accept": MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION})
        self._secondary = SecondaryLimitBackoff()
        self._secondary_refusal: httpx.Headers | None = None

    # Repositories and files.

    async def get_repository(self, owner: str, repo: str) -> Repository:
        response, call = await self._call("GET", _repo_path(owner, repo), idempotent=True)
        return self._parse(Repository, self._json_body(response), call)

    async def get_file(self, owner: str, repo: str, path: str, *, ref: str | None = None) -> RepositoryFile | None:
        """One file at `ref` (the default branch when None), with its blob sha; None when it is not there."""
        params = {"ref": ref} if ref else None
        try:
            response, call = await self._call(
                "GET", f"{_repo_path(owner, repo)}/contents/{_path(path)}", idempotent=True, params=params
            )
        except GitHubNotFound:
            return None
        body = self._json_body(response)
        if not isinstance(body, dict) or body.get("type") != "file":
            raise GitHubError(f"{owner}/{repo}:{path} is not a file (GitHub answered {call} with a listing)")
        return self._parse(RepositoryFile, body, call)

    async def read_text(self, owner: str, repo: str, path: str, *, ref: str | None = None) -> str | None:
        """A file's text at `ref`, decoded from base64 and UTF-8; None when it is not there."""
        found = await self.get_file(owner, repo, path, ref=ref)
        if found is None:
            return None
        try:
            return found.text
        except ValueError as error:
            raise GitHubError(f"{owner}/{repo}:{path} cannot be read as text: {error}") from None

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
    ) -> FileCommit:
        """Create the file, or replace the version whose blob `sha` is given; one commit on `branch`.

        A stale `sha` is `GitHubConflict` (409). Not retried after GitHub may have acted: a second
        write would conflict with the first.
        """
        data = content.encode() if isinstance(content, str) else content
        body: dict[str, Any] = {"message": message, "content": base64.b64encode(data).decode()}
        if branch:
            body["branch"] = branch
        if sha:
            body["sha"] = sha
        response, call = await self._call(
            "PUT", f"{_repo_path(owner, repo)}/contents/{_path(path)}", idempotent=False, json=body
        )
        return self._parse(FileCommit, self._json_body(response), call, status=response.status_code)

    # Branches.

    async def get_branch_ref(self, owner: str, repo: str, branch: str) -> GitRef | None:
        """`refs/heads/<branch>` and its commit; None when the branch does not exist."""
        try:
            response, call = await self._call(
                "GET", f"{_repo_path(owner, repo)}/git/ref/heads/{_path(branch)}", idempotent=True
            )
        except GitHubNotFound:
            return None
        return self._parse(GitRef, self._json_body(response), call)

    async def create_branch(self, owner: str, repo: str, branch: str, sha: str) -> GitRef:
        """A new branch at commit `sha`; `GitHubReferenceExists` when it is there already."""
        json = {"ref": f"refs/heads/{branch}", "sha": sha}
        try:
            response, call = await self._call(
                "POST", f"{_repo_path(owner, repo)}/git/refs", idempotent=False, json=json
            )
        except GitHubValidationError as error:
            if _says(error, "reference already exists"):
                raise _narrowed(GitHubReferenceExists, error) from None
            raise
        return self._parse(GitRef, self._json_body(response), call, status=response.status_code)

    async def update_branch(self, owner: str, repo: str, branch: str, sha: str, *, force: bool = False) -> GitRef:
        """Move the branch to `sha`; without `force` only a fast-forward is accepted (else 422)."""
        response, call = await self._call(
            "PATCH",
            f"{_repo_path(owner, repo)}/git/refs/heads/{_path(branch)}",
            idempotent=True,
            json={"sha": sha, "force": force},
        )
        return self._parse(GitRef, self._json_body(response), call)

    # Actions.

    async def dispatch_workflow(
        self, owner: str, repo: str, workflow: str, *, ref: str, inputs: Mapping[str, str]
    ) -> WorkflowDispatch | None:
        """Start a run of `workflow` (file name or id) at `ref`; its id, or None from the legacy 204 answer.

        Never retried after GitHub may have acted: a repeat starts a second run. After a lost answer
        list the runs to find out whether it started. A server that refuses `return_run_details`
        (400, older GitHub Enterprise Server) is asked again without it, and answers 204.
        """
        if len(inputs) > MAX_DISPATCH_INPUTS:
            raise ValueError(f"a workflow dispatch takes at most {MAX_DISPATCH_INPUTS} inputs; {len(inputs)} given")
        body = {"ref": ref, "inputs": dict(inputs), "return_run_details": True}
        path = f"{_repo_path(owner, repo)}/actions/workflows/{_segment(workflow)}/dispatches"
        try:
            response, call = await self._call("POST", path, idempotent=False, json=body, operation="dispatch workflow")
        except GitHubError as error:
            if not _refuses_run_details(error):
                raise
            del body["return_run_details"]  # an older GitHub Enterprise Server: refused, so nothing started
            response, call = await self._call("POST", path, idempotent=False, json=body, operation="dispatch workflow")
        if response.status_code == 204 or not response.content:
            return None
        return self._parse(WorkflowDispatch, self._json_body(response), call)

    async def list_workflow_runs(
        self,
        owner: str,
        repo: str,
        workflow: str,
        *,
        event: str | None = None,
        status: str | None = None,
        branch: str | None = None,
        created_since: datetime | None = None,
    ) -> list[WorkflowRun]:
        """Every run of one workflow matching the filters, newest first, following every page."""
        params = _run_filters(event=event, status=status, branch=branch, created_since=created_since)
        path = f"{_repo_path(owner, repo)}/actions/workflows/{_segment(workflow)}/runs"
        return await self._runs(path, params)

    async def list_repository_runs(
        self, owner: str, repo: str, *, status: str | None = None, event: str | None = None
    ) -> list[WorkflowRun]:
        """Every run of every workflow of the repository matching the filters (the reaper's view)."""
        params = _run_filters(event=event, status=status, branch=None, created_since=None)
        return await self._runs(f"{_repo_path(owner, repo)}/actions/runs", params)

    async def get_workflow_run(self, owner: str, repo: str, run_id: int) -> WorkflowRun:
        response, call = await self._call("GET", f"{_repo_path(owner, repo)}/actions/runs/{run_id}", idempotent=True)
        return self._parse(WorkflowRun, self._json_body(response), call)

    async def cancel_workflow_run(self, owner: str, repo: str, run_id: int) -> bool:
        """Ask GitHub to cancel the run; False when it had already finished (409), which is as good."""
        try:
            await self._call("POST", f"{_repo_path(owner, repo)}/actions/runs/{run_id}/cancel", idempotent=True)
        except GitHubConflict:
            return False
        return True

    async def _runs(self, path: str, params: dict[str, str]) -> list[WorkflowRun]:
        runs: list[WorkflowRun] = []
        async for body, call in self._pages(path, params):
            runs.extend(self._parse(WorkflowRunPage, body, call).workflow_runs)
        return runs

    # Pull requests and comments.

    async def list_pull_requests(
        self,
        owner: str,
        repo: str,
        *,
        head: str | None = None,
        base: str | None = None,
        state: Literal["open", "closed", "all"] = "open",
    ) -> list[PullRequest]:
        """Pull requests by head branch (`branch` or `owner:branch`), base and state; entries lack `merged`.

        A bare branch is qualified with the repository's owner: GitHub ignores a `head` without one.
        """
        params = {"state": state, "per_page": str(PAGE_SIZE)}
        if head:
            params["head"] = head if ":" in head else f"{owner}:{head}"
        if base:
            params["base"] = base
        pulls: list[PullRequest] = []
        async for body, call in self._pages(f"{_repo_path(owner, repo)}/pulls", params):
            pulls.extend(self._parse(_PullRequestList, body, call).root)
        return pulls

    async def get_pull_request(self, owner: str, repo: str, number: int) -> PullRequest:
        response, call = await self._call("GET", f"{_repo_path(owner, repo)}/pulls/{number}", idempotent=True)
        return self._parse(PullRequest, self._json_body(response), call)

    async def create_pull_request(
        self, owner: str, repo: str, *, title: str, head: str, base: str, body: str = "", draft: bool = False
    ) -> PullRequest:
        """Open a pull request; `GitHubPullRequestExists` when one is open for that head already."""
        json = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        try:
            response, call = await self._call("POST", f"{_repo_path(owner, repo)}/pulls", idempotent=False, json=json)
        except GitHubValidationError as error:
            if _says(error, "already exists"):
                raise _narrowed(GitHubPullRequestExists, error) from None
            raise
        return self._parse(PullRequest, self._json_body(response), call, status=response.status_code)

    async def create_issue_comment(self, owner: str, repo: str, number: int, body: str) -> IssueComment:
        """A comment on an issue or a pull request's conversation; not idempotent, never retried after acting."""
        path = f"{_repo_path(owner, repo)}/issues/{number}/comments"
        response, call = await self._call("POST", path, idempotent=False, json={"body": body})
        return self._parse(IssueComment, self._json_body(response), call, status=response.status_code)

    async def get_issue_comment(self, owner: str, repo: str, comment_id: int) -> IssueComment | None:
        """One comment of the repository by id, as GitHub has it now; None when there is none."""
        path = f"{_repo_path(owner, repo)}/issues/comments/{comment_id}"
        try:
            response, call = await self._call("GET", path, idempotent=True)
        except GitHubNotFound:
            return None
        return self._parse(IssueComment, self._json_body(response), call)

    async def list_issue_comments(
        self, owner: str, repo: str, number: int, *, since: datetime | None = None
    ) -> list[IssueComment]:
        params = {"per_page": str(PAGE_SIZE)}
        if since is not None:
            params["since"] = _iso(since)
        comments: list[IssueComment] = []
        async for body, call in self._pages(f"{_repo_path(owner, repo)}/issues/{number}/comments", params):
            comments.extend(self._parse(_IssueCommentList, body, call).root)
        return comments

    # Plumbing.

    async def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        operation: str | None = None,
    ) -> tuple[httpx.Response, CallDescription]:
        response = await self._send(method, path, idempotent=idempotent, json=json, params=params, operation=operation)
        return response, CallDescription(method, response.request.url.path, operation)

    async def _pages(self, path: str, params: Mapping[str, str]) -> AsyncIterator[tuple[Any, CallDescription]]:
        """Each page's body, following `Link: <…>; rel="next"`.

        Only the link's query is taken: GitHub's links name the repository by id
        (`/repositories/{id}/…`), which says nothing about whose installation token to send, and the
        listing is the same under the path the client asked for. A link to another host is refused.
        """
        query: Mapping[str, str] = params
        for _ in range(MAX_PAGES):
            response, call = await self._call("GET", path, idempotent=True, params=query)
            yield self._json_body(response), call
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            link = httpx.URL(next_url)
            self._check_same_origin(link, call)
            query = dict(link.params)
        raise GitHubError(f"GitHub kept answering further pages for {path} after {MAX_PAGES}; stopped there")

    def _check_same_origin(self, url: httpx.URL, call: CallDescription) -> None:
        """A next-page link elsewhere means a confused server or a proxy in between: stop rather than guess."""
        base = self._http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise GitHubError(f"GitHub's next-page link for {call} points at another host ({url.host}); not followed")

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        body = None if response.is_success else self._json_body(response)
        kind = rate_limit_kind(response.status_code, response.headers, body)
        if kind == "secondary":
            self._secondary_refusal = response.headers
        else:
            self._secondary.reset()
        return kind is not None

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        """Until the primary reset; for a secondary limit without `retry-after`, the growing backoff."""
        wait = github_reset_wait(headers, now)
        if wait is None and headers is self._secondary_refusal:
            wait = self._secondary.next_wait()
        return wait

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        status = response.status_code
        body = self._json_body(response)
        github_message = documentation_url = None
        errors: list[dict[str, Any]] = []
        if isinstance(body, dict):
            github_message = _optional_text(body.get("message"))
            documentation_url = _optional_text(body.get("documentation_url"))
            errors = [self._redacted_error(item) for item in body.get("errors") or () if isinstance(item, dict)]
        said = self._redact(github_message or self._excerpt(response) or response.reason_phrase)
        message = f"GitHub answered {status} to {call}: {said}"
        if errors:
            message += " [" + "; ".join(_describe(item) for item in errors) + "]"
        rate_limited = rate_limit_kind(status, response.headers, body) is not None
        error_class = _error_class_for(status, rate_limited=rate_limited)
        if error_class is GitHubPermissionError:
            message += (
                " (the GitHub App lacks a permission this call needs, or it was not accepted on the installation)"
            )
        if note:
            message += f" ({note})"
        return error_class(
            message,
            status=status,
            request_id=response.headers.get(REQUEST_ID_HEADER),
            retry_after=retry_after,
            github_message=self._redact(github_message) if github_message else None,
            documentation_url=documentation_url,
            errors=errors,
        )

    def _redacted_error(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self._redact(value) if isinstance(value, str) else value for key, value in item.items()}

    def _redact(self, text: str) -> str:
        """Besides what the client was given, any token or JWT shape: those are minted while it runs."""
        return _CREDENTIAL_PATTERN.sub(REDACTED, super()._redact(text))


class GitHubClient(GitHubRestClient):
    """Calls to the GitHub REST API (`DEFAULT_BASE_URL`, a GitHub Enterprise Server's `/api/v3`, a sandbox).

    Installation ids are cached per repository for `installation_ttl` seconds; installation tokens
    per installation until `token_refresh_margin` seconds before they expire.
    """

    def __init__(
        self,
        app_id: int | str,
        private_key: str | rsa.RSAPrivateKey,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        installation_ttl: float = INSTALLATION_TTL_SECONDS,
        token_refresh_margin: float = TOKEN_REFRESH_MARGIN_SECONDS,
    ) -> None:
        super().__init__(base_url, transport=transport, retry=retry, timeouts=timeouts)
        clock = self._retry.clock
        self._signer = AppJwtSigner(app_id, private_key, clock=clock)
        self._installation_ttl = installation_ttl
        self._token_refresh_margin = token_refresh_margin
        self._installations: SingleFlightCache[tuple[str, str], Installation] = SingleFlightCache(
            self._load_installation, clock=clock
        )
        self._tokens: SingleFlightCache[int, InstallationToken] = SingleFlightCache(self._load_token, clock=clock)
        self._http.auth = GitHubAppAuth(self._signer, self._token_for, base_path=self._http.base_url.path)

    # App authentication.

    async def installation(self, owner: str, repo: str) -> Installation:
        """The App's installation covering the repository (cached); `GitHubAppNotInstalled` when none does."""
        return await self._installations.get(_repo_key(owner, repo))

    async def installation_token(self, owner: str, repo: str) -> InstallationToken:
        """A token of that installation with at least `token_refresh_margin` seconds left (cached)."""
        installation = await self.installation(owner, repo)
        return await self._tokens.get(installation.id)

    async def repository_token(self, owner: str, repo: str) -> InstallationToken:
        """A fresh token for one repository with only what a run needs: `contents` and `pull_requests`
        write, `metadata` read; never `workflows`, so a run cannot change a repository's workflows.
        Not cached: each run gets its own, which lives an hour."""
        installation = await self.installation(owner, repo)
        response, call = await self._call(
            "POST",
            f"/app/installations/{installation.id}/access_tokens",
            idempotent=False,
            json={"repositories": [repo], "permissions": dict(RUN_PERMISSIONS)},
            operation="create repository token",
        )
        return self._parse(InstallationToken, self._json_body(response), call, status=response.status_code)

    async def _token_for(self, owner: str, repo: str, refused: str | None) -> str:
        """A token for the repository, for the auth flow.

        After a refused token the installation is looked up again too, so that an App uninstalled
        meanwhile surfaces as `GitHubAppNotInstalled` rather than as a failed token request.
        """
        if refused is not None:
            self._installations.forget(_repo_key(owner, repo))
        installation = await self.installation(owner, repo)
        token = await self._tokens.get(
            installation.id, unless=lambda cached: cached.token.get_secret_value() == refused
        )
        return token.token.get_secret_value()

    async def _load_installation(self, key: tuple[str, str]) -> tuple[Installation, float]:
        owner, repo = key
        try:
            response, call = await self._call(
                "GET", f"{_repo_path(owner, repo)}/installation", idempotent=True, operation="find installation"
            )
        except GitHubNotFound as error:
            raise GitHubAppNotInstalled(f"{owner}/{repo}", request_id=error.request_id) from None
        installation = self._parse(Installation, self._json_body(response), call)
        return installation, self._retry.clock() + self._installation_ttl

    async def _load_token(self, installation_id: int) -> tuple[InstallationToken, float]:
        response, call = await self._call(
            "POST",
            f"/app/installations/{installation_id}/access_tokens",
            idempotent=True,
            operation="create installation token",
        )
        token = self._parse(InstallationToken, self._json_body(response), call, status=response.status_code)
        expires_locally = token.expires_at.timestamp() - self._signer.skew
        return token, expires_locally - self._token_refresh_margin


def _error_class_for(status: int, *, rate_limited: bool) -> type[GitHubError]:
    if rate_limited:
        return GitHubRateLimited
    by_status: dict[int, type[GitHubError]] = {
        401: GitHubAuthError,
        403: GitHubPermissionError,
        404: GitHubNotFound,
        409: GitHubConflict,
        422: GitHubValidationError,
    }
    if status >= 500:
        return GitHubUnavailable
    return by_status.get(status, GitHubError)


def _narrowed(error_class: type[GitHubValidationError], error: GitHubValidationError) -> GitHubValidationError:
    """The same refusal under a narrower name, so callers can take their idempotent path."""
    return error_class(
        error.message,
        status=error.status,
        request_id=error.request_id,
        github_message=error.github_message,
        documentation_url=error.documentation_url,
        errors=error.errors,
    )


def _refuses_run_details(error: GitHubError) -> bool:
    """GitHub Enterprise Server releases before `return_run_details` answer 400 naming the field."""
    return error.status == 400 and _says(error, "return_run_details")


def _says(error: GitHubError, words: str) -> bool:
    """Whether GitHub's message or one of its `errors` says `words` (GitHub puts the reason in either)."""
    texts = [error.github_message or "", *(str(item.get("message", "")) for item in error.errors)]
    return any(words in text.lower() for text in texts)


def _describe(item: Mapping[str, Any]) -> str:
    if item.get("message"):
        return str(item["message"])
    parts = (item.get("resource"), item.get("field"), item.get("code"))
    return " ".join(str(part) for part in parts if part) or "unspecified"


def _run_filters(
    *, event: str | None, status: str | None, branch: str | None, created_since: datetime | None
) -> dict[str, str]:
    params = {"per_page": str(PAGE_SIZE)}
    for name, value in (("event", event), ("status", status), ("branch", branch)):
        if value:
            params[name] = value
    if created_since is not None:
        params["created"] = f">={_iso(created_since)}"
    return params


def _iso(moment: datetime) -> str:
    """GitHub's timestamp form: UTC, whole seconds, `Z` (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _repo_key(owner: str, repo: str) -> tuple[str, str]:
    """GitHub names are case-insensitive: `Acme/Web` and `acme/web` share one installation."""
    return owner.strip().lower(), repo.strip().lower()


def _repo_path(owner: str, repo: str) -> str:
    return f"/repos/{_segment(owner)}/{_segment(repo)}"


def _segment(value: str) -> str:
    """One path segment, escaped: a name is never allowed to change the path."""
    if not value.strip():
        raise ValueError("a GitHub owner, repository or workflow name must not be empty")
    return quote(value.strip(), safe="")


def _path(value: str) -> str:
    """A branch or file path, whose slashes stay path separators; `..` segments are refused."""
    segments = value.strip("/").split("/")
    if not value.strip("/") or any(segment in ("", ".", "..") for segment in segments):
        raise ValueError(f"{value!r} is not a usable branch name or file path")
    return quote(value.strip("/"), safe="/")


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
