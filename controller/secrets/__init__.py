"""Runner secrets: naming rules, and the Kubernetes Secret that keeps them."""

from controller.secrets.backends import (
    RUNNER_SECRETS_NAME,
    KubernetesSecretBackend,
    SecretBackend,
    SecretBackendError,
    SecretInfo,
)
from controller.secrets.naming import (
    SECRET_NAME_PATTERN,
    SecretNameError,
    check_global_secret_name,
    check_secret_name,
    global_secret_names,
    names_by_owner,
    owning_team,
    runner_environment,
    stored_team_secret_name,
    team_secret_names,
)

__all__ = [
    "RUNNER_SECRETS_NAME",
    "SECRET_NAME_PATTERN",
    "KubernetesSecretBackend",
    "SecretBackend",
    "SecretBackendError",
    "SecretInfo",
    "SecretNameError",
    "check_global_secret_name",
    "check_secret_name",
    "global_secret_names",
    "names_by_owner",
    "owning_team",
    "runner_environment",
    "stored_team_secret_name",
    "team_secret_names",
]
