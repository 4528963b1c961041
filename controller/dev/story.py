"""The story `ai-implement dev` plays once everything runs, so that a newcomer sees the webhook-driven half.

A person's actions, done on the sandboxes, each announced on the console with what to look for:

1. A Linear ticket and a Jira ticket get the AI label; their webhooks wake the operator, which
   dispatches each at once instead of at the next poll (the story says how long it took).
2. A reviewer asks for changes on the first pull request a run opened; the GitHub webhook records
   the review and, once no more feedback arrives, a review run works on the same pull request.
3. A member comments `/ai-implement …` on that pull request; the repository's comment-trigger job
   calls `/trigger/gap-fill` and a gap-fill run follows.

Each step waits for what it needs (a pull request, the end of the review run) within a bound, and
says so and stops when it does not come: the story never takes `ai-implement dev` down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from controller.kube import DISPATCHES, KubeClient
from controller.kube.errors import KubeError
from controller.resources.dispatch import TERMINAL_PHASES, label_value
from controller.sandbox.github import GitHubSandbox
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.linear import LinearSandbox

logger = logging.getLogger("controller.dev")

START_DELAY_SECONDS: Final = 8.0
"""Long enough for the first poll to dispatch the labelled tickets, so the webhook's ticket stands out."""
DISPATCH_WAIT_SECONDS: Final = 15.0
PULL_REQUEST_WAIT_SECONDS: Final = 180.0
RUN_WAIT_SECONDS: Final = 180.0
LOOK_EVERY_SECONDS: Final = 0.05
DISPATCH_MARKER: Final = "ai-implement:dispatch="
STORY_PREFIX: Final = "[story]"


class StoryStopped(Exception):
    """Something the story waits for did not come; the message says what and where to look."""


