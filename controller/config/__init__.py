"""Configuration: the environment variables the controller reads, their checks and their documentation.

Load once at start-up with `load_settings()`, which reads the environment over the dotenv file over
the client file `clients/<CLIENT_SLUG>.toml`; it raises `ConfigurationError` listing every bad
variable. `render_config_check()` is the text of `ai-implement config check`, `missing_for_mapping()`
says what one project mapping still needs, and `python -m controller.config` prints the reference.
"""

from controller.config.docs import settings_reference_markdown, with_settings_table
from controller.config.problems import ConfigProblem, ConfigurationError
from controller.config.report import (
    ConfigEntry,
    effective_configuration,
    operational_problems,
    production_problems,
    render_config_check,
)
from controller.config.requirements import bedrock_kept_off_fly, effective_execution_mode, missing_for_mapping
from controller.config.settings import (
    Environment,
    LogLevel,
    NotifyType,
    RunnerMode,
    SecretsBackend,
    Section,
    Settings,
    load_settings,
)
from controller.config.sources import ClientFile, ValueOrigin, ValueSource

__all__ = [
    "ClientFile",
    "ConfigEntry",
    "ConfigProblem",
    "ConfigurationError",
    "Environment",
    "LogLevel",
    "NotifyType",
    "RunnerMode",
    "SecretsBackend",
    "Section",
    "Settings",
    "ValueOrigin",
    "ValueSource",
    "bedrock_kept_off_fly",
    "effective_configuration",
    "effective_execution_mode",
    "load_settings",
    "missing_for_mapping",
    "operational_problems",
    "production_problems",
    "render_config_check",
    "settings_reference_markdown",
    "with_settings_table",
]
