"""What a sandboxed Jira site holds (projects, workflows, issues, comments, fields) and how Jira writes it.

Plain dataclasses that tests seed and read; the `*_json` functions render them in the shapes of the
published platform description (`IssueBean`, `StatusDetails`, `Comment`, `FieldDetails`, …), with
Jira's timestamps (`2026-01-02T03:04:05.678+0000`, EXTERNAL_APIS.md §8.3).
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

STATUS_CATEGORIES: Final[Mapping[str, Mapping[str, Any]]] = {
    "undefined": {"id": 1, "key": "undefined", "colorName": "medium-gray", "name": "No Category"},
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
}
"""Jira's four status categories, with the ids and colours Jira Cloud uses."""
ISSUE_EXPAND: Final = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
CUSTOM_FIELD_TYPE_PREFIX: Final = "com.atlassian.jira.plugin.system.customfieldtypes:"


def jira_time(moment: float) -> str:
    """Jira's timestamp: milliseconds and a numeric offset without a colon, never `Z`."""
    instant = datetime.fromtimestamp(moment, UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class JiraStatusState:
    id: str
    name: str
    category: str
    """A key of `STATUS_CATEGORIES`."""


@dataclass(frozen=True)
class WorkflowTransition:
    id: str
    name: str
    to: str
    """The target status's name."""
    sources: frozenset[str] | None
    """Names of the statuses it starts from (casefolded); None for a global transition (from any status)."""


@dataclass
class JiraWorkflow:
    """A project's statuses (the first is where new issues start) and the transitions between them."""

    statuses: list[JiraStatusState]
    transitions: list[WorkflowTransition]

    @classmethod
    def build(
        cls, statuses: Mapping[str, str], transitions: Iterable[tuple[str, str | Sequence[str] | None, str]]
    ) -> JiraWorkflow:
        """From `{status name: category}` and `(transition name, from status(es) or None, to status)`."""
        built = [
            JiraStatusState(id=str(10000 + number), name=name, category=category)
            for number, (name, category) in enumerate(statuses.items())
        ]
        for status in built:
            if status.category not in STATUS_CATEGORIES:
                raise ValueError(
                    f"status {status.name!r} has category {status.category!r}; use one of new, "
                    "indeterminate, done, undefined"
                )
        workflow = cls(built, [])
        for number, (name, sources, target) in enumerate(transitions, start=1):
            workflow.status(target)
            if isinstance(sources, str):
                sources = [sources]
            if sources is not None:
                for source in sources:
                    workflow.status(source)
            from_names = None if sources is None else frozenset(source.casefold() for source in sources)
            workflow.transitions.append(WorkflowTransition(str(number * 10 + 1), name, target, from_names))
        return workflow

    def status(self, name: str) -> JiraStatusState:
        for status in self.statuses:
            if status.name.casefold() == name.strip().casefold():
                return status
        known = ", ".join(repr(status.name) for status in self.statuses)
        raise ValueError(f"the workflow has no status {name!r}; it has {known}")

    def offered_from(self, status_name: str) -> list[WorkflowTransition]:
        """The transitions available from a status; a global one is not offered to its own target."""
        here = status_name.casefold()
        return [
            transition
            for transition in self.transitions
            if (transition.sources is None and transition.to.casefold() != here)
            or (transition.sources is not None and here in transition.sources)
        ]


def default_workflow() -> JiraWorkflow:
    """To Do → Implementing → In Review → Done, each step back, and a global "Won't do"."""
    return JiraWorkflow.build(
        {
            "To Do": "new",
            "Implementing": "indeterminate",
            "In Progress": "indeterminate",
            "In Review": "indeterminate",
            "Done": "done",
            "Won't Do": "done",
        },
        [
            ("Start implementing", ["To Do", "In Progress"], "Implementing"),
            ("Stop implementing", "Implementing", "To Do"),
            ("Start progress", "To Do", "In Progress"),
            ("Send to review", ["Implementing", "In Progress"], "In Review"),
            ("Back to implementing", "In Review", "Implementing"),
            ("Done", "In Review", "Done"),
            ("Reopen", ["Done", "Won't Do"], "To Do"),
            ("Won't do", None, "Won't Do"),
        ],
    )


@dataclass
class JiraProjectState:
    id: str
    key: str
    name: str
    workflow: JiraWorkflow


class FieldKind(StrEnum):
    """The custom field types the sandbox models, by the shape of their values."""

    TEXT = "textfield"
    """A string."""
    SELECT = "select"
    """One option: `{"self", "value", "id"}`."""
    MULTI_SELECT = "multiselect"
    """A list of options."""
    LABELS = "labels"
    """A list of strings."""


@dataclass
class JiraOptionState:
    id: str
    value: str
    disabled: bool = False


@dataclass
class JiraContextState:
    id: str
    name: str
    options: list[JiraOptionState] = field(default_factory=list)


@dataclass
class JiraFieldState:
    """A custom field; its contexts and options are what the admin-only endpoints list."""

    id: str
    name: str
    kind: FieldKind
    contexts: list[JiraContextState] = field(default_factory=list)

    @property
    def custom_id(self) -> int:
        return int(self.id.removeprefix("customfield_"))

    @property
    def clause_names(self) -> list[str]:
        return [f"cf[{self.custom_id}]", self.name]

    @property
    def has_options(self) -> bool:
        return self.kind in (FieldKind.SELECT, FieldKind.MULTI_SELECT)

    def option(self, value: str) -> JiraOptionState:
        for context in self.contexts:
            for option in context.options:
                if option.value == value:
                    return option
        known = ", ".join(repr(option.value) for context in self.contexts for option in context.options)
        raise ValueError(f"field {self.name!r} ({self.id}) has no option {value!r}; it has {known or 'none'}")

    def schema_json(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            FieldKind.TEXT: {"type": "string"},
            FieldKind.SELECT: {"type": "option"},
            FieldKind.MULTI_SELECT: {"type": "array", "items": "option"},
            FieldKind.LABELS: {"type": "array", "items": "string"},
        }[self.kind]
        return {**shape, "custom": CUSTOM_FIELD_TYPE_PREFIX + self.kind.value, "customId": self.custom_id}


@dataclass
class JiraUserState:
    display_name: str
    email: str | None
    account_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    time_zone: str = "Etc/UTC"
    locale: str = "en_US"
    cloud_ids: frozenset[str] | None = None
    """The sites the user's token works on; None for every site."""
    admin: bool = False
    """Holds Administer Jira: may list custom field contexts and options."""
    can_transition: bool = True
    """Holds Transition issues: without it every issue offers no transition (still 200)."""

    def avatar_urls(self) -> dict[str, str]:
        avatar = f"https://avatar-management.example/initials/{self.display_name[:2].upper()}.png"
        return {size: f"{avatar}?size={size.split('x')[0]}" for size in ("16x16", "24x24", "32x32", "48x48")}

    def as_json(self, self_url: str) -> dict[str, Any]:
        """`GET /myself` as Jira answers it (the `User` schema of the platform OpenAPI description)."""
        answer: dict[str, Any] = {
            "self": self_url,
            "accountId": self.account_id,
            "accountType": "atlassian",
            "displayName": self.display_name,
            "active": True,
            "timeZone": self.time_zone,
            "locale": self.locale,
            "avatarUrls": self.avatar_urls(),
            "groups": {"size": 1, "items": []},
            "applicationRoles": {"size": 1, "items": []},
            "expand": "groups,applicationRoles",
        }
        if self.email is not None:
            answer["emailAddress"] = self.email
        return answer

    def details_json(self, api_base: str) -> dict[str, Any]:
        """The `UserDetails` shape Jira embeds in comments, changelogs and webhook bodies."""
        answer: dict[str, Any] = {
            "self": f"{api_base}/user?accountId={self.account_id}",
            "accountId": self.account_id,
            "accountType": "atlassian",
            "displayName": self.display_name,
            "active": True,
            "timeZone": self.time_zone,
            "avatarUrls": self.avatar_urls(),
        }
        if self.email is not None:
            answer["emailAddress"] = self.email
        return answer


@dataclass
class JiraCommentState:
    id: str
    body: Any
    """An ADF document."""
    author: JiraUserState
    created: float
    updated: float
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class JiraIssueState:
    id: str
    key: str
    project: str
    """The project's key."""
    summary: str
    status: str
    """The status's name, one of the project workflow's."""
    created: float
    updated: float
    description: Any = None
    """An ADF document or None."""
    labels: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    """Custom field id → value as Jira writes it (string, option object, list)."""
    comments: list[JiraCommentState] = field(default_factory=list)
    changed_at: float = 0.0
    """When the issue last changed; search shows `previous` until `search_lag` seconds have passed."""
    previous: JiraIssueState | None = field(default=None, repr=False)
    """What search still sees while the change is being indexed; None for an issue not yet indexed."""

    def snapshot(self) -> JiraIssueState:
        return dataclasses.replace(self, labels=list(self.labels), custom=copy.deepcopy(self.custom), previous=None)


@dataclass
class JiraSiteState:
    """One Jira Cloud site (one cloud id) and everything in it."""

    cloud_id: str
    site_url: str
    projects: dict[str, JiraProjectState] = field(default_factory=dict)
    issues: dict[str, JiraIssueState] = field(default_factory=dict)
    """By issue id."""
    fields: dict[str, JiraFieldState] = field(default_factory=dict)
    """Custom fields by id."""
    next_ids: dict[str, int] = field(default_factory=dict)

    def new_id(self, kind: str, start: int = 10000) -> str:
        number = self.next_ids.get(kind, start)
        self.next_ids[kind] = number + 1
        return str(number)

    def project(self, key: str) -> JiraProjectState:
        try:
            return self.projects[key.upper()]
        except KeyError:
            raise ValueError(f"site {self.cloud_id} has no project {key!r}; add it with add_project()") from None

    def issue(self, key_or_id: str) -> JiraIssueState | None:
        """By id or (case-insensitive) key, as Jira resolves `issueIdOrKey`."""
        if key_or_id in self.issues:
            return self.issues[key_or_id]
        wanted = key_or_id.strip().upper()
        return next((issue for issue in self.issues.values() if issue.key == wanted), None)

    def field_by_clause(self, name: str) -> JiraFieldState | None:
        """A custom field by `cf[N]`, `customfield_N` or its name (case-insensitive)."""
        text = name.strip()
        for candidate in self.fields.values():
            if text.casefold() in (
                candidate.id.casefold(),
                f"cf[{candidate.custom_id}]".casefold(),
                candidate.name.casefold(),
            ):
                return candidate
        return None

    def status_of(self, issue: JiraIssueState) -> JiraStatusState:
        return self.project(issue.project).workflow.status(issue.status)


def system_fields_json() -> list[dict[str, Any]]:
    """`GET /field` entries of the system fields the sandbox models."""
    fields = [
        ("summary", "Summary", {"type": "string", "system": "summary"}, True),
        ("description", "Description", {"type": "string", "system": "description"}, True),
        ("status", "Status", {"type": "status", "system": "status"}, False),
        ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}, True),
        ("project", "Project", {"type": "project", "system": "project"}, False),
        ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}, True),
        ("created", "Created", {"type": "datetime", "system": "created"}, False),
        ("updated", "Updated", {"type": "datetime", "system": "updated"}, False),
    ]
    return [
        {
            "id": field_id,
            "key": field_id,
            "name": name,
            "custom": False,
            "orderable": orderable,
            "navigable": True,
            "searchable": True,
            "clauseNames": [field_id],
            "schema": schema,
        }
        for field_id, name, schema, orderable in fields
    ]


