"""Which pipelines, steps and agent providers a run uses: the built-in ones, and what `custom/` changes.

Resolution is the same wherever it is read (the runner, `GET /api/pipelines-steps`,
`GET /api/customizations`, `config check`): a file under `custom/` wins over the built-in one of the
same name, and a custom file with no built-in counterpart adds a new one.

- pipelines: `controller/pipelines/<name>.yml`, overridden by `custom/pipelines/<name>.yml`;
- steps: `controller/runner/steps/<id>.py`, overridden or added by `custom/steps/<id>.py`;
- agent providers: `controller/runner/providers/<id>.py`, likewise `custom/providers/<id>.py`.

A step id is kebab-case; its file may spell it with `_` (`open_pull_request.py` is `open-pull-request`).
Custom files are checked without running them (YAML is parsed, Python is read as a syntax tree), so
that the API and `config check` can report a bad one without executing code: a problem names the
file and what is wrong, and the runner refuses a pipeline with a problem before it changes anything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import yaml

PACKAGE_ROOT: Final = Path(__file__).resolve().parent.parent
BUILTIN_PIPELINES: Final = PACKAGE_ROOT / "pipelines"
BUILTIN_STEPS: Final = PACKAGE_ROOT / "runner" / "steps"
BUILTIN_PROVIDERS: Final = PACKAGE_ROOT / "runner" / "providers"
KINDS: Final = ("planning", "implementation", "review", "gap-fill")
"""Each Dispatch kind runs the pipeline of the same name."""
DEFAULT_PROVIDER: Final = "claude-code"
STEP_ID: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_STEPS: Final = 50
STEP_INTERFACE: Final = "`async def run(context)` at the top level, taking the step context"
PROVIDER_INTERFACE: Final = "`def command(settings)` and `def environment(base, settings)` at the top level"
UPSTREAM_FILES: Final = frozenset({"README.md", ".gitkeep"})
"""Files under custom/ that belong to the project itself, not to an operator's customizations."""

Status = Literal["builtin", "override", "additive"]
Category = Literal["pipeline", "step", "provider", "other"]


def module_id(path: Path) -> str:
    """The id of a step or provider file: its name without `.py`, with `_` read as `-`."""
    return path.stem.replace("_", "-")


class _Resolved:
    """A built-in file and the custom file that overrides it, for pipelines, steps and providers alike."""

    builtin_path: Path | None
    custom_path: Path | None

    @property
    def path(self) -> Path:
        """The file in use: the custom one when there is one."""
        chosen = self.custom_path or self.builtin_path
        assert chosen is not None
        return chosen

    @property
    def status(self) -> Status:
        if self.custom_path is None:
            return "builtin"
        return "override" if self.builtin_path is not None else "additive"


@dataclass(frozen=True, slots=True)
class Module(_Resolved):
    """A step or an agent provider, wherever it comes from."""

    id: str
    builtin_path: Path | None
    custom_path: Path | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Pipeline(_Resolved):
    name: str
    description: str
    steps: tuple[str, ...]
    builtin_path: Path | None
    custom_path: Path | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class CustomFile:
    """One file under custom/, as the Customizations panel lists it."""

    path: str
    """Relative to the custom directory's parent: `custom/steps/lint.py`."""
    category: Category
    status: Literal["override", "additive", "other"]
    upstream: str | None
    """The built-in file it shadows, relative to the package's parent (`controller/pipelines/review.yml`)."""
    size: int
    modified_at: datetime
    problem: str | None = None


