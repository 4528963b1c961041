"""The new-project stepper's form: eight steps, each field's place in the ProjectMapping spec. Pure.

The form is flat (one name per field, carried from step to step in hidden inputs); `spec_of` turns
it into the spec the API takes, and `field_of_error` maps a validation error (pydantic's location,
or the API server's `spec.…` field path) back onto the form field beside which it is shown. Later
steps not filled yet are given placeholders, so that a step is checked by the real rules alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    title: str
    fields: tuple[str, ...]


STEPS: Final = (
    Step(
        1, "Ticketing system", ("teamKey", "ticketingProvider", "linearTeamKey", "jql", "repoField", "repoFieldValue")
    ),
    Step(2, "Source", ("owner", "repo", "defaultBranch")),
    Step(3, "Runner", ("executionMode", "sessionImage")),
    Step(4, "Provider", ("providerName", "awsRegion")),
    Step(
        5,
        "Capacity",
        ("maxInProgressAiIssues", "maxTurns", "maxIterations", "maxJobMinutes", "planningEnabled", "approvalLabel"),
    ),
    Step(
        6,
        "Secrets",
        (
            "secretName1",
            "secretValue1",
            "sealedSecret1",
            "secretName2",
            "secretValue2",
            "sealedSecret2",
            "secretName3",
            "secretValue3",
            "sealedSecret3",
        ),
    ),
    Step(7, "Review", ()),
    Step(8, "Create", ()),
)
TICKETING_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "linear": ("linearTeamKey",),
    "jira": ("jql", "repoField", "repoFieldValue"),
}
"""Step 1's fields that belong to one ticketing system: asked for only when it is the one chosen."""
LAST_INPUT_STEP: Final = 7
SECRET_ROWS: Final = 3
DEFAULTS: Final[Mapping[str, str]] = {
    "ticketingProvider": "linear",
    "defaultBranch": "main",
    "executionMode": "github-actions",
    "providerName": "anthropic",
    "maxInProgressAiIssues": "1",
    "maxTurns": "50",
    "maxJobMinutes": "90",
    "planningEnabled": "true",
}
PLACEHOLDERS: Final[Mapping[str, str]] = {"owner": "placeholder", "repo": "placeholder"}
"""What a later, unfilled step stands in with while an earlier one is checked."""

_LOCATIONS: Final[Mapping[tuple[str, ...], str]] = {
    ("teamKey",): "teamKey",
    ("ticketing", "provider"): "ticketingProvider",
    ("ticketing", "linear", "teamKey"): "linearTeamKey",
    ("ticketing", "jira"): "jql",
    ("ticketing", "jira", "jql"): "jql",
    ("ticketing", "jira", "repoField"): "repoField",
    ("ticketing", "jira", "repoFieldValue"): "repoFieldValue",
    ("ticketing",): "jql",
    ("source", "owner"): "owner",
    ("source", "repo"): "repo",
    ("source", "defaultBranch"): "defaultBranch",
    ("runner", "executionMode"): "executionMode",
    ("runner", "sessionImage"): "sessionImage",
    ("runner",): "executionMode",
    ("provider", "name"): "providerName",
    ("provider", "awsRegion"): "awsRegion",
    ("provider",): "awsRegion",
    ("capacity", "maxInProgressAiIssues"): "maxInProgressAiIssues",
    ("capacity", "maxTurns"): "maxTurns",
    ("capacity", "maxIterations"): "maxIterations",
    ("capacity", "maxJobMinutes"): "maxJobMinutes",
    ("planning", "enabled"): "planningEnabled",
    ("planning", "approvalLabel"): "approvalLabel",
}


def step_of_field(field: str) -> int:
    return next((step.number for step in STEPS if field in step.fields), LAST_INPUT_STEP)


