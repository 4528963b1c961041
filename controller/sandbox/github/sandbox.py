"""The GitHub REST sandbox (EXTERNAL_APIS.md §3, §9 items 10 to 13): a GitHub App, repositories, Actions, PRs.

Auth is GitHub's: `/app/...` and `GET /repos/{o}/{r}/installation` take an App JWT, verified
with the App's registered public key and the sandbox clock; everything else takes an installation
token (`Bearer` or `token`) that expires after an hour and sees only the repositories and
permissions of its installation (404 for a repository it cannot see, 403 "Resource not
accessible by integration" for a permission it lacks). Every response carries `x-ratelimit-*`
(reset in epoch seconds), a `Date` on the sandbox clock and `x-github-request-id`; a spent
budget, `Fault.rate_limited()` and `inject_secondary_limit()` answer GitHub's 403/429 shapes.

This module holds the seeding methods, the App's routes and Actions; `api` holds what every answer
shares (credentials, budgets, paging, faults, webhooks) and `repositories` the repository routes.
Tests seed Apps, installations, repositories (git stores: blobs, commits, refs), workflows and
pull requests through methods, then drive it through the REST API the client uses. A workflow
dispatch creates a queued run titled by the workflow's `run-name:`; unless `start_runs` is off, a
background task then moves it to `in_progress` and calls `on_run_started` with the run's inputs
and a function that mints its GitHub-Actions-style OIDC token (issuer mounted at `/oidc`). With
`set_app_webhook()`, pull requests opened and closed, issue comments and reviews queue signed App
webhook deliveries (`controller.sandbox.github.webhooks`), sent by `flush_webhooks()`. With
`set_comment_trigger()`, comments also run the synced comment-trigger workflow's job
(`controller.sandbox.github.comment_trigger`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import httpx
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.sandbox.base import Rejection, read_json
from controller.sandbox.github.api import (
    DEFAULT_RATE_LIMIT,
    OIDC_PREFIX,
    integer,
    json_object,
    repo_key,
    required_text,
    secondary_rate_limit,
)
from controller.sandbox.github.comment_trigger import (
    TRIGGER_WORKFLOW_PATH,
    TriggerRun,
    TriggerSettings,
    send_trigger,
    trigger_body,
)
from controller.sandbox.github.git_http import GitRoutes
from controller.sandbox.github.repositories import REPO_PATH, RepositoryRoutes
from controller.sandbox.github.state import (
    CONCLUSIONS,
    DEFAULT_PERMISSIONS,
    NOT_STARTED_STATUSES,
    TOKEN_LIFETIME_SECONDS,
    WORKFLOWS_DIRECTORY,
    AppState,
    InstallationState,
    RepoState,
    ReviewState,
    RunState,
    TokenState,
    git_sha,
    iso,
    lower_names,
    user_json,
)
from controller.sandbox.github.webhooks import AppWebhookState
from controller.sandbox.github.workflows import (
    InputSpec,
    WorkflowDefinition,
    checked_inputs,
    created_matcher,
    parse_workflow,
    render_run_name,
    workflow_yaml,
)
from controller.sandbox.runs import OidcIssuer, RunStarted, StartedRun

logger = logging.getLogger("controller.sandbox.github")

TOKEN_ALPHABET: Final = string.ascii_letters + string.digits
REVIEW_STATES: Final = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED"})
_NOT_DISPATCHABLE: Final = WorkflowDefinition(None, None, None)


class GitHubSandbox(RepositoryRoutes, GitRoutes):
    """GitHub's REST API for the Apps, installations, repositories and runs seeded through its methods."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_run_started: RunStarted | None = None,
        start_runs: bool = True,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        deliver_webhooks_in_background: bool = False,
    ) -> None:
        """`start_runs=False` leaves dispatched runs queued until `start_run()`, for tests of each status.

        Webhooks are sent when a test awaits `flush_webhooks()`, or as soon as they are queued with
        `deliver_webhooks_in_background` (for `ai-implement dev`).
        """
        super().__init__(
            clock=clock,
            rate_limit=rate_limit,
            webhook_transport=webhook_transport,
            deliver_webhooks_in_background=deliver_webhooks_in_background,
        )
        self.on_run_started = on_run_started
        self.start_runs = start_runs
        self.return_run_details = True
        """Whether a dispatch asking for `return_run_details` gets the 200 answer; False answers 204."""
        self.knows_return_run_details = True
        """False: refuse the field with 400, as GitHub Enterprise Server releases from before it do."""
        self._oidc: OidcIssuer | None = None
        self._oidc_router: web.UrlDispatcher | None = None
        self._run_tasks: list[asyncio.Task[None]] = []
        self.comment_triggers: dict[tuple[str, str], TriggerSettings] = {}
        self.trigger_runs: list[TriggerRun] = []
        """Every run of a repository's comment-trigger job, in order."""
        self._trigger_tasks: list[asyncio.Task[None]] = []

    # Seeding and reading state.

    def add_app(
        self,
        app_id: int,
        public_key: rsa.RSAPublicKey | rsa.RSAPrivateKey | str,
        *,
        slug: str = "ai-implement",
        client_id: str | None = None,
        name: str | None = None,
    ) -> AppState:
        """A GitHub App whose JWTs verify with `public_key` (a key, or its PEM; a private key gives its public one)."""
        app = AppState(
            id=app_id,
            slug=slug,
            client_id=client_id or f"Iv23li{app_id:014d}",
            name=name or slug,
            public_key=_public_key(public_key),
        )
        self.apps[app_id] = app
        return app

    def install_app(
        self,
        app_id: int,
        account: str,
        *,
        repos: Iterable[str] | None = None,
        permissions: Mapping[str, str] | None = None,
        account_type: str = "Organization",
        suspended: bool = False,
    ) -> InstallationState:
        """Install the App on `account`, for `repos` (names) or every repository of it when None."""
        installation = InstallationState(
            id=next(self._ids["installation"]),
            app=self.apps[app_id],
            account=account,
            account_type=account_type,
            repositories=lower_names(repos),
            permissions=dict(DEFAULT_PERMISSIONS if permissions is None else permissions),
            suspended=suspended,
        )
        self.installations[installation.id] = installation
        return installation

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        default_branch: str = "main",
        files: Mapping[str, str | bytes] | None = None,
        private: bool = True,
    ) -> RepoState:
        """A repository with one commit on `default_branch` holding `files` (a README when none are given)."""
        repo = RepoState(
            id=next(self._ids["repo"]), owner=owner, name=name, default_branch=default_branch, private=private
        )
        self.repos[repo_key(owner, name)] = repo
        initial = files if files is not None else {"README.md": f"# {name}\n"}
        repo.commit(default_branch, _as_bytes(initial), message="Initial commit", author=_seeder(), now=self.clock())
        return repo

    def repo(self, owner: str, name: str) -> RepoState:
        try:
            return self.repos[repo_key(owner, name)]
        except KeyError:
            raise ValueError(f"the GitHub sandbox has no repository {owner}/{name}; add it with add_repo()") from None

    def commit_files(
        self,
        owner: str,
        name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        *,
        message: str = "Update files",
        from_branch: str | None = None,
    ) -> str:
        """One commit on `branch` (branched from `from_branch`, else the default branch, when new); its sha."""
        repo = self.repo(owner, name)
        if repo.branch_head(branch) is None:
            source = repo.branch_head(from_branch or repo.default_branch)
            if source is None:
                raise ValueError(f"{repo.full_name} has no branch {from_branch or repo.default_branch}")
            repo.refs[f"refs/heads/{branch}"] = source.sha
        changes = {path: (None if data is None else _as_bytes({path: data})[path]) for path, data in files.items()}
        return repo.commit(branch, changes, message=message, author=_seeder(), now=self.clock()).sha

    def add_workflow(
        self,
        owner: str,
        name: str,
        file_name: str = "ai-implement.yml",
        *,
        inputs: Iterable[str] | Mapping[str, InputSpec] = ("dispatch",),
        workflow_name: str = "AI Implement",
        run_name: str | None = "${{ inputs.dispatch }}",
        dispatchable: bool = True,
        content: str | None = None,
    ) -> str:
        """Commit a workflow file to the default branch (generated unless `content` is given); its path.

        Inputs given by name are optional strings.
        """
        specs = dict(inputs) if isinstance(inputs, Mapping) else {input_name: InputSpec() for input_name in inputs}
        text = content or workflow_yaml(name=workflow_name, run_name=run_name, inputs=specs, dispatchable=dispatchable)
        path = f"{WORKFLOWS_DIRECTORY}{file_name}"
        repo = self.repo(owner, name)
        self.commit_files(owner, name, repo.default_branch, {path: text}, message=f"Add {path}")
        return path

    def file_text(self, owner: str, name: str, path: str, *, ref: str | None = None) -> str | None:
        repo = self.repo(owner, name)
        commit = repo.resolve(ref)
        data = repo.file(commit, path) if commit else None
        return data.decode() if data is not None else None

    def open_pull_request(
        self,
        owner: str,
        name: str,
        head: str,
        base: str,
        title: str,
        body: str = "",
        *,
        files: Mapping[str, str | bytes] | None = None,
        by_app: bool = False,
    ) -> dict[str, Any]:
        """A branch `head` from `base` with one commit (`files`, or a note), and an open pull request; its JSON.

        `by_app`: opened by the bot of the App installed on the repository, as a run does; else by a person.
        """
        repo = self.repo(owner, name)
        self.commit_files(
            owner, name, head, files or {f"notes/{head}.md": f"{title}\n"}, message=title, from_branch=base
        )
        user = self._app_bot(repo) if by_app else person("octocat")
        pull = self._new_pull(repo, title=title, body=body, head=head, base=base, user=user)
        return pull.as_json(repo, self._api_url(), full=True)

    def _app_bot(self, repo: RepoState) -> dict[str, Any]:
        for installation in self.installations.values():
            if installation.covers(repo):
                return installation.app.bot_json()
        raise ValueError(f"no App is installed on {repo.full_name}")

    def close_pull_request(self, owner: str, name: str, number: int) -> dict[str, Any]:
        """Closed without merging: `pull_request` `closed` with `merged: false`."""
        repo = self.repo(owner, name)
        pull = repo.pulls[number]
        now = self.clock()
        pull.state, pull.closed_at, pull.updated_at = "closed", now, now
        self._pull_request_event(repo, pull, "closed", sender=person("octocat"))
        return pull.as_json(repo, self._api_url(), full=True)

    def add_issue_comment(
        self,
        owner: str,
        name: str,
        number: int,
        body: str,
        *,
        user: str = "octocat",
        author_association: str = "MEMBER",
    ) -> dict[str, Any]:
        """A person's comment on a pull request's conversation (what `/ai-implement` commands arrive as)."""
        repo = self.repo(owner, name)
        if number not in repo.pulls:
            raise ValueError(f"{repo.full_name} has no pull request #{number}")
        comment = self._new_comment(repo, number, body, user=person(user), author_association=author_association)
        return comment.as_json(repo, self._api_url())

    def set_comment_trigger(self, owner: str, name: str, *, url: str, secret: str) -> None:
        """The repository's AI_IMPLEMENT_URL variable and GAP_FILL_TRIGGER_SECRET secret.

        With them, and `comment-trigger.yml` on the default branch, each comment runs the workflow's
        job as GitHub Actions would (`controller.sandbox.github.comment_trigger`); see `trigger_runs`.
        """
        if not secret:
            raise ValueError("GAP_FILL_TRIGGER_SECRET is empty; the controller refuses a trigger without it")
        self.comment_triggers[repo_key(owner, name)] = TriggerSettings(url=url, secret=secret)

    def _comment_created(self, repo: RepoState, payload: dict[str, Any], sender: dict[str, Any]) -> None:
        settings = self.comment_triggers.get(repo_key(repo.owner, repo.name))
        if settings is None or self.file_text(repo.owner, repo.name, TRIGGER_WORKFLOW_PATH) is None:
            return
        body = trigger_body(repo.full_name, payload["issue"], payload["comment"], sender)
        if body is None:
            return
        run = TriggerRun(repository=repo.full_name, body=body)
        self.trigger_runs.append(run)
        self._trigger_tasks.append(asyncio.get_running_loop().create_task(send_trigger(run, settings)))

    def submit_review(
        self,
        owner: str,
        name: str,
        number: int,
        state: str = "APPROVED",
        body: str = "",
        *,
        user: str = "reviewer",
        author_association: str = "MEMBER",
    ) -> dict[str, Any]:
        """A review of the pull request's head (`APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`); its REST JSON.

        `author_association` is the reviewer's relation to the repository (`NONE` for anyone on GitHub).
        """
        if state not in REVIEW_STATES:
            raise ValueError(f"{state!r} is not a review state; use one of {sorted(REVIEW_STATES)}")
        repo = self.repo(owner, name)
        pull = repo.pulls[number]
        head = repo.branch_head(pull.head)
        review = ReviewState(
            id=next(self._ids["comment"]),
            number=number,
            user=person(user),
            body=body,
            state=state,
            commit_id=head.sha if head else "",
            submitted_at=self.clock(),
            author_association=author_association,
        )
        repo.reviews.setdefault(number, []).append(review)
        payload = {
            "action": "submitted",
            "review": review.as_json(repo, self._api_url(), webhook=True),
            "pull_request": pull.as_json(repo, self._api_url(), full=True),
        }
        self._emit(repo, "pull_request_review", payload, review.user)
        return review.as_json(repo, self._api_url())

    def set_app_webhook(self, app_id: int, url: str, secret: str) -> AppWebhookState:
        """Where the App's webhook delivers, signed with `secret` (GITHUB_WEBHOOK_SECRET on the receiver)."""
        if not secret:
            raise ValueError("a webhook without a secret is unsigned; the controller refuses those")
        hook = AppWebhookState(app_id=app_id, url=url, secret=secret.encode(), hook_id=500_000_000 + app_id)
        self.webhooks[app_id] = hook
        return hook

    def push_to_pull_request(
        self, owner: str, name: str, number: int, files: Mapping[str, str | bytes]
    ) -> dict[str, Any]:
        """One more commit on an open pull request's branch (what a review run pushes); its JSON."""
        repo = self.repo(owner, name)
        if number not in repo.pulls:
            raise ValueError(f"{repo.full_name} has no pull request #{number}")
        pull = repo.pulls[number]
        self.commit_files(owner, name, pull.head, dict(files), message=f"Address review on #{number}")
        pull.updated_at = self.clock()
        return pull.as_json(repo, self._api_url(), full=True)

    def merge_pull_request(self, owner: str, name: str, number: int) -> dict[str, Any]:
        """Merge: the base branch moves to a merge commit holding the head's tree; the pull request closes."""
        repo = self.repo(owner, name)
        pull = repo.pulls[number]
        head = repo.branch_head(pull.head)
        base = repo.branch_head(pull.base)
        if head is None or base is None:
            raise ValueError(f"{repo.full_name}#{number} has no head or base branch left")
        tree = {path: repo.blobs[sha] for path, sha in head.tree.items()}
        removed = {path: None for path in base.tree if path not in head.tree}
        merge = repo.commit(
            pull.base, {**tree, **removed}, message=f"Merge #{number}", author=_seeder(), now=self.clock()
        )
        merge.parents = (base.sha, head.sha)
        now = self.clock()
        pull.state, pull.merged_at, pull.closed_at, pull.updated_at = "closed", now, now, now
        pull.merge_commit_sha, pull.merged_by = merge.sha, person("octocat")
        self._pull_request_event(repo, pull, "closed", sender=person("octocat"))
        return pull.as_json(repo, self._api_url(), full=True)

    def add_workflow_run(
        self,
        owner: str,
        name: str,
        file_name: str = "ai-implement.yml",
        *,
        display_title: str,
        status: str = "in_progress",
        actor: str = "octocat",
    ) -> RunState:
        """Seed a run someone started by hand (not through the App): nothing runs it, no hook is called."""
        repo = self.repo(owner, name)
        path, workflow_id = self._workflow(repo, file_name)
        head = repo.branch_head(repo.default_branch)
        assert head is not None, f"{owner}/{name} has no commit on {repo.default_branch}"
        now = self.clock()
        run = RunState(
            id=next(self._ids["run"]),
            repo=repo,
            workflow_id=workflow_id,
            workflow_path=path,
            workflow_name=path.rsplit("/", 1)[-1],
            run_number=1 + sum(1 for other in self.runs.values() if other.workflow_id == workflow_id),
            display_title=display_title,
            event="workflow_dispatch",
            ref=f"refs/heads/{repo.default_branch}",
            head_sha=head.sha,
            inputs={},
            actor=person(actor),
            created_at=now,
            updated_at=now,
            status=status,
            run_started_at=now if status == "in_progress" else None,
        )
        self.runs[run.id] = run
        return run

    def run(self, run_id: int) -> RunState:
        try:
            return self.runs[run_id]
        except KeyError:
            raise ValueError(f"the GitHub sandbox has no workflow run {run_id}") from None

    def start_run(self, run_id: int) -> RunState:
        """A runner picked the run up: `in_progress`; a run that finished meanwhile stays finished."""
        run = self.run(run_id)
        if run.status in NOT_STARTED_STATUSES:
            now = self.clock()
            run.status, run.run_started_at, run.updated_at = "in_progress", now, now
        return run

    def complete_run(self, run_id: int, conclusion: str = "success") -> RunState:
        if conclusion not in CONCLUSIONS:
            raise ValueError(f"{conclusion!r} is not a run conclusion; use one of {sorted(CONCLUSIONS)}")
        run = self.run(run_id)
        run.status, run.conclusion, run.updated_at = "completed", conclusion, self.clock()
        return run

    def revoke_tokens(self) -> None:
        """Every installation token stops working at once (401 "Bad credentials"), as after a key rotation."""
        self.tokens.clear()

    def inject_secondary_limit(
        self,
        *,
        status: int = 403,
        retry_after: float | None = None,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.inject(secondary_rate_limit(status=status, retry_after=retry_after, method=method, path=path), times=times)

    async def idle(self) -> None:
        """Wait for the background starts of dispatched runs (and their hooks); re-raise a hook's failure."""
        tasks, self._run_tasks = self._run_tasks, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve as every sandbox does, with the OIDC issuer bound to the URL; stop run starts on the way out."""
        async with super().running() as url:
            if self._oidc is not None:
                self._oidc.bind(url)
            try:
                yield url
            finally:
                await self._stop_run_tasks()

    @property
    def oidc(self) -> OidcIssuer:
        """The Actions OIDC issuer at `/oidc`, made on first use: its RSA key takes a noticeable moment."""
        if self._oidc is None:
            self._oidc = OidcIssuer(OIDC_PREFIX, clock=self.clock)
            if self.url is not None:
                self._oidc.bind(self.url)
        return self._oidc

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(f"{OIDC_PREFIX}/{{tail:.*}}", self._oidc_route)
        router.add_get("/app", self._get_app)
        router.add_post("/app/installations/{installation_id}/access_tokens", self._create_token)
        router.add_get(f"{REPO_PATH}/installation", self._get_installation)
        self._add_repository_routes(router)
        self._add_actions_routes(router)
        self._add_git_routes(router)

    def _add_actions_routes(self, router: web.UrlDispatcher) -> None:
        repo = REPO_PATH
        router.add_post(f"{repo}/actions/workflows/{{workflow}}/dispatches", self._dispatch)
        router.add_get(f"{repo}/actions/workflows/{{workflow}}/runs", self._list_workflow_runs)
        router.add_get(f"{repo}/actions/runs", self._list_repo_runs)
        router.add_get(f"{repo}/actions/runs/{{run_id:\\d+}}", self._get_run)
        router.add_post(f"{repo}/actions/runs/{{run_id:\\d+}}/cancel", self._cancel_run)

    async def _oidc_route(self, request: web.Request) -> web.StreamResponse:
        """Serve the issuer's own routes, resolved by its own router, so both publish the same thing."""
        if self._oidc_router is None:
            self._oidc_router = web.UrlDispatcher()
            self.oidc.add_routes(self._oidc_router)
        match = await self._oidc_router.resolve(request)
        return await match.handler(request)

    async def _get_app(self, request: web.Request) -> web.Response:
        return web.json_response(self._app_caller(request).as_json())

    async def _get_installation(self, request: web.Request) -> web.Response:
        app = self._app_caller(request)
        repo = self.repos.get(repo_key(request.match_info["owner"], request.match_info["repo"]))
        found = [i for i in self.installations.values() if i.app is app and repo is not None and i.covers(repo)]
        if not found:
            raise Rejection(404, "Not Found")
        return web.json_response(found[0].as_json(self._api_url()))

    async def _create_token(self, request: web.Request) -> web.Response:
        app = self._app_caller(request)
        installation = self.installations.get(integer(request.match_info["installation_id"]))
        if installation is None or installation.app is not app:
            raise Rejection(404, "Not Found")
        if installation.suspended:
            raise Rejection(403, "This installation has been suspended")
        body = read_json(await request.read()) or {}
        if not isinstance(body, dict):
            raise Rejection(400, "Problems parsing JSON")
        repositories = self._token_repositories(installation, body.get("repositories"))
        permissions = self._token_permissions(installation, body.get("permissions"))
        token = "ghs_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(36))
        expires_at = self.clock() + TOKEN_LIFETIME_SECONDS
        self.tokens[token] = TokenState(installation, expires_at, repositories, permissions)
        answer = {
            "token": token,
            "expires_at": iso(expires_at),
            "permissions": permissions,
            "repository_selection": "selected" if repositories is not None else "all",
        }
        return web.json_response(answer, status=201)

    def _token_repositories(self, installation: InstallationState, names: Any) -> frozenset[str] | None:
        if names is None:
            return installation.repositories
        wanted = lower_names(names if isinstance(names, list) else [str(names)]) or frozenset()
        visible = {key[1] for key, repo in self.repos.items() if installation.covers(repo)}
        if not wanted <= visible:
            raise Rejection(
                422,
                "There is at least one repository that does not exist or is not accessible to the parent installation.",
            )
        return wanted

    def _token_permissions(self, installation: InstallationState, asked: Any) -> dict[str, str]:
        if asked is None:
            return dict(installation.permissions)
        if not isinstance(asked, dict) or not all(
            installation.allows(name, write=level == "write") for name, level in asked.items()
        ):
            raise Rejection(422, "The permissions requested are not granted to this installation.")
        return {str(name): str(level) for name, level in asked.items()}

    async def _dispatch(self, request: web.Request) -> web.Response:
        repo, token = self._visible_repo(request, "actions", write=True)
        path, workflow_id = self._workflow(repo, request.match_info["workflow"])
        body = json_object(read_json(await request.read()))
        if "return_run_details" in body and not self.knows_return_run_details:
            raise Rejection(400, 'Invalid request.\n\n"return_run_details" is not a permitted key.')
        ref = required_text(body, "ref")
        full_ref = _full_ref(repo, ref)
        commit = repo.resolve(ref)
        if full_ref is None or commit is None:
            raise Rejection(404, f"No ref found for: {ref}")
        content = repo.file(commit, path)
        definition = parse_workflow(content.decode("utf-8", "replace")) if content is not None else _NOT_DISPATCHABLE
        inputs = checked_inputs(definition, body.get("inputs"))
        run = self._new_run(repo, path, workflow_id, definition, inputs, full_ref, commit.sha, token)
        self._start_in_background(run)
        if body.get("return_run_details") is True and self.return_run_details:
            repo_url = f"{self._api_url()}/repos/{repo.full_name}"
            answer = {
                "workflow_run_id": run.id,
                "run_url": f"{repo_url}/actions/runs/{run.id}",
                "html_url": f"{repo.html_url}/actions/runs/{run.id}",
            }
            return web.json_response(answer)
        return web.Response(status=204)

    def _new_run(
        self,
        repo: RepoState,
        path: str,
        workflow_id: int,
        definition: WorkflowDefinition,
        inputs: dict[str, str],
        ref: str,
        sha: str,
        token: TokenState,
    ) -> RunState:
        workflow_name = definition.name or path
        now = self.clock()
        run = RunState(
            id=next(self._ids["run"]),
            repo=repo,
            workflow_id=workflow_id,
            workflow_path=path,
            workflow_name=workflow_name,
            run_number=1 + sum(1 for other in self.runs.values() if other.workflow_id == workflow_id),
            display_title=render_run_name(definition.run_name, inputs, fallback=workflow_name),
            event="workflow_dispatch",
            ref=ref,
            head_sha=sha,
            inputs=inputs,
            actor=token.installation.app.bot_json(),
            created_at=now,
            updated_at=now,
        )
        self.runs[run.id] = run
        return run

    async def _list_workflow_runs(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "actions")
        _, workflow_id = self._workflow(repo, request.match_info["workflow"])
        runs = [run for run in self.runs.values() if run.repo is repo and run.workflow_id == workflow_id]
        return self._run_listing(request, repo, runs)

    async def _list_repo_runs(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "actions")
        return self._run_listing(request, repo, [run for run in self.runs.values() if run.repo is repo])

    def _run_listing(self, request: web.Request, repo: RepoState, runs: list[RunState]) -> web.Response:
        """`{total_count, workflow_runs}`, newest first, filtered by the query as GitHub filters."""
        query = request.query
        checks: list[Callable[[RunState], bool]] = []
        if "event" in query:
            checks.append(lambda run: run.event == query["event"])
        if "status" in query:
            wanted = query["status"]
            checks.append(lambda run: run.conclusion == wanted if wanted in CONCLUSIONS else run.status == wanted)
        if "branch" in query:
            checks.append(lambda run: run.head_branch == query["branch"])
        if "head_sha" in query:
            checks.append(lambda run: run.head_sha == query["head_sha"])
        if "actor" in query:
            checks.append(lambda run: run.actor.get("login") == query["actor"])
        if "created" in query:
            created = created_matcher(query["created"])
            checks.append(lambda run: created(run.created_at))
        matching = sorted((r for r in runs if all(check(r) for check in checks)), key=lambda r: (-r.created_at, -r.id))
        page, headers = self._page(request, repo, matching)
        body = {"total_count": len(matching), "workflow_runs": [run.as_json(self._api_url()) for run in page]}
        return web.json_response(body, headers=headers)

    async def _get_run(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "actions")
        return web.json_response(self._run_of(repo, request).as_json(self._api_url()))

    async def _cancel_run(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "actions", write=True)
        run = self._run_of(repo, request)
        if run.status == "completed":
            raise Rejection(409, "Cannot cancel a workflow run that is completed.")
        run.status, run.conclusion, run.updated_at = "completed", "cancelled", self.clock()
        return web.json_response({}, status=202)

    def _run_of(self, repo: RepoState, request: web.Request) -> RunState:
        run = self.runs.get(integer(request.match_info["run_id"]))
        if run is None or run.repo is not repo:
            raise Rejection(404, "Not Found")
        return run

    def _workflow(self, repo: RepoState, name_or_id: str) -> tuple[str, int]:
        """A workflow on the default branch by file name, path or id, as `.../workflows/{workflow_id}` takes it."""
        for path in repo.workflow_paths():
            workflow_id = repo.workflow_ids.setdefault(path, next(self._ids["workflow"]))
            if name_or_id in (str(workflow_id), path, path.rsplit("/", 1)[-1]):
                return path, workflow_id
        raise Rejection(404, "Not Found")

    def _start_in_background(self, run: RunState) -> None:
        if self.start_runs:
            self._run_tasks.append(asyncio.get_running_loop().create_task(self._start_after_answer(run)))

    async def _start_after_answer(self, run: RunState) -> None:
        await asyncio.sleep(0)  # the dispatch answers before the run starts, as on GitHub
        if run.status not in NOT_STARTED_STATUSES:
            return
        self.start_run(run.id)
        if self.on_run_started is not None:
            await self.on_run_started(self._started_run(run))

    def _started_run(self, run: RunState) -> StartedRun:
        return StartedRun(
            backend="github-actions",
            run_id=str(run.id),
            dispatch_name=run.inputs.get("dispatch", run.display_title),
            environment=dict(run.inputs),
            identity_token=functools.partial(self.identity_token, run.id),
            metadata={
                "repository": run.repo.full_name,
                "workflow": run.workflow_path,
                "ref": run.ref,
                "html_url": f"{run.repo.html_url}/actions/runs/{run.id}",
            },
        )

    def identity_token(self, run_id: int, audience: str) -> str:
        """The OIDC token GitHub Actions would give a job of the run, for `audience`."""
        run = self.run(run_id)
        repo = run.repo
        workflow_ref = f"{repo.full_name}/{run.workflow_path}@{run.ref}"
        claims = {
            "sub": f"repo:{repo.full_name}:ref:{run.ref}",
            "repository": repo.full_name,
            "repository_id": str(repo.id),
            "repository_owner": repo.owner,
            "repository_owner_id": str(1_000 + repo.id),
            "repository_visibility": "private" if repo.private else "public",
            "run_id": str(run.id),
            "run_number": str(run.run_number),
            "run_attempt": "1",
            "workflow": run.workflow_name,
            "workflow_ref": workflow_ref,
            "workflow_sha": run.head_sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": run.head_sha,
            "event_name": run.event,
            "ref": run.ref,
            "ref_type": "tag" if run.ref.startswith("refs/tags/") else "branch",
            "sha": run.head_sha,
            "actor": run.actor["login"],
            "actor_id": str(run.actor["id"]),
            "runner_environment": "github-hosted",
        }
        return self.oidc.mint(claims, audience)

    async def triggers_sent(self) -> list[TriggerRun]:
        """Wait for the comment-trigger jobs started so far to finish; every run so far."""
        tasks, self._trigger_tasks = self._trigger_tasks, []
        await asyncio.gather(*tasks)
        return list(self.trigger_runs)

    async def _stop_run_tasks(self) -> None:
        tasks, self._run_tasks = [*self._run_tasks, *self._trigger_tasks], []
        self._trigger_tasks = []
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                logger.warning("a run-started hook of the GitHub sandbox failed: %r", result)


def _public_key(key: rsa.RSAPublicKey | rsa.RSAPrivateKey | str) -> rsa.RSAPublicKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if "PRIVATE KEY" in key:
        private = serialization.load_pem_private_key(key.encode(), password=None)
        if isinstance(private, rsa.RSAPrivateKey):
            return private.public_key()
    else:
        public = serialization.load_pem_public_key(key.encode())
        if isinstance(public, rsa.RSAPublicKey):
            return public
    raise ValueError("a GitHub App key must be an RSA key")


def _as_bytes(files: Mapping[str, str | bytes]) -> dict[str, bytes]:
    return {path: data.encode() if isinstance(data, str) else data for path, data in files.items()}


def _seeder() -> dict[str, str]:
    return {"name": "Sandbox Seeder", "email": "seeder@example.com"}


def person(login: str) -> dict[str, Any]:
    """A GitHub user who is not the App: reviewers, commenters, whoever merges."""
    return user_json(login, int(git_sha("user", login.encode())[:7], 16))


def _full_ref(repo: RepoState, ref: str) -> str | None:
    for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
        if candidate in repo.refs and candidate.startswith("refs/"):
            return candidate
    return None
