"""Async access to the Kubernetes API: connection, client, errors and watched caches (informers)."""

from controller.kube.client import (
    DeletePreconditions,
    KubeClient,
    KubeObject,
    ObjectList,
    PropagationPolicy,
    WatchEvent,
    WatchEventType,
)
from controller.kube.conditions import apply_conditions
from controller.kube.connection import (
    KubeConnection,
    connection_from_kubeconfig,
    connection_in_cluster,
    connection_to,
    load_connection,
)
from controller.kube.errors import (
    AlreadyExistsError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidError,
    KubeApiError,
    KubeConfigError,
    KubeError,
    KubeUnavailableError,
    NotFoundError,
    StatusCause,
    UnauthorizedError,
)
from controller.kube.events import EventRecorder, EventType
from controller.kube.informer import ChangeCallback, ChangeType, Informer, WatchingClient
from controller.kube.kinds import DISPATCHES, EVENTS, LEASES, PROJECT_MAPPINGS, RUNNER_SESSIONS, SECRETS, ApiResource

__all__ = [
    "DISPATCHES",
    "EVENTS",
    "LEASES",
    "PROJECT_MAPPINGS",
    "RUNNER_SESSIONS",
    "SECRETS",
    "AlreadyExistsError",
    "ApiResource",
    "ChangeCallback",
    "ChangeType",
    "ConflictError",
    "DeletePreconditions",
    "EventRecorder",
    "EventType",
    "ForbiddenError",
    "GoneError",
    "Informer",
    "InvalidError",
    "KubeApiError",
    "KubeClient",
    "KubeConfigError",
    "KubeConnection",
    "KubeError",
    "KubeObject",
    "KubeUnavailableError",
    "NotFoundError",
    "ObjectList",
    "PropagationPolicy",
    "StatusCause",
    "UnauthorizedError",
    "WatchEvent",
    "WatchEventType",
    "WatchingClient",
    "apply_conditions",
    "connection_from_kubeconfig",
    "connection_in_cluster",
    "connection_to",
    "load_connection",
]
