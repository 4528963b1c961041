"""The custom resources: their pydantic models, and the CRDs generated from them."""

from controller.resources.crd import ALL_KINDS, DISPATCH, PROJECT_MAPPING, RUNNER_SESSION, ResourceKind
from controller.resources.dispatch import DispatchSpec, DispatchStatus, dispatch_name_for, is_terminal
from controller.resources.project_mapping import (
    ProjectMappingSpec,
    ProjectMappingStatus,
    effective_max_iterations,
    mapping_name_for,
)
from controller.resources.runner_session import RunnerSessionSpec, RunnerSessionStatus

__all__ = [
    "ALL_KINDS",
    "DISPATCH",
    "PROJECT_MAPPING",
    "RUNNER_SESSION",
    "DispatchSpec",
    "DispatchStatus",
    "ProjectMappingSpec",
    "ProjectMappingStatus",
    "ResourceKind",
    "RunnerSessionSpec",
    "RunnerSessionStatus",
    "dispatch_name_for",
    "effective_max_iterations",
    "is_terminal",
    "mapping_name_for",
]
