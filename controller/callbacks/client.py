"""The runner's side of the callbacks: trade an identity for tokens, report progress, report the result.

A run must ride out a controller that is restarting, changing leader or briefly unreachable, so
each call has its own patience (`verdict`, pure and table-tested):

- credentials and the brief: retried (the Dispatch may still be starting: 409 `not_started`; the API
  may be down) until the run's deadline; refused (401, 410, 501) ends the run at once;
- progress: a heartbeat and a log line, so it is retried a few times with backoff and then dropped
  (the run goes on; the next report carries the state anyway);
- result: retried until it is accepted or the deadline passes. A 409 saying the result is already
  recorded means an earlier attempt landed (its answer was lost): done, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import httpx

from controller.clock import Clock, utc_now

logger = logging.getLogger("controller.runner")

PROGRESS_ATTEMPTS: Final = 5
BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 30.0
TIMEOUT_SECONDS: Final = 15.0


class Purpose(StrEnum):
    CREDENTIALS = "credentials"
    BRIEF = "brief"
    PROGRESS = "progress"
    RESULT = "result"


class Action(StrEnum):
    DONE = "done"
    RETRY = "retry"
    DROP = "drop"
    """Give this call up and carry on (progress only)."""
    FAIL = "fail"
    """The controller refused: the run cannot go on reporting."""


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """One attempt reduced to what the verdict reads: a status and error code, or no answer at all."""

    status: int | None
    code: str | None = None
    retry_after: float | None = None


RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
ALREADY_RECORDED: Final = frozenset({"result_recorded"})
"""A 409 `token_spent` without a recorded result means the controller lost it: not done, and not retryable."""


def verdict(purpose: Purpose, answer: Answer, attempt: int, remaining: float) -> Verdict:
    """What to do after the `attempt`-th call of `purpose`, with `remaining` seconds before the deadline."""
    status = answer.status
    if status is not None and 200 <= status < 300:
        return Verdict(Action.DONE)
    if purpose is Purpose.RESULT and status == 409 and answer.code in ALREADY_RECORDED:
        return Verdict(Action.DONE, reason="an earlier attempt was recorded")
    passing = status is None or status in RETRYABLE_STATUSES
    if purpose is Purpose.CREDENTIALS and status == 409 and answer.code == "not_started":
        passing = True
    if not passing:
        if purpose is Purpose.PROGRESS and status in (400, 413, 422):
            return Verdict(Action.DROP, reason=f"the controller refused this report ({status})")
        return Verdict(Action.FAIL, reason=f"the controller answered {status} ({answer.code or 'no code'})")
    wait = min(BACKOFF_BASE_SECONDS * 2.0 ** min(max(attempt - 1, 0), 30), BACKOFF_MAX_SECONDS)
    if answer.retry_after is not None and answer.retry_after >= 0:
        wait = min(answer.retry_after, BACKOFF_MAX_SECONDS)
    what = "no answer" if status is None else f"{status}"
    if purpose is Purpose.PROGRESS and attempt >= PROGRESS_ATTEMPTS:
        return Verdict(Action.DROP, reason=f"{what} after {attempt} attempts")
    if remaining <= 0:
        return Verdict(Action.FAIL, reason=f"{what}, and the run's deadline has passed")
    return Verdict(Action.RETRY, delay=min(wait, remaining), reason=what)


class CallbackRefused(Exception):
    """The controller will not take this run's callbacks (bad token, run ended, deadline passed)."""


@dataclass(frozen=True)
class GitHubAccess:
    """The run's own GitHub token: one repository, contents and pull requests only."""

    token: str = field(repr=False)
    api_url: str
    repository: str


@dataclass(frozen=True)
class Credentials:
    progress_token: str
    result_token: str
    shadow: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    """What the controller hands the run besides its tokens (model credentials)."""
    github: GitHubAccess | None = None


Sleep = Callable[[float], Awaitable[None]]


