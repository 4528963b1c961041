"""The files a workflow sync writes into a target repository, rendered per mapping, and how stale they are.

Four files, from the templates in `controller/workflows/templates/`:

| Path | Owned by | Current when |
|---|---|---|
| `.github/workflows/ai-implement.yml` | the controller | it equals the rendering |
| `.github/workflows/comment-trigger.yml` | the controller | it equals the rendering |
| `WORKFLOW.md` | the team | its marker names the current template version |
| `PLANNING.md` | the team | its marker names the current template version |

Every rendered file carries one marker line, `# ai-implement-template: v<version> sha=<hash>`, where
the hash is of the rendering without the marker. Workflow files belong to the controller: any
difference is stale, because the runner and the trigger depend on every line. The prompts are
starters that teams are meant to edit (model ids in the front matter, instructions below it), so
they stay current while their marker names `TEMPLATE_VERSION`, whatever else changed; a new
template version proposes fresh starters. Rendering uses `string.Template` with the delimiter `@@`,
which appears nowhere in GitHub Actions syntax or shell.

Everything here is pure: no I/O besides reading the packaged templates.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, TypedDict

import yaml

from controller.resources import ProjectMappingSpec, effective_max_iterations
from controller.store import CheckedFile

TEMPLATE_VERSION: Final = 3
"""Raise it whenever a template changes: every synced repository then reads as stale."""
MARKER_PREFIX: Final = "# ai-implement-template:"
_MARKER: Final = re.compile(r"^# ai-implement-template: v(?P<version>\d+) sha=(?P<sha>[0-9a-f]{12})[ \t]*\r?$", re.M)

RUNNER_WORKFLOW_PATH: Final = ".github/workflows/ai-implement.yml"
COMMENT_TRIGGER_PATH: Final = ".github/workflows/comment-trigger.yml"
WORKFLOW_PROMPT_PATH: Final = "WORKFLOW.md"
PLANNING_PROMPT_PATH: Final = "PLANNING.md"

RUNNER_WORKFLOW_INPUTS: Final = (
    "dispatch",
    "namespace",
    "issue_identifier",
    "issue_id",
    "issue_provider",
    "issue_url",
    "kind",
    "iteration",
    "pipeline",
    "pull_request_number",
    "pull_request_branch",
    "callback_base_url",
    "environment",
)
"""The inputs the runner workflow declares, in its order: the GitHub Actions backend sends these."""
_REQUIRED_INPUTS: Final = frozenset({"dispatch"})
_INPUT_DESCRIPTIONS: Final = {"environment": "non-secret settings as a JSON object"}

DEFAULT_SESSION_IMAGE: Final = "ghcr.io/builddownai/ai-implement-runner:latest"
"""The image of runs when neither the repository nor the mapping names one (SESSION_IMAGE's default)."""

ANTHROPIC_MODEL: Final = "claude-sonnet-4-5"
"""The starter model of both prompts with the Anthropic API (an alias of the newest snapshot)."""
BEDROCK_MODEL: Final = "anthropic.claude-sonnet-4-5-20250929-v1:0"
"""The starter Bedrock model; rendered as the cross-region inference profile of the mapping's geography."""
BEDROCK_GEOGRAPHIES: Final = (("us-gov-", "us-gov"), ("us-", "us"), ("eu-", "eu"), ("ap-", "apac"))
"""Region prefix → inference-profile prefix; other regions get the `global` profile."""

GAP_FILL_TRIGGER_FIELDS: Final = ("repository", "pullRequestNumber", "commentId", "commentBody", "sender")
"""The JSON body `comment-trigger.yml` POSTs to `/trigger/gap-fill`, and all the endpoint may expect."""


class GapFillTriggerBody(TypedDict):
    """What `comment-trigger.yml` sends to `POST /trigger/gap-fill` (bearer `GAP_FILL_TRIGGER_SECRET`).

    `repository` is `owner/name`; `pullRequestNumber` and `commentId` are integers; `commentBody`
    is the comment as written (it starts with `/ai-implement`); `sender` is the commenter's login.
    Only comments by the repository's owner, members and collaborators are sent.
    """

    repository: str
    pullRequestNumber: int
    commentId: int
    commentBody: str
    sender: str


class FileState(StrEnum):
    CURRENT = "current"
    STALE = "stale"
    MISSING = "missing"


OverallState = Literal["current", "stale", "missing"]


class Ownership(StrEnum):
    """Who may change a synced file, which decides when it is stale."""

    CONTROLLER = "controller"
    """Must equal the rendering."""
    TEAM = "team"
    """Needs only the current template version in its marker."""


@dataclass(frozen=True)
class TemplateFile:
    path: str
    template: str
    """The file name under `controller/workflows/templates/`."""
    ownership: Ownership


TEMPLATE_FILES: Final = (
    TemplateFile(RUNNER_WORKFLOW_PATH, "ai-implement.yml", Ownership.CONTROLLER),
    TemplateFile(COMMENT_TRIGGER_PATH, "comment-trigger.yml", Ownership.CONTROLLER),
    TemplateFile(WORKFLOW_PROMPT_PATH, "WORKFLOW.md", Ownership.TEAM),
    TemplateFile(PLANNING_PROMPT_PATH, "PLANNING.md", Ownership.TEAM),
)
SYNCED_PATHS: Final = tuple(file.path for file in TEMPLATE_FILES)
_BY_PATH: Final = {file.path: file for file in TEMPLATE_FILES}

_ANTHROPIC_ENV: Final = """\
          CLAUDE_CODE_OAUTH_TOKEN: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}
          ANTHROPIC_API_KEY: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN == '' && secrets.ANTHROPIC_API_KEY || '' }}"""
"""The OAuth token when the repository has one, else the API key: never both (the key would win)."""
_BEDROCK_STEPS: Final = """\
      - name: Assume the Bedrock role
        uses: @@{aws_credentials_action} # v4.0.2
        with:
          role-to-assume: ${{ secrets.AWS_BEDROCK_ROLE_ARN }}
          aws-region: @@{aws_region}"""
_BEDROCK_ENV: Final = """\
          CLAUDE_CODE_USE_BEDROCK: "1"
          AWS_REGION: @@{aws_region}"""


PINNED_ACTIONS: Final = {
    "checkout_action": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
    "aws_credentials_action": "aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502",
}
"""The actions the workflows use, by commit: a tag can be moved to other code, a commit cannot."""


class _Template(string.Template):
    delimiter = "@@"


@dataclass(frozen=True)
class Marker:
    version: int
    sha: str


class FrontMatterError(ValueError):
    """A prompt file's front matter is absent or unreadable; the message says which and where."""


def render_templates(spec: ProjectMappingSpec, *, session_image: str = DEFAULT_SESSION_IMAGE) -> dict[str, str]:
    """Every synced file's text for this mapping, by path in the repository.

    `session_image` is SESSION_IMAGE; the mapping's `runner.sessionImage` wins over it, and a
    repository's `.ai-implement/image.yml` wins over both when the workflow runs.
    """
    values = _values(spec, session_image)
    return {file.path: _render(_template_text(file.template), values) for file in TEMPLATE_FILES}


def _values(spec: ProjectMappingSpec, session_image: str) -> dict[str, str]:
    provider = spec.provider.name
    region = spec.provider.aws_region or ""
    if provider == "bedrock":
        steps, env = "\n" + _BEDROCK_STEPS, _BEDROCK_ENV  # steps continue the line before them
    else:
        steps, env = "", _ANTHROPIC_ENV
    values = {
        "team_key": spec.team_key,
        "repo": f"{spec.source.owner}/{spec.source.repo}",
        "session_image": spec.runner.session_image or session_image,
        "provider": provider,
        "aws_region": region,
        "model": default_model(spec),
        "max_turns": str(spec.capacity.max_turns),
        "max_iterations": str(effective_max_iterations(spec)),
        "max_job_minutes": str(spec.capacity.max_job_minutes),
        "inputs": _inputs_yaml(),
        "trigger_body": "{" + ", ".join(f"{name}: ${name}" for name in GAP_FILL_TRIGGER_FIELDS) + "}",
        **PINNED_ACTIONS,
    }
    values["credential_steps"] = _Template(steps).substitute(values)
    values["credential_env"] = _Template(env).substitute(values)
    return values


def _render(template: str, values: dict[str, str]) -> str:
    """The text with its marker, whose hash is of the same text with an empty marker line."""
    compiled = _Template(template)
    unmarked = compiled.substitute(values, marker="")
    digest = hashlib.sha256(unmarked.encode()).hexdigest()[:12]
    return compiled.substitute(values, marker=f"{MARKER_PREFIX} v{TEMPLATE_VERSION} sha={digest}")


def _inputs_yaml() -> str:
    lines = []
    for name in RUNNER_WORKFLOW_INPUTS:
        spec = ["type: string"]
        if name in _REQUIRED_INPUTS:
            spec.append("required: true")
        if name in _INPUT_DESCRIPTIONS:
            spec.append(f'description: "{_INPUT_DESCRIPTIONS[name]}"')
        lines.append(f"      {name}: {{{', '.join(spec)}}}")
    return "\n".join(lines)


@cache
def _template_text(name: str) -> str:
    return resources.files("controller.workflows.templates").joinpath(name).read_text(encoding="utf-8")


def default_model(spec: ProjectMappingSpec) -> str:
    """The starter model id of the prompts: Anthropic's alias, or the Bedrock profile of the region."""
    if spec.provider.name != "bedrock":
        return ANTHROPIC_MODEL
    return f"{bedrock_geography(spec.provider.aws_region or '')}.{BEDROCK_MODEL}"


def bedrock_geography(region: str) -> str:
    for prefix, geography in BEDROCK_GEOGRAPHIES:
        if region.startswith(prefix):
            return geography
    return "global"


def marker_of(text: str) -> Marker | None:
    """The first template marker in a file, or None when it has none."""
    found = _MARKER.search(text)
    if found is None:
        return None
    return Marker(version=int(found.group("version")), sha=found.group("sha"))


def file_state(path: str, rendered: str, found: str | None) -> FileState:
    """Whether the file on the default branch is the rendering, by the rule of who owns it (module doc)."""
    return checked_file_state(path, text_digest(rendered), checked_file(found) if found is not None else None)


def checked_file_state(path: str, rendered_digest: str, found: CheckedFile | None) -> FileState:
    """`file_state` from what a stored check kept of the file: its digest and its marker's version."""
    if found is None:
        return FileState.MISSING
    if _BY_PATH[path].ownership is Ownership.CONTROLLER:
        return FileState.CURRENT if found.sha256 == rendered_digest else FileState.STALE
    return FileState.CURRENT if found.template_version == TEMPLATE_VERSION else FileState.STALE


def checked_file(text: str) -> CheckedFile:
    """What a check keeps of a synced file: enough to judge it against any mapping's rendering later."""
    marker = marker_of(text)
    return CheckedFile(sha256=text_digest(text), template_version=marker.version if marker is not None else None)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def file_states(rendered: Mapping[str, str], found: Mapping[str, str | None]) -> dict[str, FileState]:
    """Each rendered file's state; a path absent from `found` is missing."""
    return {path: file_state(path, text, found.get(path)) for path, text in rendered.items()}


def template_state(rendered: Mapping[str, str], found: Mapping[str, str | None]) -> OverallState:
    """`missing` when any file is absent, else `stale` when any differs, else `current`."""
    return overall_state(file_states(rendered, found))


def overall_state(states: Mapping[str, FileState]) -> OverallState:
    """The repository's state from its files': the worst of them, missing before stale."""
    values = set(states.values())
    if FileState.MISSING in values:
        return "missing"
    if FileState.STALE in values:
        return "stale"
    return "current"


def parse_front_matter(text: str, *, source: str = "the file") -> dict[str, Any]:
    """The YAML mapping between a prompt file's opening `---` line and the next one.

    `source` names the file in error messages (e.g. `acme/web:WORKFLOW.md`).
    """
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise FrontMatterError(f"{source} has no front matter: its first line must be '---'")
    try:
        end = next(number for number, line in enumerate(lines[1:], start=1) if line.strip() in ("---", "..."))
    except StopIteration:
        raise FrontMatterError(f"{source}: the front matter opened on line 1 is never closed by a '---' line") from None
    try:
        document = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise FrontMatterError(f"{source}: the front matter is not valid YAML{line}: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise FrontMatterError(
            f"{source}: the front matter must be a mapping of keys to values (model: ...), "
            f"not a {type(document).__name__}"
        )
    return {str(key): value for key, value in document.items()}
