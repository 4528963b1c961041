"""What Linear answers, as typed models: the wire shapes the documents select, and the client's results.

The wire models mirror `controller.ticketing.linear.documents` field for field and ignore anything
else, so a field Linear adds changes nothing; a field it drops fails validation with the field's
name (never its value). The public results (`LinearViewer`, `LinearLabel`, `LinearComment`, and the
provider-neutral `Ticket`) are what callers see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from controller.ticketing.model import StateCategory

STATE_CATEGORIES: Final = {
    "triage": StateCategory.TRIAGE,
    "backlog": StateCategory.BACKLOG,
    "unstarted": StateCategory.UNSTARTED,
    "started": StateCategory.STARTED,
    "completed": StateCategory.COMPLETED,
    "canceled": StateCategory.CANCELLED,
    "duplicate": StateCategory.CANCELLED,
}
"""`WorkflowState.type` (Linear spells `canceled` with one L) onto the provider-neutral categories;
a duplicate is a ticket nobody will work on, as a cancelled one."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True)


class LinearViewer(_Wire):
    """The user the API key belongs to."""

    id: str
    name: str
    email: str


class ViewerData(_Wire):
    viewer: LinearViewer


class LinearLabel(_Wire):
    """An issue label; `team_key` is None for a workspace label, which every team can apply."""

    id: str
    name: str
    team_key: str | None = None

    @property
    def is_workspace_label(self) -> bool:
        return self.team_key is None


class LinearComment(_Wire):
    """A comment the client created (or found under its deterministic id)."""

    id: str
    body: str
    url: str
    created_at: datetime
    issue_id: str | None = None
    issue_identifier: str | None = None


class TeamRef(_Wire):
    id: str
    key: str


class StateRef(_Wire):
    id: str
    name: str
    type: str


class LabelRef(_Wire):
    id: str
    name: str


class LabelRefs(_Wire):
    nodes: list[LabelRef]


class IssueNode(_Wire):
    """`fragment TicketFields on Issue`."""

    id: str
    identifier: str
    title: str
    url: str
    description: str | None = None
    updated_at: datetime
    archived_at: datetime | None = None
    team: TeamRef
    state: StateRef
    labels: LabelRefs


class PageInfo(_Wire):
    has_next_page: bool
    end_cursor: str | None = None


class IssuePage(_Wire):
    nodes: list[IssueNode]
    page_info: PageInfo


class AiIssuesData(_Wire):
    issues: IssuePage


class IssueData(_Wire):
    issue: IssueNode


class LabelNode(_Wire):
    """`fragment LabelFields on IssueLabel`."""

    id: str
    name: str
    is_group: bool
    team: TeamRef | None = None

    def as_label(self) -> LinearLabel:
        return LinearLabel(id=self.id, name=self.name, team_key=self.team.key if self.team else None)


class LabelNodes(_Wire):
    nodes: list[LabelNode]


class TeamRefs(_Wire):
    nodes: list[TeamRef]


class FindLabelData(_Wire):
    issue_labels: LabelNodes
    teams: TeamRefs


class LabelPayload(_Wire):
    success: bool
    issue_label: LabelNode | None = None


class CreateLabelData(_Wire):
    issue_label_create: LabelPayload


class IssuePayload(_Wire):
    success: bool
    issue: IssueNode | None = None


class AddLabelData(_Wire):
    issue_add_label: IssuePayload


class RemoveLabelData(_Wire):
    issue_remove_label: IssuePayload


class IssueRef(_Wire):
    id: str
    identifier: str


class CommentNode(_Wire):
    """`fragment CommentFields on Comment`."""

    id: str
    body: str
    url: str
    created_at: datetime
    issue: IssueRef | None = None

    def as_comment(self) -> LinearComment:
        return LinearComment(
            id=self.id,
            body=self.body,
            url=self.url,
            created_at=self.created_at,
            issue_id=self.issue.id if self.issue else None,
            issue_identifier=self.issue.identifier if self.issue else None,
        )


class CommentPayload(_Wire):
    success: bool
    comment: CommentNode | None = None


class CreateCommentData(_Wire):
    comment_create: CommentPayload


class CommentData(_Wire):
    comment: CommentNode