@dataclass(frozen=True)
class Catalog:
    pipelines: Mapping[str, Pipeline]
    steps: Mapping[str, Module]
    providers: Mapping[str, Module]
    custom_files: tuple[CustomFile, ...] = ()
    custom_root: Path | None = None
    notes: tuple[str, ...] = field(default=())
    """Problems that belong to no one file (a custom directory that cannot be read)."""

    def problems(self) -> list[str]:
        """Every problem, each naming its file: what `config check` prints."""
        found = list(self.notes)
        items: list[Pipeline | Module] = [*self.pipelines.values(), *self.steps.values(), *self.providers.values()]
        for item in items:
            if item.problem:
                found.append(f"{_shown(item.path, self.custom_root)}: {item.problem}")
        return found

    def pipeline_for(self, kind: str) -> Pipeline:
        """The pipeline a run of `kind` runs; `CatalogError` when it is missing or broken."""
        pipeline = self.pipelines.get(kind)
        if pipeline is None:
            raise CatalogError(f"there is no pipeline for {kind!r} runs (known: {', '.join(sorted(self.pipelines))})")
        if pipeline.problem:
            raise CatalogError(f"{_shown(pipeline.path, self.custom_root)}: {pipeline.problem}")
        for step_id in pipeline.steps:
            step = self.steps[step_id]
            if step.problem:
                raise CatalogError(f"{_shown(step.path, self.custom_root)}: {step.problem}")
        return pipeline

    def provider(self, provider_id: str) -> Module:
        provider = self.providers.get(provider_id)
        if provider is None:
            raise CatalogError(
                f"there is no agent provider {provider_id!r} (known: {', '.join(sorted(self.providers))})"
            )
        if provider.problem:
            raise CatalogError(f"{_shown(provider.path, self.custom_root)}: {provider.problem}")
        return provider


class CatalogError(Exception):
    """A pipeline, step or provider cannot be used; the message names the file and the fault."""


def load_catalog(
    custom_root: Path | None,
    *,
    builtin_pipelines: Path = BUILTIN_PIPELINES,
    builtin_steps: Path = BUILTIN_STEPS,
    builtin_providers: Path = BUILTIN_PROVIDERS,
) -> Catalog:
    """Read the built-in and custom files; never raises for a bad custom file, it records the problem."""
    notes: list[str] = []
    custom = custom_root if custom_root is not None and custom_root.is_dir() else None
    if custom_root is not None and custom is None and custom_root.exists():
        notes.append(f"{custom_root} is not a directory: no customizations are used")
    steps = _modules(builtin_steps, _subdir(custom, "steps"), _step_problem)
    providers = _modules(builtin_providers, _subdir(custom, "providers"), _provider_problem)
    pipelines = _pipelines(builtin_pipelines, _subdir(custom, "pipelines"), steps)
    items: list[Pipeline | Module] = [*steps.values(), *providers.values(), *pipelines.values()]
    problems = {item.custom_path: item.problem for item in items if item.custom_path is not None and item.problem}
    homes: dict[str, tuple[Category, Path, str]] = {
        "pipelines": ("pipeline", builtin_pipelines, ".yml"),
        "steps": ("step", builtin_steps, ".py"),
        "providers": ("provider", builtin_providers, ".py"),
    }
    files = tuple(_custom_files(custom, homes, problems)) if custom else ()
    return Catalog(
        pipelines=pipelines,
        steps=steps,
        providers=providers,
        custom_files=files,
        custom_root=custom,
        notes=tuple(notes),
    )


def _subdir(root: Path | None, name: str) -> Path | None:
    if root is None:
        return None
    path = root / name
    return path if path.is_dir() else None


def _python_files(directory: Path | None) -> dict[str, Path]:
    if directory is None:
        return {}
    return {module_id(path): path for path in sorted(directory.glob("*.py")) if not path.name.startswith("_")}


def _modules(builtin: Path, custom: Path | None, problem_of: Callable[[Path], str | None]) -> dict[str, Module]:
    builtins, customs = _python_files(builtin), _python_files(custom)
    modules: dict[str, Module] = {}
    for module, path in builtins.items():
        modules[module] = Module(module, path, None)
    for module, path in customs.items():
        problem = problem_of(path) if STEP_ID.match(module) else f"{module!r} is not a kebab-case id"
        modules[module] = Module(module, builtins.get(module), path, problem)
    return modules


def _functions(path: Path) -> tuple[dict[str, ast.FunctionDef | ast.AsyncFunctionDef], str | None]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as error:
        return {}, f"is not valid Python: {error.msg} (line {error.lineno})"
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"cannot be read: {error}"
    found = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    return found, None


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return len(node.args.posonlyargs) + len(node.args.args)


def _step_problem(path: Path) -> str | None:
    functions, unreadable = _functions(path)
    if unreadable:
        return unreadable
    run = functions.get("run")
    if not isinstance(run, ast.AsyncFunctionDef) or _positional(run) != 1:
        return f"does not implement the step interface: it needs {STEP_INTERFACE}"
    return None


