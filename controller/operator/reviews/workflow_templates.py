"""Checking the target repositories on the leader: the stored checks, and each mapping's `WorkflowsInSync`.

Every `FIRST_CHECK_WITHIN` the leader reads the repositories that are due: those no check has
read yet (a new mapping, a changed source) and those whose check is `RECHECK_EVERY` old. Each
repository is read once however many mappings name it, a few at a time (`CONCURRENT_READS`), and
its check is stored for the API (`controller.workflows.checks`). Then each mapping whose spec or
check changed is judged against its own rendering and, when the answer differs from its status,
`status.workflowTemplate` and the condition are written; `template_status_patch` decides the
patch, purely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.httpclient import ServiceError
from controller.kube import PROJECT_MAPPINGS, Informer, KubeClient
from controller.kube.errors import ConflictError, NotFoundError
from controller.operator.periodic import every
from controller.operator.tickets.mappings import IndexedMapping, MappingDirectory
from controller.store import CheckedFile, RepositoryCheck, RepositoryChecks
from controller.workflows import (
    DEFAULT_SESSION_IMAGE,
    FIRST_CHECK_WITHIN,
    RECHECK_EVERY,
    RenderedDigests,
    RepositoryKey,
    WorkflowSyncError,
    repositories_due,
    repositories_forgotten,
    repository_key,
    template_status_of,
    unreadable_check,
)

logger = logging.getLogger("controller.operator")

CONCURRENT_READS: Final = 4
"""Repositories read at once (each read is 5 requests, 4 of them in parallel): GitHub limits concurrency."""
CONDITION = "WorkflowsInSync"
_REASONS = {
    "current": ("TemplatesCurrent", "the workflow files and prompts match template version {version}"),
    "stale": ("TemplatesStale", "some synced files differ from template version {version}: run Sync workflows"),
    "missing": ("TemplatesMissing", "some synced files are missing: run Sync workflows"),
}


def template_status_patch(
    previous_status: Mapping[str, Any], state: str | None, problem: str | None, version: int, now: datetime
) -> dict[str, Any]:
    """`workflowTemplate` and the `WorkflowsInSync` condition, the fields the workflow check owns, to apply.

    `state` None means the repository could not be read (`problem` says why): the condition turns
    Unknown and `workflowTemplate` reads `unknown`.
    """
    before = next((c for c in previous_status.get("conditions") or [] if c.get("type") == CONDITION), None)
    if state is None:
        status, reason, message = "Unknown", "RepositoryUnreadable", problem or "the repository could not be read"
    else:
        reason, template = _REASONS[state]
        status, message = ("True" if state == "current" else "False"), template.format(version=version)
    since = now
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        since = datetime.fromisoformat(str(before["lastTransitionTime"]).replace("Z", "+00:00"))
    condition = {
        "type": CONDITION,
        "status": status,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": kube_timestamp(since),
    }
    return {"conditions": [condition], "workflowTemplate": state or "unknown"}


class RepositoryReader(Protocol):
    """What the refresher needs of `WorkflowSync`: one read of a repository's default branch."""

    async def check(self, key: RepositoryKey) -> RepositoryCheck: ...