class CallbackClient:
    """Calls `/runner/*` at `base_url` until `deadline`, as a run does from any backend."""

    def __init__(
        self,
        base_url: str,
        deadline: datetime,
        *,
        http: httpx.AsyncClient,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline
        self._http = http
        self._clock = clock
        self._sleep = sleep

    async def credentials(self, dispatch: str, identity_token: str) -> Credentials:
        """Trade the platform's OIDC token for the run's tokens (and its environment)."""
        body = await self._call(Purpose.CREDENTIALS, identity_token, {"dispatch": dispatch}) or {}
        shadow = bool(body.get("shadow"))
        progress, result = body.get("progressToken"), body.get("resultToken")
        environment = body.get("environment") or {}
        if not shadow and not (isinstance(progress, str) and isinstance(result, str)):
            raise CallbackRefused("the credentials exchange answered without the run's two tokens")
        if not isinstance(environment, dict):
            raise CallbackRefused("the credentials exchange answered an environment that is not an object")
        return Credentials(
            progress_token=progress if isinstance(progress, str) else "",
            result_token=result if isinstance(result, str) else "",
            shadow=shadow,
            environment={str(key): str(value) for key, value in environment.items()},
            github=_github_access(body.get("github")),
        )

    async def brief(self, progress_token: str) -> dict[str, Any]:
        """What the run works on (GET /runner/brief): the ticket, the approved plan, the review feedback."""
        body = await self._call(Purpose.BRIEF, progress_token, None)
        if not body or not isinstance(body.get("ticket"), dict):
            raise CallbackRefused("the controller answered a brief without its ticket")
        return body

    async def progress(self, token: str, step: Mapping[str, Any] | None) -> bool:
        """Report one step (None: a heartbeat); False when it had to be dropped."""
        body = await self._call(Purpose.PROGRESS, token, {"step": dict(step)} if step is not None else {})
        return body is not None

    async def result(self, token: str, result: Mapping[str, Any]) -> None:
        """Report the outcome; returns once the controller has it, raises once it never will."""
        await self._call(Purpose.RESULT, token, dict(result))

    async def _call(self, purpose: Purpose, token: str, body: Mapping[str, Any] | None) -> dict[str, Any] | None:
        attempt = 0
        while True:
            attempt += 1
            answer, payload = await self._attempt(purpose, token, body)
            remaining = (self.deadline - self._clock()).total_seconds()
            decided = verdict(purpose, answer, attempt, remaining)
            if decided.action is Action.DONE:
                return payload
            if decided.action is Action.DROP:
                logger.warning("dropped a %s callback: %s", purpose, decided.reason)
                return None
            if decided.action is Action.FAIL:
                raise CallbackRefused(f"/runner/{purpose}: {decided.reason}")
            logger.info("/runner/%s: %s; trying again in %.1f s", purpose, decided.reason, decided.delay)
            await self._sleep(decided.delay)

    async def _attempt(
        self, purpose: Purpose, token: str, body: Mapping[str, Any] | None
    ) -> tuple[Answer, dict[str, Any] | None]:
        try:
            response = await self._http.request(
                "GET" if body is None else "POST",
                f"{self.base_url}/runner/{purpose}",
                json=None if body is None else dict(body),
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            return Answer(status=None, code=type(error).__name__), None
        payload = _json_object(response)
        code = (payload.get("error") or {}).get("code") if isinstance(payload.get("error"), dict) else None
        return Answer(response.status_code, code, _retry_after(response.headers.get("Retry-After"))), payload


def _github_access(value: Any) -> GitHubAccess | None:
    if value is None:
        return None
    fields = ("token", "apiUrl", "repository")
    if not isinstance(value, dict) or not all(isinstance(value.get(name), str) and value[name] for name in fields):
        raise CallbackRefused("the credentials exchange answered a `github` entry without token, apiUrl and repository")
    return GitHubAccess(token=value["token"], api_url=value["apiUrl"], repository=value["repository"])


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
