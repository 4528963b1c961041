"""Typed views of Jira's answers: what the controller reads of them, validated on arrival.

Public models (`JiraTransition`, `JiraComment`, `JqlValidation`, `JiraField`, `JiraFieldOption`, …)
are what the client's calls return. The `_`-prefixed ones are wire shapes read only inside the
client (search pages, issue beans, page beans). All ignore fields they do not name, so a richer
answer from Jira never breaks a call; a field they do name with the wrong type is an error that
names the field, never its value (`ServiceClient._parse`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel

COMMENT_PROPERTY_KEY: Final = "ai-implement"
"""The comment property under which the controller stores a comment's idempotency key."""
IDEMPOTENCY_KEY_FIELD: Final = "idempotencyKey"
_ValueT = TypeVar("_ValueT")


def _jira_time(value: Any) -> Any:
    """Jira writes `2026-01-02T03:04:05.678+0000` (offset without a colon); Python 3.11 reads it as is."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


JiraTimestamp = Annotated[datetime, BeforeValidator(_jira_time)]


class _JiraModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)


class JiraUser(_JiraModel):
    """A Jira user as `GET /myself` describes them; `email` is None when their privacy settings hide it."""

    account_id: str = Field(alias="accountId")
    display_name: str = Field(alias="displayName")
    email: str | None = Field(default=None, alias="emailAddress")


class JiraStatusCategory(_JiraModel):
    """`new`, `indeterminate`, `done` (or `undefined`): the part of a status that means something everywhere."""

    key: str
    name: str | None = None


class JiraStatus(_JiraModel):
    """A workflow status; names are per site, categories are Jira's."""

    id: str | None = None
    name: str
    category: JiraStatusCategory | None = Field(default=None, alias="statusCategory")


class JiraTransition(_JiraModel):
    """A move the workflow offers from an issue's current status, to this user; ids are per workflow."""

    id: str
    name: str
    to: JiraStatus
    is_available: bool = Field(default=True, alias="isAvailable")
    has_screen: bool = Field(default=False, alias="hasScreen")


class JiraEntityProperty(_JiraModel):
    key: str
    value: Any = None


class JiraComment(_JiraModel):
    """A comment as Jira stored it; `idempotency_key` is the controller's own, kept as a comment property."""

    id: str
    created: JiraTimestamp | None = None
    author: JiraUser | None = None
    properties: tuple[JiraEntityProperty, ...] = ()

    @property
    def idempotency_key(self) -> str | None:
        for prop in self.properties:
            if prop.key == COMMENT_PROPERTY_KEY and isinstance(prop.value, dict):
                key = prop.value.get(IDEMPOTENCY_KEY_FIELD)
                return key if isinstance(key, str) else None
        return None


class JqlValidation(_JiraModel):
    """Jira's own verdict on a JQL (`jql/parse`, strict): errors make it unusable, warnings do not."""

    query: str
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


class JiraFieldSchema(_JiraModel):
    type: str
    items: str | None = None
    system: str | None = None
    custom: str | None = None
    """The custom field type, e.g. `com.atlassian.jira.plugin.system.customfieldtypes:select`."""
    custom_id: int | None = Field(default=None, alias="customId")


class JiraField(_JiraModel):
    """A field the token's user can see, with the names JQL accepts for it (`cf[10042]`, its name)."""

    id: str
    key: str | None = None
    name: str
    custom: bool = False
    searchable: bool = True
    clause_names: tuple[str, ...] = Field(default=(), alias="clauseNames")
    field_schema: JiraFieldSchema | None = Field(default=None, alias="schema")


class JiraFieldOption(_JiraModel):
    """One option of a select field, in one of the field's contexts (the same value may be in several)."""

    id: str
    value: str
    disabled: bool = False
    context_id: str
    context_name: str


class _TicketFields(_JiraModel):
    """The fields a ticket needs; custom fields (the repo fields) stay in `model_extra`."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True, validate_by_alias=True)

    summary: str
    status: JiraStatus
    labels: tuple[str, ...] = ()
    updated: JiraTimestamp
    description: Any = None


class _TicketIssue(_JiraModel):
    id: str
    key: str
    fields: _TicketFields


class _SearchPage(_JiraModel):
    """`SearchAndReconcileResults`: no `total`, no `startAt`; `nextPageToken` absent on the last page."""

    issues: tuple[_TicketIssue, ...] = ()
    next_page_token: str | None = Field(default=None, alias="nextPageToken")
    is_last: bool | None = Field(default=None, alias="isLast")


class _StatusFields(_JiraModel):
    status: JiraStatus


class _StatusIssue(_JiraModel):
    key: str
    fields: _StatusFields


class _Transitions(_JiraModel):
    transitions: tuple[JiraTransition, ...] = ()


class _CommentPage(_JiraModel):
    """`PageOfComments`: offset paging with `total`."""

    comments: tuple[JiraComment, ...] = ()
    start_at: int = Field(default=0, alias="startAt")
    total: int = 0


class _CommentList(_JiraModel):
    """`PageBeanComment`, the answer of `comment/list`."""

    values: tuple[JiraComment, ...] = ()


class _JqlMatch(_JiraModel):
    matched_issues: tuple[int, ...] = Field(default=(), alias="matchedIssues")
    errors: tuple[str, ...] = ()


class _JqlMatches(_JiraModel):
    """`IssueMatches`: one entry per JQL sent, in order."""

    matches: tuple[_JqlMatch, ...]


class _ParsedQueries(_JiraModel):
    queries: tuple[JqlValidation, ...]


class _FieldList(RootModel[list[JiraField]]):
    pass


class _Context(_JiraModel):
    id: str
    name: str


class _Option(_JiraModel):
    id: str
    value: str
    disabled: bool = False


class _PageBean(_JiraModel, Generic[_ValueT]):
    """Jira's classic offset page (`startAt`, `maxResults`, `total`, `isLast`, `values`)."""

    start_at: int = Field(default=0, alias="startAt")
    is_last: bool | None = Field(default=None, alias="isLast")
    total: int | None = None
    values: tuple[_ValueT, ...] = ()
