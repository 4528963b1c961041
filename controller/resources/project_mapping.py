"""ProjectMapping: one ticketing scope (a Linear team or a Jira JQL clause) mapped to one repository."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from controller.resources.base import (
    CONDITIONS_SCHEMA_EXTRA,
    PRINTABLE_TEXT,
    Condition,
    ResourceModel,
    StatusModel,
    cel,
    defaulted_object,
    refuse_booleans,
)
from controller.resources.jql_rules import ORDER_BY_PATTERN, jql_problem

TicketingProvider = Literal["linear", "jira"]
ExecutionMode = Literal["github-actions", "fly-machines", "local"]
ModelProvider = Literal["anthropic", "bedrock"]
TemplateState = Literal["current", "stale", "missing", "unknown"]

TEAM_KEY_PATTERN = r"^[A-Z]([A-Z0-9_]{0,30}[A-Z0-9])?$"
DEFAULT_MAX_ITERATIONS: dict[ModelProvider, int] = {"bedrock": 2, "anthropic": 3}


def _when(condition: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema twin of a CEL rule, for OpenAPI clients; the CRD carries the CEL rule itself."""
    return {"if": {"required": list(condition), "properties": condition}, "then": then}


def _present(field: str) -> dict[str, Any]:
    """The field is given as an object (null counts as absent, as the API reads it)."""
    return {"required": [field], "properties": {field: {"type": "object"}}}


class LinearScope(ResourceModel):
    """Which Linear team's tickets belong to this mapping."""

    team_key: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9]{0,9}$",
        max_length=10,
        description="The Linear team key (e.g. ENG). Defaults to spec.teamKey.",
    )


class JiraScope(ResourceModel):
    """Which Jira tickets belong to this mapping, and how a combined search routes them back."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"!self.jql.matches(r'{ORDER_BY_PATTERN}')",
                    "ticketing.jira.jql must not have an ORDER BY: it only selects tickets",
                    field_path=".jql",
                ),
            ]
        }
    )

    jql: str = Field(
        min_length=1,
        max_length=4096,
        pattern=PRINTABLE_TEXT,
        description="JQL selecting this mapping's tickets; the controller adds the AI label clause. Its "
        "parentheses must balance (it is placed inside a pair of its own) and it has no ORDER BY.",
    )
    repo_field: str = Field(
        min_length=1,
        max_length=255,
        pattern=PRINTABLE_TEXT,
        description="The Jira field (e.g. customfield_10042) whose value names the target repository.",
    )
    repo_field_value: str = Field(
        min_length=1,
        max_length=255,
        pattern=PRINTABLE_TEXT,
        description="The value of repoField that routes a ticket to this mapping.",
    )

    @field_validator("jql")
    @classmethod
    def _jql_stays_in_its_parentheses(cls, value: str, info: ValidationInfo) -> str:
        if (info.context or {}).get("stored"):
            return value  # read back from the cluster: the poller judges it (controller.resources.jql_rules)
        problem = jql_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Ticketing(ResourceModel):
    """Where the tickets come from."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when(
                    {"provider": {"const": "jira"}},
                    {"required": ["jira"], "properties": {"jira": {"type": "object"}}, "not": _present("linear")},
                ),
                _when({"provider": {"const": "linear"}}, {"not": _present("jira")}),
            ],
            "x-kubernetes-validations": [
                cel(
                    "self.provider != 'jira' || has(self.jira)",
                    "ticketing.jira (jql, repoField, repoFieldValue) is required when provider is jira",
                ),
                cel(
                    "self.provider != 'linear' || !has(self.jira)",
                    "ticketing.jira must not be set when provider is linear",
                ),
                cel(
                    "self.provider != 'jira' || !has(self.linear)",
                    "ticketing.linear must not be set when provider is jira",
                ),
            ],
        }
    )

    provider: TicketingProvider = Field(description="The ticketing system: linear or jira.")
    linear: LinearScope | None = Field(default=None, description="Linear scope; used when provider is linear.")
    jira: JiraScope | None = Field(default=None, description="Jira scope; required when provider is jira.")


class Source(ResourceModel):
    """The GitHub repository the agent works in."""

    owner: str = Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$",
        max_length=39,
        description="GitHub owner (organisation or user) of the target repository.",
    )
    repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$", max_length=100, description="Name of the target repository.")
    default_branch: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9._/-]+$",
        description="The repository's primary branch (commonly main, master or development). Required.",
    )


class Runner(ResourceModel):
    """Where the agent runs."""

    execution_mode: ExecutionMode = Field(
        default="github-actions",
        description=(
            "github-actions (workflow_dispatch in the target repo), fly-machines (a Fly Machine per run) "
            "or local (a Docker container on the controller's host, for development). "
            "RUNNER_MODE or the runner mode set through the admin API can override it."
        ),
    )
    session_image: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$",
        description="Container image for Fly and local sessions. A repo's .ai-implement/image.yml wins "
        "over it; SESSION_IMAGE applies when neither is set.",
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{3}$",
        max_length=3,
        description="Fly region for this mapping's machines; defaults to FLY_SESSIONS_REGION.",
    )


