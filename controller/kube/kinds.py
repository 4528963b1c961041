"""The resource kinds the controller reads and writes, described by where they live in the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from controller import constants


@dataclass(frozen=True)
class ApiResource:
    """One kind's address in the API: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` else."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """The `apiVersion` objects of this kind carry: `v1` for the core group, `group/version` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path_prefix(self) -> tuple[str, ...]:
        """The path segments before any namespace, as the core group sits apart from named groups."""
        return ("apis", self.group, self.version) if self.group else ("api", self.version)


PROJECT_MAPPINGS: Final = ApiResource(
    constants.GROUP, constants.VERSION, constants.PROJECT_MAPPING_KIND, constants.PROJECT_MAPPING_PLURAL
)
DISPATCHES: Final = ApiResource(constants.GROUP, constants.VERSION, constants.DISPATCH_KIND, constants.DISPATCH_PLURAL)
RUNNER_SESSIONS: Final = ApiResource(
    constants.GROUP, constants.VERSION, constants.RUNNER_SESSION_KIND, constants.RUNNER_SESSION_PLURAL
)
SECRETS: Final = ApiResource("", "v1", "Secret", "secrets")
LEASES: Final = ApiResource("coordination.k8s.io", "v1", "Lease", "leases")
EVENTS: Final = ApiResource("", "v1", "Event", "events")
