"""Conditions written by server-side apply, one field manager per writer.

Every kind's `status.conditions` is a list keyed by `type` (`x-kubernetes-list-type: map`), so a
writer that applies only its own conditions under its own field manager sets them without touching
anyone else's; applying an empty list takes its own away. A merge patch would replace the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.kube.client import KubeClient, KubeObject
from controller.kube.kinds import ApiResource


async def apply_conditions(
    kube: KubeClient,
    resource: ApiResource,
    namespace: str,
    name: str,
    conditions: Sequence[Mapping[str, Any]],
    field_manager: str,
) -> KubeObject:
    """Make `conditions` the ones `field_manager` owns on the object's status."""
    body = {"metadata": {"name": name}, "status": {"conditions": [dict(condition) for condition in conditions]}}
    return await kube.apply(resource, namespace, body, field_manager, force=True, subresource="status")
