"""The Models & providers panel, decided without I/O from each mapping and its prompts' front matter.

The controller does not choose model ids: each target repository's `WORKFLOW.md` (implementation)
and `PLANNING.md` (planning) name theirs in their front matter (`model:`). A repository's check
reads them (`model_choice`); a row shows them, or None with the reason (the file is not there, its
front matter is broken, it has no `model`, the repository could not be read or not yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from controller.resources import ProjectMappingSpec
from controller.workflows.rendering import FrontMatterError, parse_front_matter

MODEL_KEY: Final = "model"
RegionBadge = Literal["missing"]


@dataclass(frozen=True)
class ModelChoice:
    """The model id a prompt file names, or why there is none."""

    model: str | None
    reason: str | None = None


@dataclass(frozen=True)
class ModelsRow:
    team_key: str
    repo: str
    provider: str
    bedrock_region: str | None
    region_badge: RegionBadge | None
    """`missing` for a bedrock mapping without `awsRegion` (required, so a run would fail)."""
    planning_enabled: bool
    runner_mode: str
    """The mode runs of this mapping use now (after RUNNER_MODE or the stored override)."""
    configured_runner_mode: str
    implementation: ModelChoice
    planning: ModelChoice
    checked_at: datetime | None = None
    """When the repository's prompts were read; None when they never were."""


@dataclass(frozen=True)
class ModelsKpis:
    projects: int
    anthropic: int
    bedrock: int
    bedrock_regions: int
    """Distinct regions of bedrock mappings."""


def model_choice(text: str | None, *, source: str) -> ModelChoice:
    """The `model` of a prompt file's front matter; `source` names the file in reasons."""
    if text is None:
        return ModelChoice(None, f"{source} is not on the default branch: sync the workflows to add it")
    try:
        front_matter = parse_front_matter(text, source=source)
    except FrontMatterError as error:
        return ModelChoice(None, str(error))
    model = front_matter.get(MODEL_KEY)
    if not isinstance(model, str) or not model.strip():
        return ModelChoice(None, f"{source}: the front matter names no model (model: <model id>)")
    return ModelChoice(model.strip())


def models_row(
    spec: ProjectMappingSpec,
    implementation: ModelChoice,
    planning: ModelChoice,
    *,
    runner_mode: str,
    checked_at: datetime | None = None,
) -> ModelsRow:
    """One mapping's row, with the model ids its repository's check read (`checks.model_choices_of`)."""
    bedrock = spec.provider.name == "bedrock"
    region = spec.provider.aws_region if bedrock else None
    return ModelsRow(
        team_key=spec.team_key,
        repo=f"{spec.source.owner}/{spec.source.repo}",
        provider=spec.provider.name,
        bedrock_region=region,
        region_badge="missing" if bedrock and not region else None,
        planning_enabled=spec.planning.enabled,
        runner_mode=runner_mode,
        configured_runner_mode=spec.runner.execution_mode,
        implementation=implementation,
        planning=planning,
        checked_at=checked_at,
    )


def models_kpis(rows: Sequence[ModelsRow]) -> ModelsKpis:
    bedrock = [row for row in rows if row.provider == "bedrock"]
    return ModelsKpis(
        projects=len(rows),
        anthropic=sum(row.provider == "anthropic" for row in rows),
        bedrock=len(bedrock),
        bedrock_regions=len({row.bedrock_region for row in bedrock if row.bedrock_region}),
    )
