"""A ProjectMapping's own status: its Ready and CredentialsResolved conditions, runner mode and iteration cap.

The one writer of those fields (field manager `ai-implement-mappings`, by server-side apply), called
by kopf on every spec change and by the leader every poll interval. It writes only
when something changed, and posts an Event when the mapping turns ready or not ready. The counts are
the poller's, WorkflowsInSync the workflow check's: each applies its own fields, so no writer
replaces another's conditions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from controller import constants
from controller.clock import Clock
from controller.config import Settings
from controller.kube import PROJECT_MAPPINGS, EventRecorder, EventType, KubeClient
from controller.operator.retrying import UnreadableResource
from controller.operator.tickets.mappings import (
    MappingDirectory,
    MappingStatusFacts,
    indexed_mapping,
    mapping_status_patch,
    readiness_change,
    status_patch_changes,
)
from controller.store import RunnerModeReader

logger = logging.getLogger("controller.operator")


@dataclass
class MappingReconciler:
    settings: Settings
    runner_mode: RunnerModeReader
    kube: KubeClient
    mappings: MappingDirectory
    clock: Clock
    events: EventRecorder

    async def reconcile(self, body: Mapping[str, Any]) -> bool:
        """Bring the mapping's own status up to date; whether anything had to be written."""
        try:
            mapping = indexed_mapping(body)
        except (KeyError, ValidationError) as error:
            raise UnreadableResource(f"the ProjectMapping cannot be read: {error}") from error
        index = self.mappings.index_with(body)
        runner_mode = await self.runner_mode()
        facts = MappingStatusFacts(
            runner_mode=runner_mode.mode,
            conflict=index.conflicts.get(mapping.name),
            unsafe_jql=index.unsafe.get(mapping.name),
        )
        current = body.get("status") or {}
        patch = mapping_status_patch(mapping, self.settings, facts, current, self.clock())
        if not status_patch_changes(current, patch):
            return False
        written = await self.kube.apply(
            PROJECT_MAPPINGS,
            mapping.namespace,
            {"metadata": {"name": mapping.name}, "status": patch},
            constants.FIELD_MANAGER_MAPPINGS,
            force=True,
            subresource="status",
        )
        change = readiness_change(current, patch)
        if change is not None:
            ready, reason, message = change
            kind = EventType.NORMAL if ready else EventType.WARNING
            await self.events.record(PROJECT_MAPPINGS, written, kind, reason, message, self.clock())
        return True
