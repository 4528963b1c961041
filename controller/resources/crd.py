"""CustomResourceDefinitions generated from the pydantic models, the one source of truth.

`crds/*.yaml` is this module's output, checked in so that `kubectl apply -f crds/` works
without Python; a test fails when the two drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel

from controller import constants
from controller.resources.base import cel
from controller.resources.dispatch import DispatchSpec, DispatchStatus
from controller.resources.project_mapping import ProjectMappingSpec, ProjectMappingStatus
from controller.resources.runner_session import RunnerSessionSpec, RunnerSessionStatus

JsonSchema = dict[str, Any]

_KEPT_KEYWORDS = {
    "type",
    "description",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "format",
    "required",
}


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `kubectl get`."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def to_wire(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


@dataclass(frozen=True)
class ResourceKind:
    """Everything needed to declare one custom resource kind."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    printer_columns: tuple[PrinterColumn, ...]
    root_validations: tuple[dict[str, Any], ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{constants.GROUP}"


_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

PROJECT_MAPPING = ResourceKind(
    kind=constants.PROJECT_MAPPING_KIND,
    plural=constants.PROJECT_MAPPING_PLURAL,
    short_names=("pmap",),
    description="Maps a ticketing scope (a Linear team or a Jira JQL clause) to a GitHub repository "
    "and says how AI-Implement dispatches agent runs for it.",
    spec=ProjectMappingSpec,
    status=ProjectMappingStatus,
    printer_columns=(
        PrinterColumn("Team", ".spec.teamKey"),
        PrinterColumn("Ticketing", ".spec.ticketing.provider"),
        PrinterColumn("Owner", ".spec.source.owner"),
        PrinterColumn("Repo", ".spec.source.repo"),
        PrinterColumn("Mode", ".status.effectiveRunnerMode", description="Effective runner mode"),
        PrinterColumn("In-Progress", ".status.inProgress", "integer"),
        PrinterColumn("Cap", ".spec.capacity.maxInProgressAiIssues", "integer"),
        PrinterColumn("Paused", ".spec.paused", "boolean"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Provider", ".spec.provider.name", priority=1),
        PrinterColumn("Blocked", ".status.blocked", "integer", priority=1),
        _AGE,
    ),
    root_validations=(
        cel(
            "self.metadata.name == self.spec.teamKey.lowerAscii().replace('_', '-')",
            "metadata.name must be spec.teamKey in lower case with _ written as -",
        ),
    ),
)

DISPATCH = ResourceKind(
    kind=constants.DISPATCH_KIND,
    plural=constants.DISPATCH_PLURAL,
    short_names=("disp",),
    description="One agent run for one ticket: planning, implementation, a review iteration or a gap-fill.",
    spec=DispatchSpec,
    status=DispatchStatus,
    printer_columns=(
        PrinterColumn("Team", ".spec.mapping"),
        PrinterColumn("Issue", ".spec.issue.identifier"),
        PrinterColumn("Kind", ".spec.kind"),
        PrinterColumn("Iteration", ".spec.iteration", "integer"),
        PrinterColumn("Runner", ".spec.runnerMode"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("PR", ".status.pullRequest.url", priority=1),
        PrinterColumn("Error", ".status.error.reason", priority=1),
        _AGE,
    ),
)

RUNNER_SESSION = ResourceKind(
    kind=constants.RUNNER_SESSION_KIND,
    plural=constants.RUNNER_SESSION_PLURAL,
    short_names=("rsess",),
    description="One runner machine, container or workflow run; deleting it destroys the backend resource.",
    spec=RunnerSessionSpec,
    status=RunnerSessionStatus,
    printer_columns=(
        PrinterColumn("Dispatch", ".spec.dispatch"),
        PrinterColumn("Backend", ".spec.backend"),
        PrinterColumn("Resource", ".spec.resourceId"),
        PrinterColumn("State", ".status.state"),
        PrinterColumn("Uptime", ".status.uptimeSeconds", "integer", description="Seconds"),
        PrinterColumn("Issue", ".spec.issueIdentifier", priority=1),
        _AGE,
    ),
)

ALL_KINDS: tuple[ResourceKind, ...] = (PROJECT_MAPPING, DISPATCH, RUNNER_SESSION)


def structural_schema(model: type[BaseModel]) -> JsonSchema:
    """A pydantic model's JSON schema rewritten as a Kubernetes structural schema.

    Kubernetes refuses `$ref`, `anyOf` with null and `title`; empty list defaults are
    dropped so that absent lists stay absent.
    """
    schema = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, JsonSchema] = schema.pop("$defs", {})
    return _convert(schema, definitions)


def _resolve(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = {**_resolve(node["allOf"][0], definitions)}
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return merged
    any_of = node.get("anyOf")
    if any_of is not None:
        non_null = [option for option in any_of if option.get("type") != "null"]
        if len(non_null) != 1:
            raise ValueError(f"cannot express a union of {len(non_null)} types in a structural schema")
        merged = {**_resolve(non_null[0], definitions)}
        merged.update({k: v for k, v in node.items() if k != "anyOf"})
        return merged
    return node


def _convert(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    node = _resolve(node, definitions)
    result: JsonSchema = {k: v for k, v in node.items() if k in _KEPT_KEYWORDS or k.startswith("x-kubernetes")}
    if "const" in node:
        result["enum"] = [node["const"]]
    if "enum" in result and "type" not in result:
        result["type"] = "string"
    if "properties" in node:
        result["type"] = "object"
        result["properties"] = {name: _convert(child, definitions) for name, child in node["properties"].items()}
    if "items" in node:
        result["items"] = _convert(node["items"], definitions)
    if isinstance(node.get("additionalProperties"), dict):
        result["additionalProperties"] = _convert(node["additionalProperties"], definitions)
    default = node.get("default")
    if default is not None and default != []:
        result["default"] = default
    if not result.get("required"):
        result.pop("required", None)
    return _ordered(result)


_KEY_ORDER = ("type", "description", "required", "properties", "items", "additionalProperties", "default")


def _ordered(node: JsonSchema) -> JsonSchema:
    """Keys in a reading order: what it is, what it means, then its constraints."""
    first = {key: node[key] for key in _KEY_ORDER if key in node}
    return first | {key: value for key, value in sorted(node.items()) if key not in first}


def crd_document(kind: ResourceKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    root: JsonSchema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": structural_schema(kind.spec),
            "status": structural_schema(kind.status),
        },
    }
    if kind.root_validations:
        root["x-kubernetes-validations"] = list(kind.root_validations)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": "ai-implement"}},
        "spec": {
            "group": constants.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [constants.CATEGORY],
            },
            "versions": [
                {
                    "name": constants.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.to_wire() for column in kind.printer_columns],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def crd_file_name(kind: ResourceKind) -> str:
    """The file under crds/ that holds a kind's definition."""
    return f"{constants.GROUP}_{kind.plural}.yaml"


def render_crd_yaml(kind: ResourceKind) -> str:
    """One CRD as the YAML checked in under crds/."""
    header = "# Generated by `ai-implement crds --write crds/` from controller/resources; do not edit.\n"
    return header + yaml.safe_dump(crd_document(kind), sort_keys=False, width=110)


def crd_files() -> dict[str, str]:
    """Every file under crds/ by name, as `ai-implement crds --write` writes them."""
    return {crd_file_name(kind): render_crd_yaml(kind) for kind in ALL_KINDS}


def render_all_crds_yaml() -> str:
    """Every CRD as one multi-document YAML stream, ready for `kubectl apply -f -`."""
    return "---\n".join(crd_files().values())