def _provider_problem(path: Path) -> str | None:
    functions, unreadable = _functions(path)
    if unreadable:
        return unreadable
    command, environment = functions.get("command"), functions.get("environment")
    if (
        not isinstance(command, ast.FunctionDef)
        or _positional(command) != 1
        or not isinstance(environment, ast.FunctionDef)
        or _positional(environment) != 2
    ):
        return f"does not implement the agent provider interface: it needs {PROVIDER_INTERFACE}"
    return None


def _pipelines(builtin: Path, custom: Path | None, steps: Mapping[str, Module]) -> dict[str, Pipeline]:
    builtins = {path.stem: path for path in sorted(builtin.glob("*.yml"))}
    customs = {path.stem: path for path in sorted(custom.glob("*.yml"))} if custom else {}
    pipelines: dict[str, Pipeline] = {}
    for name in sorted(builtins.keys() | customs.keys()):
        chosen = customs.get(name) or builtins[name]
        description, step_ids, problem = _read_pipeline(chosen, steps)
        pipelines[name] = Pipeline(name, description, step_ids, builtins.get(name), customs.get(name), problem)
    return pipelines


def _read_pipeline(path: Path, steps: Mapping[str, Module]) -> tuple[str, tuple[str, ...], str | None]:
    """The description and steps of one pipeline file, and what is wrong with it."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        return "", (), f"is not valid YAML: {_one_line(str(error))}"
    except (OSError, UnicodeDecodeError) as error:
        return "", (), f"cannot be read: {error}"
    if not isinstance(document, dict):
        return "", (), "must be a mapping with `steps:` (a list of step ids) and an optional `description:`"
    unknown = sorted(set(document) - {"description", "steps"})
    description = document.get("description", "")
    listed = document.get("steps")
    if unknown:
        return "", (), f"has unknown keys {', '.join(map(str, unknown))}: only `description` and `steps` are read"
    if not isinstance(description, str):
        return "", (), "`description` must be a string"
    if not isinstance(listed, list) or not listed or not all(isinstance(item, str) for item in listed):
        return description, (), "`steps` must be a non-empty list of step ids"
    if len(listed) > MAX_STEPS:
        return description, (), f"lists {len(listed)} steps; at most {MAX_STEPS} are allowed"
    unknown_steps = [item for item in listed if item not in steps]
    if unknown_steps:
        return description, tuple(listed), f"names unknown steps: {', '.join(unknown_steps)}"
    return description, tuple(listed), None


def _custom_files(
    root: Path, homes: Mapping[str, tuple[Category, Path, str]], problems: Mapping[Path, str | None]
) -> Iterable[CustomFile]:
    for path in sorted(item for item in root.rglob("*") if item.is_file()):
        relative = path.relative_to(root)
        if path.name in UPSTREAM_FILES and (len(relative.parts) == 1 or path.name == ".gitkeep"):
            continue
        if "__pycache__" in relative.parts:
            continue
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        shown = f"{root.name}/{relative.as_posix()}"
        home = homes.get(relative.parts[0]) if len(relative.parts) == 2 else None
        if home is None or path.suffix != home[2]:
            yield CustomFile(shown, "other", "other", None, stat.st_size, modified)
            continue
        category, builtin_dir, suffix = home
        upstream = _upstream(builtin_dir, path, suffix)
        yield CustomFile(
            shown,
            category,
            "override" if upstream is not None else "additive",
            _package_relative(upstream) if upstream is not None else None,
            stat.st_size,
            modified,
            problems.get(path),
        )


def _upstream(builtin_dir: Path, custom: Path, suffix: str) -> Path | None:
    if suffix == ".yml":
        candidate = builtin_dir / custom.name
        return candidate if candidate.is_file() else None
    return _python_files(builtin_dir).get(module_id(custom))


def _package_relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(PACKAGE_ROOT.parent).as_posix()
    except ValueError:
        return str(path)


def _shown(path: Path, custom_root: Path | None) -> str:
    if custom_root is not None:
        try:
            return f"{custom_root.name}/{path.relative_to(custom_root).as_posix()}"
        except ValueError:
            pass
    return _package_relative(path)


def _one_line(text: str) -> str:
    return " ".join(text.split())
