"""Installing the project's CRDs on a cluster and waiting until they are served."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from controller import constants
from controller.devcluster.errors import ControlPlaneError
from controller.resources import ALL_KINDS
from controller.resources.crd import crd_document


def install_crds(api_client: client.ApiClient, *, timeout: float = 60.0) -> None:
    """Server-side apply every CRD, then wait for Established so that the kinds can be used at once."""
    extensions = client.ApiextensionsV1Api(api_client)
    documents = [crd_document(kind) for kind in ALL_KINDS]
    for document in documents:
        extensions.patch_custom_resource_definition(
            name=document["metadata"]["name"],
            body=document,
            field_manager=constants.FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
    deadline = time.monotonic() + timeout
    pending = {document["metadata"]["name"] for document in documents}
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            crd = extensions.read_custom_resource_definition(name)
            if _is_established(crd.to_dict()):
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise ControlPlaneError(f"CRDs not established after {timeout:.0f}s: {', '.join(sorted(pending))}")


def _is_established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
