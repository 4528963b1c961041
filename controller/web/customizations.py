"""GET /api/pipelines-steps and GET /api/customizations: what runs, and what CUSTOM_DIR changes about it.

Both read the catalog (`controller.pipelines`) afresh on every request, off the event loop: it is a
few small files, and an operator who has just edited one wants to see it at once. A bad custom file
is listed with its problem, never turned into an error response.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import Field

from controller.pipelines import Catalog, Module, Pipeline, load_catalog
from controller.pipelines.catalog import PACKAGE_ROOT
from controller.web.context import WebContext, context_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, respond

router = ApiRouter(tag="customizations")

Status = Literal["builtin", "override", "additive"]


class PipelineStep(CamelModel):
    id: str = Field(description="The step's id, e.g. run-checks.")
    module: str | None = Field(
        description="The file that runs for it, the custom one first; null when no step has that id."
    )


class PipelineRow(CamelModel):
    name: str = Field(description="The pipeline's name: the Dispatch kind that runs it, or a custom one.")
    description: str
    steps: list[PipelineStep] = Field(description="In the order they run.")
    status: Status = Field(description="builtin, override (a custom file replaces it) or additive (custom only).")
    builtin_path: str | None = Field(description="The built-in file, e.g. controller/pipelines/review.yml.")
    custom_path: str | None = Field(description="The custom file, e.g. custom/pipelines/review.yml.")
    problem: str | None = Field(description="What is wrong with the file in use; runs refuse the pipeline while set.")


class ModuleRow(CamelModel):
    id: str = Field(description="Kebab-case id; its file may spell `-` as `_`.")
    builtin_path: str | None = Field(description="The built-in file, e.g. controller/runner/steps/checkout.py.")
    custom_path: str | None = Field(description="The custom file, e.g. custom/steps/lint.py.")
    status: Status = Field(description="builtin, override (a custom file replaces it) or additive (custom only).")
    problem: str | None = Field(description="What is wrong with the custom file; it never runs while set.")


class StepRow(ModuleRow):
    used_by: list[str] = Field(description="The pipelines that list the step.")


class PipelinesAndSteps(CamelModel):
    pipelines: list[PipelineRow] = Field(description="By name.")
    steps: list[StepRow] = Field(description="By id.")
    providers: list[ModuleRow] = Field(description="The agent providers, by id.")
    custom_dir: str = Field(description="Where customizations are read from (CUSTOM_DIR, made absolute).")
    problems: list[str] = Field(description="Every problem above, each naming its file.")


class CustomFileRow(CamelModel):
    path: str = Field(description="Relative to the custom directory's parent, e.g. custom/steps/lint.py.")
    category: Literal["pipeline", "step", "provider", "other"]
    status: Literal["override", "additive", "other"] = Field(
        description="override (shadows a built-in), additive (new), or other (not a pipeline, step or provider)."
    )
    upstream: str | None = Field(description="The built-in file it shadows, e.g. controller/pipelines/review.yml.")
    size: int = Field(description="In bytes.")
    modified_at: datetime
    problem: str | None = Field(description="What is wrong with it, when it is a pipeline, step or provider.")


class Customizations(CamelModel):
    custom_dir: str = Field(description="Where customizations are read from (CUSTOM_DIR, made absolute).")
    exists: bool = Field(description="Whether that directory exists; without it only the built-ins are used.")
    files: list[CustomFileRow] = Field(
        description="Every file under it by path, except its README.md and .gitkeep files."
    )
    problems: list[str] = Field(description="Every problem, each naming its file.")


async def read_catalog(custom_dir: Path) -> tuple[Catalog, list[str]]:
    """The catalog and its problems; a directory that cannot be read at all means the built-ins only."""
    try:
        catalog = await asyncio.to_thread(load_catalog, custom_dir)
    except OSError as error:
        catalog = await asyncio.to_thread(load_catalog, None)
        return catalog, [f"CUSTOM_DIR={custom_dir} cannot be read, so only the built-ins are listed: {error}"]
    return catalog, catalog.problems()


def shown_path(path: Path | None, custom_root: Path | None) -> str | None:
    """As the Customizations panel shows files: `custom/steps/lint.py`, `controller/runner/steps/checkout.py`."""
    if path is None:
        return None
    if custom_root is not None and path.is_relative_to(custom_root):
        return f"{custom_root.name}/{path.relative_to(custom_root).as_posix()}"
    if path.is_relative_to(PACKAGE_ROOT.parent):
        return path.relative_to(PACKAGE_ROOT.parent).as_posix()
    return str(path)


def pipeline_row(pipeline: Pipeline, catalog: Catalog) -> PipelineRow:
    root = catalog.custom_root
    steps = [
        PipelineStep(
            id=step_id,
            module=shown_path(catalog.steps[step_id].path, root) if step_id in catalog.steps else None,
        )
        for step_id in pipeline.steps
    ]
    return PipelineRow(
        name=pipeline.name,
        description=pipeline.description,
        steps=steps,
        status=pipeline.status,
        builtin_path=shown_path(pipeline.builtin_path, root),
        custom_path=shown_path(pipeline.custom_path, root),
        problem=pipeline.problem,
    )


def module_row(module: Module, custom_root: Path | None) -> ModuleRow:
    return ModuleRow(
        id=module.id,
        builtin_path=shown_path(module.builtin_path, custom_root),
        custom_path=shown_path(module.custom_path, custom_root),
        status=module.status,
        problem=module.problem,
    )


def step_row(step: Module, custom_root: Path | None, pipelines: list[Pipeline]) -> StepRow:
    return StepRow(
        **dict(module_row(step, custom_root)),
        used_by=[pipeline.name for pipeline in pipelines if step.id in pipeline.steps],
    )


def pipelines_and_steps(catalog: Catalog, custom_dir: Path, problems: list[str]) -> PipelinesAndSteps:
    root = catalog.custom_root
    pipelines = [catalog.pipelines[name] for name in sorted(catalog.pipelines)]
    return PipelinesAndSteps(
        pipelines=[pipeline_row(pipeline, catalog) for pipeline in pipelines],
        steps=[step_row(catalog.steps[step_id], root, pipelines) for step_id in sorted(catalog.steps)],
        providers=[module_row(catalog.providers[key], root) for key in sorted(catalog.providers)],
        custom_dir=str(custom_dir.absolute()),
        problems=problems,
    )


def customizations(catalog: Catalog, custom_dir: Path, problems: list[str]) -> Customizations:
    files = [
        CustomFileRow(
            path=item.path,
            category=item.category,
            status=item.status,
            upstream=item.upstream,
            size=item.size,
            modified_at=item.modified_at,
            problem=item.problem,
        )
        for item in catalog.custom_files
    ]
    return Customizations(
        custom_dir=str(custom_dir.absolute()),
        exists=catalog.custom_root is not None,
        files=files,
        problems=problems,
    )


@router.route(
    "GET",
    "/api/pipelines-steps",
    summary="Pipelines, their steps and the agent providers, with what CUSTOM_DIR overrides or adds",
    responses={200: PipelinesAndSteps},
)
async def get_pipelines_and_steps(request: web.Request) -> web.Response:
    return respond(await pipelines_steps_of(context_of(request)))


async def pipelines_steps_of(context: WebContext) -> PipelinesAndSteps:
    """Read afresh, for the JSON API and the Pipelines & steps panel alike."""
    custom_dir = context.settings.custom_dir
    catalog, problems = await read_catalog(custom_dir)
    return pipelines_and_steps(catalog, custom_dir, problems)


@router.route(
    "GET",
    "/api/customizations",
    summary="Files under CUSTOM_DIR: what each overrides or adds, and any problem",
    responses={200: Customizations},
)
async def get_customizations(request: web.Request) -> web.Response:
    return respond(await customizations_of(context_of(request)))


async def customizations_of(context: WebContext) -> Customizations:
    """Read afresh, for the JSON API and the Customizations panel alike."""
    custom_dir = context.settings.custom_dir
    catalog, problems = await read_catalog(custom_dir)
    return customizations(catalog, custom_dir, problems)