@dataclass
class DevStory:
    linear: LinearSandbox
    jira: JiraSandbox
    github: GitHubSandbox
    kube: KubeClient
    namespace: str
    linear_ticket: str
    jira_ticket: str
    label: str
    review_repo: tuple[str, str]
    say: Callable[[str], None] = print

    async def run(self) -> None:
        """Play every step; a step that cannot happen ends the story with a line saying why."""
        try:
            await asyncio.sleep(START_DELAY_SECONDS)
            await self.label_linear_ticket()
            await self.label_jira_ticket()
            number = await self.review_first_pull_request()
            await self.ask_for_a_gap_fill(number)
            self._tell("that is the whole story; GET /api/log and the admin UI show every run")
        except StoryStopped as stopped:
            self._tell(f"stopped: {stopped}")
        except (KubeError, ValueError) as error:
            self._tell(f"stopped: {error}")
        except Exception as error:  # the story must never take `ai-implement dev` down, nor die silently
            logger.exception("the dev story broke")
            self._tell(f"stopped: unexpected {type(error).__name__}: {error}")

    async def label_linear_ticket(self) -> None:
        labelled_at = time.monotonic()
        self.linear.update_issue(self.linear_ticket, add_labels=[self.label])
        self._tell(f"labelled Linear ticket {self.linear_ticket} {self.label}; its webhook should dispatch it")
        await self._announce_dispatch(self.linear_ticket, labelled_at)

    async def label_jira_ticket(self) -> None:
        issue = self.jira.issue(self.jira_ticket)
        labelled_at = time.monotonic()
        self.jira.update_issue(self.jira_ticket, labels=[*issue.labels, self.label])
        self._tell(f"labelled Jira ticket {self.jira_ticket} {self.label}; its webhook should dispatch it")
        await self._announce_dispatch(self.jira_ticket, labelled_at)

    async def review_first_pull_request(self) -> int:
        owner, repo = self.review_repo
        number = await self._first_run_pull_request(owner, repo)
        self.github.submit_review(
            owner,
            repo,
            number,
            "CHANGES_REQUESTED",
            "Please keep the choice in local storage too, so it survives a reload.\n"
            "fake-agent: write REVIEW.md Kept the choice in local storage as well.",
            user="reviewer",
        )
        self._tell(
            f"asked for changes on {owner}/{repo}#{number}; a review run starts once no more feedback arrives (20 s)"
        )
        name = await self._dispatch_of_kind(number, "review")
        self._tell(f"review run {name} started on {owner}/{repo}#{number}")
        await self._finished(name)
        return number

    async def ask_for_a_gap_fill(self, number: int) -> None:
        owner, repo = self.review_repo
        self.github.add_issue_comment(
            owner, repo, number, "/ai-implement add a test for the toggle", user="dev-operator"
        )
        self._tell(f"commented /ai-implement on {owner}/{repo}#{number}; the comment trigger asks for a gap-fill run")
        name = await self._dispatch_of_kind(number, "gap-fill")
        self._tell(f"gap-fill run {name} started on {owner}/{repo}#{number}")
        await self._finished(name)

    async def _announce_dispatch(self, identifier: str, labelled_at: float) -> None:
        selector = f"ai-implement.dev/issue={label_value(identifier)}"
        deadline = labelled_at + DISPATCH_WAIT_SECONDS
        while time.monotonic() < deadline:
            items = (await self.kube.list(DISPATCHES, self.namespace, label_selector=selector)).items
            if items:
                seconds = time.monotonic() - labelled_at
                name = items[0]["metadata"]["name"]
                self._tell(f"{identifier} became Dispatch {name} {seconds:.2f} s after its label, by its webhook")
                return
            await asyncio.sleep(LOOK_EVERY_SECONDS)
        raise StoryStopped(
            f"{identifier} was not dispatched within {DISPATCH_WAIT_SECONDS:.0f} s of its label; "
            "check GET /api/admin/config-status and the webhook lines of the log"
        )

    async def _first_run_pull_request(self, owner: str, repo: str) -> int:
        """The number of the first pull request a run opened (its body carries the dispatch marker)."""
        state = self.github.repo(owner, repo)
        deadline = time.monotonic() + PULL_REQUEST_WAIT_SECONDS
        while time.monotonic() < deadline:
            for number in sorted(state.pulls):
                pull = state.pulls[number]
                if pull.state == "open" and DISPATCH_MARKER in (pull.body or ""):
                    await self._announce_pull_request(owner, repo, number, pull.body or "", pull.created_at)
                    return number
            await asyncio.sleep(0.5)
        raise StoryStopped(f"no run opened a pull request on {owner}/{repo} within {PULL_REQUEST_WAIT_SECONDS:.0f} s")

    async def _announce_pull_request(self, owner: str, repo: str, number: int, body: str, opened_at: float) -> None:
        """Which run opened it, with a real commit on a real branch, and how long after its Dispatch was created."""
        name = body.split(DISPATCH_MARKER, 1)[1].split()[0].rstrip("->").strip()
        try:
            dispatch = await self.kube.get(DISPATCHES, self.namespace, name)
        except KubeError:
            self._tell(f"{owner}/{repo}#{number} was opened by {name}")
            return
        created = datetime.fromisoformat(str(dispatch["metadata"]["creationTimestamp"]).replace("Z", "+00:00"))
        seconds = opened_at - created.timestamp()
        self._tell(
            f"{owner}/{repo}#{number} opened by {name} {seconds:.1f} s after the Dispatch was created; "
            "its branch holds the commit the runner pushed"
        )

    async def _dispatch_of_kind(self, number: int, kind: str) -> str:
        """The Dispatch of `kind` that works on the pull request, once the operator created it."""
        deadline = time.monotonic() + RUN_WAIT_SECONDS
        while time.monotonic() < deadline:
            for item in (await self.kube.list(DISPATCHES, self.namespace)).items:
                spec = item.get("spec") or {}
                if spec.get("kind") == kind and (spec.get("pullRequest") or {}).get("number") == number:
                    return str(item["metadata"]["name"])
            await asyncio.sleep(0.5)
        raise StoryStopped(f"no {kind} run started within {RUN_WAIT_SECONDS:.0f} s; see GET /api/log")

    async def _finished(self, name: str) -> None:
        deadline = time.monotonic() + RUN_WAIT_SECONDS
        while time.monotonic() < deadline:
            status = (await self.kube.get(DISPATCHES, self.namespace, name)).get("status") or {}
            if status.get("phase") in TERMINAL_PHASES:
                self._tell(f"{name} ended {status['phase']}")
                return
            await asyncio.sleep(0.5)
        raise StoryStopped(f"{name} did not end within {RUN_WAIT_SECONDS:.0f} s")

    def _tell(self, line: str) -> None:
        self.say(f"{STORY_PREFIX} {line}")