def custom_field_json(field_state: JiraFieldState) -> dict[str, Any]:
    return {
        "id": field_state.id,
        "key": field_state.id,
        "name": field_state.name,
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": field_state.clause_names,
        "schema": field_state.schema_json(),
    }


def status_json(status: JiraStatusState, api_base: str, site_url: str) -> dict[str, Any]:
    """`StatusDetails`, with its category."""
    category = STATUS_CATEGORIES[status.category]
    return {
        "self": f"{api_base}/status/{status.id}",
        "description": "",
        "iconUrl": f"{site_url}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": {"self": f"{api_base}/statuscategory/{category['id']}", **category},
    }


def project_json(project: JiraProjectState, api_base: str) -> dict[str, Any]:
    return {
        "self": f"{api_base}/project/{project.id}",
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "projectTypeKey": "software",
        "simplified": False,
    }


def comment_json(
    comment: JiraCommentState, issue: JiraIssueState, api_base: str, *, properties: bool
) -> dict[str, Any]:
    """`Comment`; its properties only when asked for (`expand=properties` of `comment/list`)."""
    answer: dict[str, Any] = {
        "self": f"{api_base}/issue/{issue.id}/comment/{comment.id}",
        "id": comment.id,
        "author": comment.author.details_json(api_base),
        "body": comment.body,
        "updateAuthor": comment.author.details_json(api_base),
        "created": jira_time(comment.created),
        "updated": jira_time(comment.updated),
        "jsdPublic": True,
    }
    if properties:
        answer["properties"] = [{"key": key, "value": value} for key, value in comment.properties.items()]
    return answer


