"""Every name the controller shares with the cluster: API group, kinds, labels, finalizers.

Kept in one module so that a rename is one edit and a grep finds every user.
"""

from typing import Final

GROUP: Final = "ai-implement.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "ai-implement"

PROJECT_MAPPING_KIND: Final = "ProjectMapping"
PROJECT_MAPPING_PLURAL: Final = "projectmappings"
DISPATCH_KIND: Final = "Dispatch"
DISPATCH_PLURAL: Final = "dispatches"
RUNNER_SESSION_KIND: Final = "RunnerSession"
RUNNER_SESSION_PLURAL: Final = "runnersessions"

LABEL_TEAM: Final = f"{GROUP}/team"
LABEL_ISSUE: Final = f"{GROUP}/issue"
LABEL_DISPATCH: Final = f"{GROUP}/dispatch"
LABEL_KIND: Final = f"{GROUP}/kind"
ANNOTATION_NEW_JOB: Final = f"{GROUP}/new-job"
"""On a Dispatch that started a new job, so that a crash-repair can still open its dedup window."""
FINALIZER: Final = f"{GROUP}/finalizer"
"""kopf's finalizer: on an open Dispatch while it is followed, on a RunnerSession until its backend is gone."""
FINALIZER_BEFORE_KOPF: Final = f"{GROUP}/destroy-backend"
"""The RunnerSession finalizer of releases before kopf reconciled sessions; removed when such a session goes."""

FIELD_MANAGER: Final = "ai-implement"
FIELD_MANAGER_MAPPINGS: Final = "ai-implement-mappings"
"""Owns a mapping's Ready and CredentialsResolved conditions, effective runner mode and iteration cap."""
FIELD_MANAGER_POLLER: Final = "ai-implement-poller"
"""Owns a mapping's inProgress and blocked counts."""
FIELD_MANAGER_WORKFLOWS: Final = "ai-implement-workflows"
"""Owns a mapping's WorkflowsInSync condition and workflowTemplate."""
FIELD_MANAGER_RUNS: Final = "ai-implement-runs"
"""Owns a Dispatch's ShadowRunStarted condition."""
FIELD_MANAGER_SESSIONS: Final = "ai-implement-sessions"
"""Owns a Dispatch's ShadowRunFinished condition."""
FIELD_MANAGER_ERRORS: Final = "ai-implement-errors"
"""Owns the Reconciled condition a permanent error sets on any kind."""

SETTING_RUNNER_MODE: Final = "runnerMode"
SETTING_FLY_SESSIONS_APP: Final = "flySessionsApp"
SETTING_FLY_SESSIONS_REGION: Final = "flySessionsRegion"
SETTING_ADMIN_TOKEN_SECRET: Final = "adminTokenInstallationSecret"
