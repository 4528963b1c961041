"""Workflow files as GitHub reads them on a dispatch, and the `created` filter of the run listings.

A dispatch reads the workflow file at the dispatched ref: its `on:` must name `workflow_dispatch`,
the inputs given must be declared there (at most 25), required ones must be given or defaulted, and
`run-name:` is rendered with the inputs into the run's `display_title`. Only the `inputs.*` (and
`github.event.inputs.*`) expressions are evaluated; any other expression renders as nothing.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import yaml

from controller.sandbox.base import Rejection

MAX_INPUTS: Final = 25
INPUT_TYPES: Final = frozenset({"string", "boolean", "choice", "number", "environment"})
_EXPRESSION: Final = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_INPUT_REFERENCE: Final = re.compile(r"(?:github\.event\.)?inputs\.([A-Za-z_][A-Za-z0-9_-]*)")
NO_DISPATCH_TRIGGER: Final = "Workflow does not have 'workflow_dispatch' trigger"


@dataclass(frozen=True)
class InputSpec:
    """One declared `workflow_dispatch` input."""

    required: bool = False
    default: str | None = None
    type: str = "string"
    options: tuple[str, ...] = ()
    description: str = ""

    def as_yaml(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"description": self.description or "", "required": self.required, "type": self.type}
        if self.default is not None:
            spec["default"] = self.default
        if self.options:
            spec["options"] = list(self.options)
        return spec


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str | None
    run_name: str | None
    dispatch_inputs: dict[str, InputSpec] | None
    """None when the workflow has no `workflow_dispatch` trigger (or does not parse)."""


@functools.lru_cache(maxsize=256)
def parse_workflow(text: str) -> WorkflowDefinition:
    """The parts of a workflow file a dispatch needs; a file that does not parse cannot be dispatched.

    Once per text: every dispatch reads the same few files, and parsing each again made the sandbox the
    bottleneck of the throughput benchmarks. The answer is shared, so callers only read it.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return WorkflowDefinition(None, None, None)
    if not isinstance(document, dict):
        return WorkflowDefinition(None, None, None)
    name = document.get("name")
    run_name = document.get("run-name")
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers = document.get("on", document.get(True))
    return WorkflowDefinition(
        name=name if isinstance(name, str) else None,
        run_name=run_name if isinstance(run_name, str) else None,
        dispatch_inputs=_dispatch_inputs(triggers),
    )


def _dispatch_inputs(triggers: Any) -> dict[str, InputSpec] | None:
    if triggers == "workflow_dispatch" or (isinstance(triggers, list) and "workflow_dispatch" in triggers):
        return {}
    if not isinstance(triggers, dict) or "workflow_dispatch" not in triggers:
        return None
    declared = (triggers["workflow_dispatch"] or {}).get("inputs") or {}
    inputs = {}
    for name, spec in declared.items():
        spec = spec or {}
        default = spec.get("default")
        inputs[str(name)] = InputSpec(
            required=bool(spec.get("required", False)),
            default=_as_text(default) if default is not None else None,
            type=str(spec.get("type", "string")),
            options=tuple(str(option) for option in spec.get("options") or ()),
            description=str(spec.get("description", "")),
        )
    return inputs


def checked_inputs(definition: WorkflowDefinition, given: Any) -> dict[str, str]:
    """The inputs of a dispatch as the run sees them (defaults filled in), or GitHub's 422."""
    if definition.dispatch_inputs is None:
        raise Rejection(422, NO_DISPATCH_TRIGGER)
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise Rejection(422, "Invalid request.\n\nFor 'properties/inputs', is not an object.")
    if len(given) > MAX_INPUTS:
        raise Rejection(422, f"you may only define up to {MAX_INPUTS} `inputs` for a `workflow_dispatch` event")
    declared = definition.dispatch_inputs
    unexpected = sorted(name for name in given if name not in declared)
    if unexpected:
        raise Rejection(422, "Unexpected inputs provided: [" + ", ".join(f'"{name}"' for name in unexpected) + "]")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in given:
            values[name] = _checked_value(name, given[name], spec)
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.required:
            raise Rejection(422, f"Required input '{name}' not provided")
    return values


def _checked_value(name: str, value: Any, spec: InputSpec) -> str:
    if isinstance(value, dict | list) or value is None:
        raise Rejection(422, f"Invalid request.\n\nFor 'properties/{name}', {value!r} is not a string.")
    text = _as_text(value)
    if spec.type == "choice" and text not in spec.options:
        raise Rejection(422, f"Provided value '{text}' for input '{name}' not in the list of allowed values")
    if spec.type == "boolean" and text not in ("true", "false"):
        raise Rejection(422, f"Provided value '{text}' for input '{name}' is not a boolean")
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_run_name(template: str | None, inputs: Mapping[str, str], *, fallback: str) -> str:
    """The run's `display_title`: `run-name:` with its `inputs.*` expressions filled in, else `fallback`."""
    if not template:
        return fallback

    def value_of(match: re.Match[str]) -> str:
        reference = _INPUT_REFERENCE.fullmatch(match.group(1))
        return inputs.get(reference.group(1), "") if reference else ""

    return _EXPRESSION.sub(value_of, template).strip() or fallback


def workflow_yaml(*, name: str, run_name: str | None, inputs: Mapping[str, InputSpec], dispatchable: bool) -> str:
    """A workflow file with one job, for seeding: what `parse_workflow` reads back."""
    triggers: dict[str, Any] = {"push": {"branches": ["never-pushed-to"]}}
    if dispatchable:
        triggers["workflow_dispatch"] = {"inputs": {key: spec.as_yaml() for key, spec in inputs.items()}}
    document: dict[str, Any] = {"name": name}
    if run_name:
        document["run-name"] = run_name
    document["on"] = triggers
    document["jobs"] = {"run": {"runs-on": "ubuntu-latest", "steps": [{"run": "echo sandbox"}]}}
    return yaml.safe_dump(document, sort_keys=False)


_COMPARISONS: Final[tuple[tuple[str, Callable[[float, float], bool], bool], ...]] = (
    (">=", operator.ge, False),
    ("<=", operator.le, True),
    (">", operator.gt, True),
    ("<", operator.lt, False),
)
"""Operator, comparison, and whether a bare date stands for its last moment (so `<=day` includes it)."""


def created_matcher(expression: str) -> Callable[[float], bool]:
    """GitHub's `created` search qualifier: `>=T`, `>T`, `<=T`, `<T`, `A..B` (`*` open) or a bare date."""
    text = expression.strip()
    if ".." in text:
        start, _, end = text.partition("..")
        low = None if start == "*" else _moment(start, last=False)
        high = None if end == "*" else _moment(end, last=True)
        return lambda moment: (low is None or moment >= low) and (high is None or moment <= high)
    for symbol, compare, last in _COMPARISONS:
        if text.startswith(symbol):
            bound = _moment(text[len(symbol) :], last=last)
            return lambda moment: compare(moment, bound)
    low, high = _moment(text, last=False), _moment(text, last=True)
    return lambda moment: low <= moment <= high


def _moment(text: str, *, last: bool) -> float:
    """An instant in epoch seconds; a bare date is its first second, or its last when `last`."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return (day + timedelta(days=1, seconds=-1)).timestamp() if last else day.timestamp()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Rejection(422, f"Invalid created filter: {text!r} is not a date or time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
