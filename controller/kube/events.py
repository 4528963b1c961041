"""Kubernetes Events on our objects, so that `kubectl describe` tells what happened to them and why.

Events are a courtesy to people, never part of a decision: posting one costs one request, and a
failed post is logged and forgotten, never failing the caller. Messages are cut to the API
server's 1 KiB limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from controller.clock import kube_timestamp
from controller.kube.client import KubeClient
from controller.kube.errors import KubeError
from controller.kube.kinds import EVENTS, ApiResource

logger = logging.getLogger("controller.kube")

MESSAGE_LIMIT: Final = 1024
TRUNCATED: Final = "… (truncated)"


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


def event_body(
    resource: ApiResource,
    involved: Mapping[str, Any],
    event_type: EventType,
    reason: str,
    message: str,
    *,
    component: str,
    instance: str,
    now: datetime,
) -> dict[str, Any]:
    """A core/v1 Event about `involved`, an object of `resource` as the API server returned it.

    Its kind comes from `resource`, since objects in a list answer carry no `kind` or `apiVersion`.
    """
    metadata = involved["metadata"]
    stamp = kube_timestamp(now)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - len(TRUNCATED)] + TRUNCATED
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
        "involvedObject": {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata.get("uid", ""),
        },
        "type": event_type.value,
        "reason": reason,
        "message": message,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
    }


@dataclass(frozen=True)
class EventRecorder:
    """Posts Events as one component (`ai-implement-operator`) from one replica (`instance`)."""

    kube: KubeClient
    component: str
    instance: str

    async def record(
        self,
        resource: ApiResource,
        involved: Mapping[str, Any],
        event_type: EventType,
        reason: str,
        message: str,
        now: datetime,
    ) -> None:
        body = event_body(
            resource, involved, event_type, reason, message, component=self.component, instance=self.instance, now=now
        )
        try:
            await self.kube.create(EVENTS, body["metadata"]["namespace"], body)
        except KubeError as error:
            logger.warning("could not post the %s event on %s: %s", reason, involved["metadata"]["name"], error)