class Provider(ResourceModel):
    """Which model provider the agent authenticates with."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when(
                    {"name": {"const": "bedrock"}},
                    {"required": ["awsRegion"], "properties": {"awsRegion": {"type": "string"}}},
                )
            ],
            "x-kubernetes-validations": [
                cel(
                    "self.name != 'bedrock' || (has(self.awsRegion) && self.awsRegion != '')",
                    "provider.awsRegion is required when provider.name is bedrock",
                    field_path=".awsRegion",
                )
            ],
        }
    )

    name: ModelProvider = Field(default="anthropic", description="anthropic or bedrock.")
    aws_region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$",
        max_length=32,
        description="AWS region of the Bedrock endpoint (e.g. us-east-1). Required for bedrock.",
    )


class Capacity(ResourceModel):
    """How much this mapping may run at once, and how long and how far each run may go."""

    max_in_progress_ai_issues: int = Field(
        default=1,
        ge=0,
        le=100,
        description="Concurrency cap: tickets of this mapping in progress at once. 0 stops new dispatches.",
    )
    max_turns: int = Field(default=50, ge=1, le=1000, description="Maximum agent conversation turns per run.")
    max_iterations: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Maximum review iterations per pull request. Blank: 2 for bedrock, 3 for anthropic.",
    )
    max_job_minutes: int = Field(
        default=90, ge=1, le=1440, description="Wall-clock timeout of a run before it is ended as TimedOut."
    )

    _whole_numbers = field_validator("*", mode="before")(refuse_booleans)


class Planning(ResourceModel):
    """Whether a planning run precedes implementation."""

    enabled: bool = Field(default=True, strict=True, description="Run a planning pass before the implementation run.")
    approval_label: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=PRINTABLE_TEXT,
        description="When set, implementation waits after planning until a person adds this label.",
    )


class ProjectMappingSpec(ResourceModel):
    """Desired state of a mapping from a ticketing scope to a GitHub repository."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["provider", "runner"],
                "properties": {
                    "provider": {"required": ["name"], "properties": {"name": {"const": "bedrock"}}},
                    "runner": {
                        "required": ["executionMode"],
                        "properties": {"executionMode": {"const": "fly-machines"}},
                    },
                },
            },
            "x-kubernetes-validations": [
                cel(
                    "!(self.provider.name == 'bedrock' && self.runner.executionMode == 'fly-machines')",
                    "provider bedrock cannot use runner.executionMode fly-machines",
                ),
                cel("self.teamKey == oldSelf.teamKey", "teamKey is immutable", field_path=".teamKey"),
            ],
        }
    )

    team_key: str = Field(
        pattern=TEAM_KEY_PATTERN,
        max_length=32,
        description="The mapping's key: upper-case letters, digits and underscores. Prefixes the team's "
        "secrets (MY_TOKEN of ENG is stored as ENG_MY_TOKEN). metadata.name must be its lower-case form "
        "with _ written as -.",
    )
    ticketing: Ticketing = Field(description="Where the tickets come from.")
    source: Source = Field(description="The target GitHub repository.")
    runner: Runner = defaulted_object(Runner, "Where the agent runs.")
    provider: Provider = defaulted_object(Provider, "The model provider.")
    capacity: Capacity = defaulted_object(Capacity, "Concurrency and run caps.")
    planning: Planning = defaulted_object(Planning, "Planning before implementation.")
    paused: bool = Field(default=False, strict=True, description="A paused mapping dispatches nothing new.")


class ProjectMappingStatus(StatusModel):
    """Observed state of a mapping, written by the controller."""

    observed_generation: int | None = Field(default=None, description="The spec generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready, CredentialsResolved and WorkflowsInSync, each with a reason and message.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )
    in_progress: int | None = Field(default=None, ge=0, description="Tickets of this mapping in progress now.")
    blocked: int | None = Field(default=None, ge=0, description="Eligible tickets held back now.")
    effective_runner_mode: str | None = Field(
        default=None, max_length=32, description="The runner mode in force after global overrides."
    )
    effective_runner_mode_note: str | None = Field(
        default=None,
        max_length=512,
        description="Why the effective runner mode is not the global one, e.g. Bedrock kept off Fly Machines.",
    )
    effective_max_iterations: int | None = Field(
        default=None, ge=1, description="capacity.maxIterations, or the provider's default when blank."
    )
    workflow_template: TemplateState | None = Field(
        default=None, description="Whether the target repo's workflow files match the current templates."
    )


def effective_max_iterations(spec: ProjectMappingSpec) -> int:
    """The review-iteration cap: the mapping's own, else the provider's default."""
    if spec.capacity.max_iterations is not None:
        return spec.capacity.max_iterations
    return DEFAULT_MAX_ITERATIONS[spec.provider.name]


def mapping_name_for(team_key: str) -> str:
    """The resource name of a team key's mapping (names cannot hold upper case or underscores)."""
    return team_key.lower().replace("_", "-")
