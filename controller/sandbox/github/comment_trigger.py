"""What the synced `comment-trigger.yml` does once GitHub Actions runs it, played by the sandbox.

GitHub runs the workflow for each `issue_comment` `created` event of a repository that has it on
its default branch. The job runs only for a comment on a pull request that starts with
`/ai-implement`, written by the repository's owner, a member or a collaborator; its one step POSTs
the comment to `vars.AI_IMPLEMENT_URL` + `/trigger/gap-fill` with `secrets.GAP_FILL_TRIGGER_SECRET`
as the bearer, as `curl -sSf --retry 3` does: a failed connection or a transient answer (408, 429,
500, 502, 503, 504) is retried after 1, 2 and 4 seconds; any other answer ends the step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

TRIGGER_WORKFLOW_PATH: Final = ".github/workflows/comment-trigger.yml"
COMMAND: Final = "/ai-implement"
TRUSTED_ASSOCIATIONS: Final = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
TRIGGER_BODY_FIELDS: Final = ("repository", "pullRequestNumber", "commentId", "commentBody", "sender")
"""The fields the step's `jq` builds; the template's GAP_FILL_TRIGGER_FIELDS (tested to match)."""
CURL_RETRY_DELAYS: Final = (1.0, 2.0, 4.0)
CURL_TRANSIENT_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class TriggerSettings:
    """A repository's Actions variable AI_IMPLEMENT_URL and secret GAP_FILL_TRIGGER_SECRET."""

    url: str
    secret: str = field(repr=False)


@dataclass
class TriggerRun:
    """One run of the workflow's job: what it sent and every status it got (None: no answer)."""

    repository: str
    body: dict[str, Any]
    statuses: list[int | None] = field(default_factory=list)


def trigger_body(
    repository: str, issue: Mapping[str, Any], comment: Mapping[str, Any], sender: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The JSON the job's step sends for one `issue_comment` event, or None when its `if:` skips the job."""
    text = str(comment.get("body") or "")
    if "pull_request" not in issue or not text.startswith(COMMAND):
        return None
    if comment.get("author_association") not in TRUSTED_ASSOCIATIONS:
        return None
    return {
        "repository": repository,
        "pullRequestNumber": int(issue["number"]),
        "commentId": int(comment["id"]),
        "commentBody": text,
        "sender": str(sender["login"]),
    }


async def send_trigger(
    run: TriggerRun,
    settings: TriggerSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The step's `curl`: one attempt and up to three retries, each status recorded on `run`."""
    headers = {"Authorization": f"Bearer {settings.secret}"}
    url = f"{settings.url.rstrip('/')}/trigger/gap-fill"
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), transport=transport) as http:
        for delay in (*CURL_RETRY_DELAYS, None):
            try:
                status: int | None = (await http.post(url, json=run.body, headers=headers)).status_code
            except httpx.HTTPError:
                status = None
            run.statuses.append(status)
            if delay is None or (status is not None and status not in CURL_TRANSIENT_STATUSES):
                return
            await sleep(delay)
