"""Every GraphQL document the Linear client sends, in one module, so one test validates them all.

Each public `*_QUERY`/`*_MUTATION` constant is one complete document (fragments included) that
the client sends as it is, with variables; `tests/sandbox/test_linear_documents.py` validates
each against Linear's published schema. Nested connections always carry `first`: an omitted
`first` is priced as 50 and multiplies with the outer page size (EXTERNAL_APIS.md §1.6).
"""

from __future__ import annotations

from typing import Final

LABELS_PER_ISSUE: Final = 20
"""Label names read per issue. The AI label is matched by the server's filter, not from this list,
so an issue with more labels is still found; only names past the 20th are not reported."""

LABEL_CANDIDATES: Final = 50
"""Labels of one name a lookup reads: the team's and the workspace's, and rarely more than two."""

_TICKET_FIELDS: Final = f"""
fragment TicketFields on Issue {{
  id
  identifier
  title
  url
  description
  updatedAt
  archivedAt
  team {{ id key }}
  state {{ id name type }}
  labels(first: {LABELS_PER_ISSUE}) {{ nodes {{ id name }} }}
}}
"""

_COMMENT_FIELDS: Final = """
fragment CommentFields on Comment {
  id
  body
  url
  createdAt
  issue { id identifier }
}
"""

_LABEL_FIELDS: Final = """
fragment LabelFields on IssueLabel {
  id
  name
  isGroup
  team { id key }
}
"""

VIEWER_QUERY: Final = "query Viewer { viewer { id name email } }"

AI_ISSUES_QUERY: Final = (
    """
query AiIssues($filter: IssueFilter!, $first: Int!, $after: String) {
  issues(filter: $filter, first: $first, after: $after, orderBy: createdAt, includeArchived: false) {
    nodes { ...TicketFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _TICKET_FIELDS
)
"""One page of the poll. Ordered by `createdAt`, which never changes, so an issue updated while the
poll pages cannot move from a later page to an earlier one and be missed (`updatedAt` order could)."""

ISSUE_QUERY: Final = (
    """
query Issue($id: String!) {
  issue(id: $id) { ...TicketFields }
}
"""
    + _TICKET_FIELDS
)

FIND_LABEL_QUERY: Final = (
    f"""
query FindLabel($name: String!, $teamKey: String!) {{
  issueLabels(
    first: {LABEL_CANDIDATES}
    filter: {{
      name: {{ eqIgnoreCase: $name }}
      or: [{{ team: {{ key: {{ eq: $teamKey }} }} }}, {{ team: {{ null: true }} }}]
    }}
  ) {{
    nodes {{ ...LabelFields }}
  }}
  teams(first: 1, filter: {{ key: {{ eq: $teamKey }} }}) {{
    nodes {{ id key }}
  }}
}}
"""
    + _LABEL_FIELDS
)
"""The label candidates of one name, the team's and the workspace's, and the team's id (which
creating a team label needs) in the same request."""

CREATE_LABEL_MUTATION: Final = (
    """
mutation CreateLabel($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) {
    success
    issueLabel { ...LabelFields }
  }
}
"""
    + _LABEL_FIELDS
)

ADD_LABEL_MUTATION: Final = (
    """
mutation AddLabel($id: String!, $labelId: String!) {
  issueAddLabel(id: $id, labelId: $labelId) {
    success
    issue { ...TicketFields }
  }
}
"""
    + _TICKET_FIELDS
)

REMOVE_LABEL_MUTATION: Final = (
    """
mutation RemoveLabel($id: String!, $labelId: String!) {
  issueRemoveLabel(id: $id, labelId: $labelId) {
    success
    issue { ...TicketFields }
  }
}
"""
    + _TICKET_FIELDS
)

CREATE_COMMENT_MUTATION: Final = (
    """
mutation CreateComment($input: CommentCreateInput!) {
  commentCreate(input: $input) {
    success
    comment { ...CommentFields }
  }
}
"""
    + _COMMENT_FIELDS
)

COMMENT_QUERY: Final = (
    """
query Comment($id: String!) {
  comment(id: $id) { ...CommentFields }
}
"""
    + _COMMENT_FIELDS
)
