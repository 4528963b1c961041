"""kopf handlers: the reconciliation of resources, registered into a registry of our own.

kopf runs standalone, only during the leader's term (`main.py`), so no kopf peering is involved.
Only ProjectMappings for now; Dispatch and RunnerSession handlers join this registry later.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from pydantic import ValidationError

from controller import constants
from controller.operator.mappings import MappingStatusFacts, build_index, indexed_mapping, mapping_status_patch
from controller.operator.runtime import OperatorRuntime
from controller.store import runner_mode_in_force

ANNOTATION_PREFIX = constants.GROUP


def build_registry(runtime: OperatorRuntime) -> kopf.OperatorRegistry:
    """A registry holding every handler, bound to one runtime (no module-level state)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        """Progress in our own annotations; only warnings become Kubernetes Events."""
        settings.posting.level = logging.WARNING
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
        settings.watching.server_timeout = 300

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In a pod, the service account; elsewhere KUBECONFIG as it is now (not as it was at import)."""
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.resume(constants.GROUP, constants.VERSION, constants.PROJECT_MAPPING_PLURAL, registry=registry)
    @kopf.on.create(constants.GROUP, constants.VERSION, constants.PROJECT_MAPPING_PLURAL, registry=registry)
    @kopf.on.update(
        constants.GROUP, constants.VERSION, constants.PROJECT_MAPPING_PLURAL, field="spec", registry=registry
    )
    async def projectmapping_reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        """Conditions, effective runner mode and iteration cap; the poller adds the counts."""
        try:
            mapping = indexed_mapping(body)
        except (KeyError, ValidationError) as error:
            raise kopf.PermanentError(f"the mapping cannot be read: {error}") from error
        conflicts = build_index(runtime.mappings.items()).conflicts
        runner_mode = await runner_mode_in_force(runtime.store, runtime.settings)
        facts = MappingStatusFacts(runner_mode=runner_mode.mode, conflict=conflicts.get(mapping.name))
        status = mapping_status_patch(mapping, runtime.settings, facts, body.get("status") or {}, runtime.clock())
        patch.status.update(status)

    return registry
