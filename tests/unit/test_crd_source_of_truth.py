"""crds/ is generated from the models; samples match the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.resources import ALL_KINDS, ResourceKind, effective_max_iterations
from controller.resources.crd import crd_files, structural_schema
from controller.resources.project_mapping import ProjectMappingSpec

ROOT = Path(__file__).parents[2]
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("*.yaml"))


@pytest.mark.parametrize(("name", "text"), sorted(crd_files().items()))
def test_checked_in_crd_matches_the_models(name: str, text: str) -> None:
    path = ROOT / "crds" / name
    assert path.read_text() == text, f"{path} drifted from controller/resources: run `ai-implement crds --write crds/`"


def test_crds_directory_holds_nothing_else() -> None:
    assert {path.name for path in (ROOT / "crds").glob("*.yaml")} == set(crd_files())


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_samples_parse_with_the_models(sample: Path) -> None:
    body = yaml.safe_load(sample.read_text())
    kind = next(k for k in ALL_KINDS if k.kind == body["kind"])
    kind.spec.model_validate(body["spec"])


def _keywords(schema: dict[str, Any]) -> set[str]:
    found = {key for key in schema if key != "properties"}
    for child in schema.get("properties", {}).values():
        found |= _keywords(child)
    if isinstance(schema.get("items"), dict):
        found |= _keywords(schema["items"])
    return found


@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.kind for k in ALL_KINDS])
def test_structural_schema_has_no_json_schema_only_constructs(kind: ResourceKind) -> None:
    keywords = _keywords(structural_schema(kind.spec)) | _keywords(structural_schema(kind.status))
    assert not keywords & {"$ref", "anyOf", "allOf", "oneOf", "title", "$defs", "const"}


def test_object_defaults_are_spelled_out_whole() -> None:
    schema = structural_schema(ProjectMappingSpec)
    assert schema["properties"]["capacity"]["default"] == {
        "maxInProgressAiIssues": 1,
        "maxTurns": 50,
        "maxJobMinutes": 90,
    }
    assert schema["properties"]["capacity"]["properties"]["maxTurns"]["default"] == 50


@pytest.mark.parametrize(
    ("provider", "configured", "expected"),
    [("anthropic", None, 3), ("bedrock", None, 2), ("bedrock", 5, 5), ("anthropic", 1, 1)],
)
def test_effective_max_iterations(provider: str, configured: int | None, expected: int) -> None:
    spec = ProjectMappingSpec.model_validate(
        {
            "teamKey": "ENG",
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": "web", "defaultBranch": "main"},
            "provider": {"name": provider, "awsRegion": "us-east-1" if provider == "bedrock" else None},
            "capacity": {"maxIterations": configured},
        }
    )
    assert effective_max_iterations(spec) == expected