def shown_fields(step: int, values: Mapping[str, str]) -> tuple[str, ...]:
    """The fields step `step` asks for; the others ride along unseen."""
    chosen = values.get("ticketingProvider", DEFAULTS["ticketingProvider"])
    other_systems = {name for system, names in TICKETING_FIELDS.items() if system != chosen for name in names}
    return tuple(name for name in STEPS[step - 1].fields if name not in other_systems)


def values_of(form: Mapping[str, str]) -> dict[str, str]:
    """The stepper's own fields, trimmed, with the defaults for those never filled."""
    names = {name for step in STEPS for name in step.fields}
    values = {name: str(form[name]).strip() for name in names if name in form}
    return {**DEFAULTS, **values}


def spec_of(values: Mapping[str, str], up_to: int) -> dict[str, Any]:
    """The spec (API wire format) of steps 1..`up_to`; later steps take their placeholders or defaults."""

    def given(name: str) -> str:
        value = values.get(name, "")
        if not value and step_of_field(name) > up_to:
            return PLACEHOLDERS.get(name, DEFAULTS.get(name, ""))
        return value

    provider = given("ticketingProvider")
    ticketing: dict[str, Any] = {"provider": provider}
    if provider == "linear" and given("linearTeamKey"):
        ticketing["linear"] = {"teamKey": given("linearTeamKey")}
    if provider == "jira" and (given("jql") or given("repoField") or given("repoFieldValue")):
        ticketing["jira"] = {
            "jql": given("jql"),
            "repoField": given("repoField"),
            "repoFieldValue": given("repoFieldValue"),
        }
    spec: dict[str, Any] = {
        "teamKey": given("teamKey"),
        "ticketing": ticketing,
        "source": {"owner": given("owner"), "repo": given("repo"), "defaultBranch": given("defaultBranch")},
        "runner": _without_blanks({"executionMode": given("executionMode"), "sessionImage": given("sessionImage")}),
        "provider": _without_blanks({"name": given("providerName"), "awsRegion": given("awsRegion")}),
        "capacity": _without_blanks(
            {
                "maxInProgressAiIssues": _number(given("maxInProgressAiIssues")),
                "maxTurns": _number(given("maxTurns")),
                "maxIterations": _number(given("maxIterations")),
                "maxJobMinutes": _number(given("maxJobMinutes")),
            }
        ),
        "planning": _without_blanks(
            {"enabled": given("planningEnabled") == "true", "approvalLabel": given("approvalLabel")}
        ),
    }
    return spec


def secret_names(values: Mapping[str, str]) -> list[str]:
    return [name for row in range(1, SECRET_ROWS + 1) if (name := values.get(f"secretName{row}", ""))]


def secret_problems(values: Mapping[str, str]) -> dict[str, str]:
    """A name without a value (typed now, or sealed earlier) and a value without a name."""
    problems = {}
    for row in range(1, SECRET_ROWS + 1):
        name = values.get(f"secretName{row}", "")
        value = values.get(f"secretValue{row}", "") or values.get(f"sealedSecret{row}", "")
        if value and not name:
            problems[f"secretName{row}"] = "Give the secret a name, e.g. MY_TOKEN."
        if name and not value:
            problems[f"secretValue{row}"] = f"Give {name} a value, or clear its name."
    return problems


def field_of_error(location: Sequence[str | int]) -> str | None:
    """The form field of a pydantic error location (`("provider", "awsRegion")`) or API field path."""
    parts = tuple(str(part) for part in location if str(part) != "spec")
    while parts:
        if parts in _LOCATIONS:
            return _LOCATIONS[parts]
        parts = parts[:-1]
    return None


def field_of_path(path: str) -> str | None:
    """The form field of the API server's `spec.provider.awsRegion`-style field path."""
    return field_of_error([part for part in path.replace("[", ".").replace("]", "").split(".") if part])


def _number(text: str) -> int | str | None:
    if not text:
        return None
    return int(text) if text.isdigit() else text


def _without_blanks(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}
