"""Run a pipeline's steps in order, reporting each to the controller; the first failure ends the run.

Each step is reported as `running` when it starts and `succeeded`, `skipped` or `failed` when it
ends, with its elapsed time, message and structured output. Steps are loaded from the files the
catalog resolved (custom first), so a custom step runs exactly where the built-in one would.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Final

from controller.github.errors import GitHubError
from controller.pipelines import Catalog, CatalogError, Module
from controller.pipelines.catalog import BUILTIN_PROVIDERS, BUILTIN_STEPS
from controller.runner.git import GitFailed
from controller.runner.step import StepContext, StepFailed, StepFunction, StepResult

MAX_MESSAGE_CHARS: Final = 2000
ProgressSink = Callable[[Mapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PipelineOutcome:
    succeeded: bool
    failed_step: str | None = None
    reason: str | None = None
    message: str | None = None


def load_module(module: Module, kind: str) -> ModuleType:
    """Import a step or provider from its file: a built-in one as part of the package, a custom one by path."""
    builtin_dir = BUILTIN_STEPS if kind == "steps" else BUILTIN_PROVIDERS
    if module.custom_path is None and module.builtin_path is not None and module.builtin_path.parent == builtin_dir:
        return importlib.import_module(f"controller.runner.{kind}.{module.builtin_path.stem}")
    path = module.path
    name = f"ai_implement_custom_{kind}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CatalogError(f"{path}: cannot be loaded as a Python module")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except Exception as error:
        raise CatalogError(f"{path}: failed while it was loaded: {type(error).__name__}: {error}") from None
    return loaded


def step_functions(catalog: Catalog, step_ids: Sequence[str]) -> dict[str, StepFunction]:
    """Each step's `run` coroutine function, loaded before the first step runs (a broken one fails early)."""
    functions: dict[str, StepFunction] = {}
    for step_id in step_ids:
        if step_id in functions:
            continue
        module = catalog.steps[step_id]
        loaded = load_module(module, "steps")
        run = getattr(loaded, "run", None)
        if not inspect.iscoroutinefunction(run):
            raise CatalogError(f"{module.path}: has no `async def run(context)`: it is not a step")
        functions[step_id] = run
    return functions


async def run_steps(
    context: StepContext, step_ids: Sequence[str], functions: Mapping[str, StepFunction], report: ProgressSink
) -> PipelineOutcome:
    """Run the steps in order; the outcome says which failed and why."""
    for step_id in step_ids:
        context.current_step = step_id
        started_at, started = _now(), time.monotonic()
        await report({"name": step_id, "status": "running", "startedAt": started_at})
        try:
            result = await functions[step_id](context) or StepResult()
        except StepFailed as failure:
            await report(_ended(step_id, "failed", started_at, started, failure.message, failure.output))
            return PipelineOutcome(False, step_id, failure.reason, failure.message)
        except (GitFailed, GitHubError) as error:
            reason = "GitFailed" if isinstance(error, GitFailed) else "GitHubFailed"
            await report(_ended(step_id, "failed", started_at, started, str(error), {}))
            return PipelineOutcome(False, step_id, reason, str(error))
        except Exception as error:  # a step's bug ends the run with its name, never silently
            message = f"{type(error).__name__}: {error}"
            await report(_ended(step_id, "failed", started_at, started, message, {}))
            return PipelineOutcome(False, step_id, "StepCrashed", message)
        status = "skipped" if result.skipped else "succeeded"
        await report(_ended(step_id, status, started_at, started, result.message, result.output))
    context.current_step = None
    return PipelineOutcome(True)


def _ended(
    step_id: str, status: str, started_at: str, started: float, message: str, output: Mapping[str, Any]
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "name": step_id,
        "status": status,
        "startedAt": started_at,
        "finishedAt": _now(),
        "elapsedSeconds": round(time.monotonic() - started, 3),
    }
    if message:
        report["message"] = message[:MAX_MESSAGE_CHARS]
    if output:
        report["output"] = dict(output)
    return report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
