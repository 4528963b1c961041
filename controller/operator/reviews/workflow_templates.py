"""Keeping each mapping's `WorkflowsInSync` condition and `status.workflowTemplate` current.

On the leader, every `REFRESH_INTERVAL`, the synced files on each target repository's default
branch are compared with the current templates (`WorkflowSync.status`), and the answer is written
to the mapping; `template_status_patch` decides the patch, purely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller import constants
from controller.clock import Clock, kube_timestamp
from controller.httpclient import ServiceError
from controller.kube import PROJECT_MAPPINGS, Informer, KubeClient
from controller.kube.errors import ConflictError, NotFoundError
from controller.operator.periodic import every
from controller.resources import ProjectMappingSpec
from controller.workflows import WorkflowSync, WorkflowSyncError

logger = logging.getLogger("controller.operator")

REFRESH_INTERVAL = timedelta(minutes=10)
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


@dataclass
class TemplateStatusRefresher:
    kube: KubeClient
    namespace: str
    mappings: Informer
    sync: WorkflowSync | None
    clock: Clock
    version: int
    interval: float = REFRESH_INTERVAL.total_seconds()
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def refresh_all(self) -> int:
        """Check every mapping's repository once; returns how many mappings were written."""
        if self.sync is None:
            return 0
        written = 0
        for mapping in self.mappings.items():
            try:
                await self._refresh(mapping)
            except (ConflictError, NotFoundError):
                continue  # changed meanwhile: next round
            except Exception:  # one mapping's trouble must not leave the others unchecked
                logger.exception("could not check the workflow templates of %s", mapping["metadata"].get("name"))
                continue
            written += 1
        return written

    async def run(self) -> None:
        await every(self.interval, self.refresh_all, "checking workflow templates", sleep=self.sleep)

    async def _refresh(self, mapping: Mapping[str, Any]) -> None:
        assert self.sync is not None
        spec = ProjectMappingSpec.model_validate(mapping["spec"])
        state: str | None = None
        problem: str | None = None
        try:
            state = (await self.sync.status(spec)).state
        except (ServiceError, WorkflowSyncError) as error:
            problem = getattr(error, "message", None) or str(error)
        patch = template_status_patch(mapping.get("status") or {}, state, problem, self.version, self.clock())
        body = {"metadata": {"name": mapping["metadata"]["name"], "uid": mapping["metadata"]["uid"]}, "status": patch}
        await self.kube.apply(
            PROJECT_MAPPINGS, self.namespace, body, constants.FIELD_MANAGER_WORKFLOWS, force=True, subresource="status"
        )