def issue_fields_json(site: JiraSiteState, issue: JiraIssueState, api_base: str) -> dict[str, Any]:
    """Every field of an issue (`*all`), unset custom fields as null, as Jira writes them."""
    project = site.project(issue.project)
    answer: dict[str, Any] = {
        "summary": issue.summary,
        "description": issue.description,
        "status": status_json(project.workflow.status(issue.status), api_base, site.site_url),
        "labels": list(issue.labels),
        "project": project_json(project, api_base),
        "issuetype": {"self": f"{api_base}/issuetype/10001", "id": "10001", "name": "Task", "subtask": False},
        "created": jira_time(issue.created),
        "updated": jira_time(issue.updated),
        "comment": {
            "comments": [comment_json(c, issue, api_base, properties=False) for c in issue.comments],
            "self": f"{api_base}/issue/{issue.id}/comment",
            "maxResults": len(issue.comments),
            "total": len(issue.comments),
            "startAt": 0,
        },
    }
    for field_id in site.fields:
        answer[field_id] = copy.deepcopy(issue.custom.get(field_id))
    return answer


def field_names(wanted: Sequence[str]) -> list[str]:
    """The items of `fields` parameters, each of which may itself be a comma-separated list."""
    return [name.strip() for item in wanted for name in item.split(",") if name.strip()]


def only_ids(wanted: Sequence[str]) -> bool:
    """Whether a search's `fields` asks for nothing but the id (its default), so pages may hold 5,000."""
    return all(name == "id" or name.startswith("-") for name in field_names(wanted))


def select_fields(all_fields: Mapping[str, Any], wanted: Sequence[str], *, default_all: bool) -> dict[str, Any] | None:
    """The fields a `fields` parameter asks for; None when only the id is (the search default, §9.6).

    Items are field ids, `*all`/`*navigable` for every field, or `-id` to leave one out; ids Jira does
    not know are ignored, as Jira does.
    """
    names = field_names(wanted)
    if not names:
        return dict(all_fields) if default_all else None
    chosen: dict[str, Any] = {}
    excluded = {name[1:] for name in names if name.startswith("-")}
    for name in names:
        if name in ("*all", "*navigable"):
            chosen.update(all_fields)
        elif name in all_fields:
            chosen[name] = all_fields[name]
    for name in excluded:
        chosen.pop(name, None)
    if not chosen and only_ids(names):
        return None
    return chosen
