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
FINALIZER_RUNNER_SESSION: Final = f"{GROUP}/destroy-backend"

FIELD_MANAGER: Final = "ai-implement"

SETTING_RUNNER_MODE: Final = "runnerMode"
SETTING_FLY_SESSIONS_APP: Final = "flySessionsApp"
SETTING_FLY_SESSIONS_REGION: Final = "flySessionsRegion"
SETTING_ADMIN_TOKEN_SECRET: Final = "adminTokenInstallationSecret"
