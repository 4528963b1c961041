"""Repository checks: one read of a default branch, stored per repository, judged per mapping without I/O.

The operator's leader reads each target repository (`WorkflowSync.check`) when it has no check
yet and then every `RECHECK_EVERY`, and stores what it found (`controller.store.RepositoryCheck`):
each synced file's digest and template version, and the prompts' model ids. Admin pages answer
from the stored checks alone: `template_status_of` judges a mapping's files against its own
rendering (mappings that share a repository render differently), `model_choices_of` reads its
model ids, and `RenderedDigests` renders each mapping again only when its spec changes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from controller.resources import ProjectMappingSpec
from controller.resources.project_mapping import TemplateState
from controller.store import RepositoryCheck
from controller.workflows.providers import ModelChoice, model_choice
from controller.workflows.rendering import (
    DEFAULT_SESSION_IMAGE,
    PLANNING_PROMPT_PATH,
    SYNCED_PATHS,
    WORKFLOW_PROMPT_PATH,
    FileState,
    checked_file,
    checked_file_state,
    overall_state,
    render_templates,
    text_digest,
)

RepositoryKey = tuple[str, str, str]
"""(owner, repo, default branch): what one check reads."""

FIRST_CHECK_WITHIN: Final = timedelta(seconds=30)
"""How often the leader looks for repositories no check has read yet (a new mapping, a changed source)."""
RECHECK_EVERY: Final = timedelta(minutes=10)
"""How old a repository's check may grow before the leader reads the repository again."""
NOT_CHECKED_YET: Final = (
    f"not checked yet: the operator checks each repository within {FIRST_CHECK_WITHIN.seconds} s of its "
    "mapping (when it has the GitHub App)"
)


def repository_key(spec: ProjectMappingSpec) -> RepositoryKey:
    return (spec.source.owner, spec.source.repo, spec.source.default_branch)


def repository_check(key: RepositoryKey, texts: Mapping[str, str | None], checked_at: datetime) -> RepositoryCheck:
    """What a read of the default branch found: `texts` holds each synced path's text (None: absent)."""
    owner, repo, branch = key
    files = {path: checked_file(text) if (text := texts.get(path)) is not None else None for path in SYNCED_PATHS}
    implementation = model_choice(texts.get(WORKFLOW_PROMPT_PATH), source=f"{owner}/{repo}:{WORKFLOW_PROMPT_PATH}")
    planning = model_choice(texts.get(PLANNING_PROMPT_PATH), source=f"{owner}/{repo}:{PLANNING_PROMPT_PATH}")
    return RepositoryCheck(
        owner=owner,
        repo=repo,
        branch=branch,
        checked_at=checked_at,
        files=files,
        implementation_model=implementation.model,
        implementation_model_reason=implementation.reason,
        planning_model=planning.model,
        planning_model_reason=planning.reason,
    )


def unreadable_check(key: RepositoryKey, problem: str, checked_at: datetime) -> RepositoryCheck:
    """A check that could not read the repository: GitHub's answer, or a default branch that does not exist."""
    owner, repo, branch = key
    return RepositoryCheck(owner=owner, repo=repo, branch=branch, checked_at=checked_at, files={}, error=problem)


@dataclass(frozen=True)
class MappingTemplateStatus:
    """One mapping's template state as its repository's last check shows it."""

    state: TemplateState
    files: dict[str, FileState]
    """Each synced file's state; empty when the state is unknown."""
    checked_at: datetime | None
    """When the repository was read; None when it never was."""
    error: str | None
    """Why the state is unknown."""


def template_status_of(
    rendered: Mapping[str, str], check: RepositoryCheck | None, unchecked: str = NOT_CHECKED_YET
) -> MappingTemplateStatus:
    """The mapping's state from the digests of its rendering (`RenderedDigests`) and its repository's check.

    `unchecked` is what a mapping whose repository has no check yet is told.
    """
    if check is None:
        return MappingTemplateStatus("unknown", {}, None, unchecked)
    if check.error is not None:
        return MappingTemplateStatus("unknown", {}, check.checked_at, check.error)
    files = {path: checked_file_state(path, digest, check.files.get(path)) for path, digest in rendered.items()}
    return MappingTemplateStatus(overall_state(files), files, check.checked_at, None)


def model_choices_of(
    check: RepositoryCheck | None, unchecked: str = NOT_CHECKED_YET
) -> tuple[ModelChoice, ModelChoice]:
    """The implementation and planning model ids a repository's check read, or why there are none."""
    if check is None:
        return ModelChoice(None, unchecked), ModelChoice(None, unchecked)
    if check.error is not None:
        return ModelChoice(None, check.error), ModelChoice(None, check.error)
    return (
        ModelChoice(check.implementation_model, check.implementation_model_reason),
        ModelChoice(check.planning_model, check.planning_model_reason),
    )


def repositories_due(
    wanted: Iterable[RepositoryKey],
    checked_at: Mapping[RepositoryKey, datetime],
    now: datetime,
    every: timedelta = RECHECK_EVERY,
) -> list[RepositoryKey]:
    """The repositories to read now: never checked first (in the order wanted), then the oldest checks.

    Each repository once, however many mappings name it; one checked less than `every` ago waits.
    """
    unique = list(dict.fromkeys(wanted))
    unchecked = [key for key in unique if key not in checked_at]
    expired = sorted(
        (key for key in unique if key in checked_at and now - checked_at[key] >= every), key=lambda key: checked_at[key]
    )
    return unchecked + expired


def repositories_forgotten(wanted: Collection[RepositoryKey], stored: Iterable[RepositoryKey]) -> list[RepositoryKey]:
    """Stored checks of repositories no mapping names any more (a mapping deleted, or its source changed)."""
    return sorted(key for key in set(stored) if key not in wanted)


class RenderedDigests:
    """Each mapping's rendered files as digests, rendered once per spec: judging 1,000 mappings renders none.

    Keyed by mapping name; an entry is reused while the mapping's spec is equal to the one it was
    rendered from.
    """

    def __init__(self, session_image: str = DEFAULT_SESSION_IMAGE) -> None:
        self._session_image = session_image
        self._by_name: dict[str, tuple[ProjectMappingSpec, dict[str, str]]] = {}

    def of(self, name: str, spec: ProjectMappingSpec) -> Mapping[str, str]:
        """Path → SHA-256 of the text a sync would write for this mapping."""
        known = self._by_name.get(name)
        if known is not None and (known[0] is spec or known[0] == spec):
            return known[1]
        rendered = render_templates(spec, session_image=self._session_image)
        digests = {path: text_digest(text) for path, text in rendered.items()}
        self._by_name[name] = (spec, digests)
        return digests

    def keep_only(self, names: Sequence[str]) -> None:
        """Forget the mappings not among `names` (deleted ones), so the cache stays as large as the list."""
        if len(self._by_name) > len(names):
            kept = set(names)
            for gone in [name for name in self._by_name if name not in kept]:
                del self._by_name[gone]