def status_changes(previous_status: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether applying `patch` (from `template_status_patch`) would change the mapping's status at all."""
    if previous_status.get("workflowTemplate") != patch["workflowTemplate"]:
        return True
    before = next((c for c in previous_status.get("conditions") or [] if c.get("type") == CONDITION), None)
    return before is None or any(before.get(key) != value for key, value in patch["conditions"][0].items())


@dataclass
class TemplateStatusRefresher:
    kube: KubeClient
    namespace: str
    mappings: Informer
    directory: MappingDirectory
    store: RepositoryChecks
    reader: RepositoryReader | None
    """The GitHub App's `WorkflowSync`; None without the App: nothing is checked."""
    clock: Clock
    version: int
    session_image: str = DEFAULT_SESSION_IMAGE
    recheck_every: timedelta = RECHECK_EVERY
    round_seconds: float = FIRST_CHECK_WITHIN.total_seconds()
    concurrency: int = CONCURRENT_READS
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _digests: RenderedDigests = field(init=False)
    _judged: dict[str, tuple[int, Mapping[str, CheckedFile | None], str | None]] = field(
        init=False, default_factory=dict
    )
    """Mapping uid → the generation, files and error its status was last judged from: judged again when one moves."""

    def __post_init__(self) -> None:
        self._digests = RenderedDigests(self.session_image)

    async def run(self) -> None:
        await every(self.round_seconds, self.refresh_due, "checking workflow templates", sleep=self.sleep)

    async def refresh_due(self) -> int:
        """One round: read the repositories that are due, then write the statuses that change; how many were written."""
        return await self._refresh(everything=False)

    async def refresh_all(self) -> int:
        """Read every mapped repository now, whatever the age of its check, then write the statuses that change."""
        return await self._refresh(everything=True)

    async def _refresh(self, *, everything: bool) -> int:
        if self.reader is None:
            return 0
        mappings = self.directory.index().readable
        wanted = [repository_key(mapping.spec) for mapping in mappings]
        checks = {check.key: check for check in await self.store.repository_checks()}
        due = (
            list(dict.fromkeys(wanted))
            if everything
            else repositories_due(
                wanted, {key: check.checked_at for key, check in checks.items()}, self.clock(), self.recheck_every
            )
        )
        for check in await self._read(self.reader, due):
            if check.key not in checks or checks[check.key].checked_at <= check.checked_at:
                checks[check.key] = check
        forgotten = repositories_forgotten(set(wanted), checks)
        if forgotten:
            await self.store.forget_repository_checks(forgotten)
        self._digests.keep_only([mapping.name for mapping in mappings])
        if len(self._judged) > len(mappings):
            present = {mapping.uid for mapping in mappings}
            self._judged = {uid: judged for uid, judged in self._judged.items() if uid in present}
        written = 0
        for mapping in mappings:
            try:
                written += await self._judge(mapping, checks.get(repository_key(mapping.spec)))
            except (ConflictError, NotFoundError):
                continue  # changed meanwhile: next round
            except Exception:  # one mapping's trouble must not leave the others unwritten
                logger.exception("could not write the workflow-template status of %s", mapping.name)
            await asyncio.sleep(0)  # rendering 1,000 mappings after a start must not hold the loop in one go
        return written

    async def _read(self, reader: RepositoryReader, keys: list[RepositoryKey]) -> list[RepositoryCheck]:
        """Check `keys`, `concurrency` at a time, storing each; a rate limit ends the round (the rest stay due)."""
        pending = iter(keys)
        done: list[RepositoryCheck] = []
        limited = asyncio.Event()

        async def read_in_turn() -> None:
            for key in pending:
                if limited.is_set():
                    return
                try:
                    check = await reader.check(key)
                except WorkflowSyncError as error:
                    check = unreadable_check(key, str(error), self.clock())
                except ServiceError as error:
                    if error.retry_after is not None:
                        logger.warning(
                            "GitHub asks to wait %s s; the template check resumes next round", error.retry_after
                        )
                        limited.set()
                        return
                    check = unreadable_check(key, error.message, self.clock())
                except Exception as error:  # one repository's trouble must not leave the others unread
                    logger.exception("could not check the workflow templates of %s/%s", key[0], key[1])
                    check = unreadable_check(key, f"the check failed unexpectedly: {error!r}", self.clock())
                await self.store.record_repository_check(check)
                done.append(check)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.concurrency, len(keys))):
                group.create_task(read_in_turn())
        return done

    async def _judge(self, mapping: IndexedMapping, check: RepositoryCheck | None) -> int:
        """Write the mapping's state from its repository's check, if it changed; 1 when written."""
        if check is None:
            return 0  # not read yet (GitHub asked to wait): next round
        judged_from = (mapping.generation, check.files, check.error)
        if self._judged.get(mapping.uid) == judged_from:
            return 0
        cached = self.mappings.get(mapping.name)
        if cached is None:
            return 0
        judged = template_status_of(self._digests.of(mapping.name, mapping.spec), check)
        state = None if judged.state == "unknown" else judged.state
        previous = cached.get("status") or {}
        patch = template_status_patch(previous, state, judged.error, self.version, self.clock())
        written = 0
        if status_changes(previous, patch):
            body = {"metadata": {"name": mapping.name, "uid": mapping.uid}, "status": patch}
            await self.kube.apply(
                PROJECT_MAPPINGS,
                self.namespace,
                body,
                constants.FIELD_MANAGER_WORKFLOWS,
                force=True,
                subresource="status",
            )
            written = 1
        self._judged[mapping.uid] = judged_from
        return written
