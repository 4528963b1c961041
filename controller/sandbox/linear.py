"""The Linear GraphQL sandbox (EXTERNAL_APIS.md §1): the real schema, real validation, a stateful workspace.

Every document is parsed and validated by graphql-core against Linear's published schema
(`schemas/linear.graphql`), so a query the real service would reject is rejected here too. The
sandbox holds a small workspace — teams with their workflow states, workspace and team labels,
issues, comments, users — seeded through methods (`add_team`, `add_label`, `add_issue`,
`update_issue`, …) and changed by the mutations the controller uses (and `issueCreate`, with
which a test files a ticket through the API as a person would). Fields with a resolver
answer from that state; any other field of a valid query fails with a located GraphQL error
saying the sandbox does not implement it, and so does any filter field the sandbox cannot
evaluate, so a missing feature is never mistaken for an empty answer.

Status codes follow Linear and the Apollo server conventions it is built on: authentication
problems 401 (`Bearer lin_api_…` 400 `INPUT_ERROR`), unparseable or invalid documents and bad
variables 400 before execution, rate limits 400 + `RATELIMITED` (429 on request), and execution
results 200 even with errors and partial data. Every response carries the request and complexity
budget headers, resets in epoch milliseconds, from leaky buckets per user that really deplete.

Changes to issues (by a seeding method or a mutation) queue `Issue` webhooks to every subscriber
added with `add_webhook()`, signed as Linear signs them; `await flush_webhooks()` sends them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import operator
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, ClassVar, Final, TypeVar

import httpx
from aiohttp import web
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    default_field_resolver,
    execute_sync,
    get_named_type,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast, value_from_ast_untyped

from controller.sandbox.base import (
    Fault,
    FaultKind,
    RecordedRequest,
    Rejection,
    RequestPredicate,
    WebhookOutbox,
    WebhookSandbox,
    read_json,
    retry_after_seconds,
)

SCHEMA_RESOURCE: Final = "schemas/linear.graphql"
DEFAULT_CONNECTION_SIZE: Final = 50
"""What Linear assumes for a connection without `first`/`last` when it prices a query, and returns."""
MAX_CONNECTION_SIZE: Final = 250
"""The largest `first` the sandbox answers; commonly cited for Linear, not documented [U]."""
ANONYMOUS: Final = "anonymous"
STATE_TYPES: Final = ("triage", "backlog", "unstarted", "started", "completed", "canceled", "duplicate")
"""`WorkflowState.type` as Linear spells it: `canceled` with one L."""
DEFAULT_WORKFLOW_STATES: Final = (
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("In Progress", "started"),
    ("In Review", "started"),
    ("Done", "completed"),
    ("Canceled", "canceled"),
    ("Duplicate", "duplicate"),
)
"""The states a new Linear team starts with (name, type); `add_team(states=…)` gives others."""
_STATE_COLORS: Final = {
    "triage": "#fc7840",
    "backlog": "#bec2c8",
    "unstarted": "#e2e2e2",
    "started": "#f2c94c",
    "completed": "#5e6ad2",
    "canceled": "#95a2b3",
    "duplicate": "#95a2b3",
}
DEFAULT_LABEL_COLOR: Final = "#bec2c8"
PRIORITY_LABELS: Final = ("No priority", "Urgent", "High", "Medium", "Low")
WEBHOOK_RETRY_DELAYS: Final = (60.0, 3_600.0, 21_600.0)
"""Linear retries a failed delivery three times: after a minute, an hour and six hours."""
WEBHOOK_TIMEOUT: Final = 5.0
"""Seconds Linear waits for the receiver's 200 before counting the attempt as failed."""
NOT_IMPLEMENTED_CODE: Final = "SANDBOX_NOT_IMPLEMENTED"
_IDENTIFIER: Final = re.compile(r"^([A-Za-z0-9_]+)-(\d+)$")
_DURATION: Final = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_DURATION_SECONDS: Final = {
    "years": 365 * 86_400.0,
    "months": 30 * 86_400.0,
    "weeks": 7 * 86_400.0,
    "days": 86_400.0,
    "hours": 3_600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}

_Item = TypeVar("_Item")


@functools.cache
def linear_schema() -> GraphQLSchema:
    """Linear's schema, built once per process: building it takes a second or two."""
    sdl = resources.files("controller.sandbox").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return build_schema(sdl)


def linear_error(
    message: str, code: str, type_: str, *, user_error: bool = True, presentable: str | None = None
) -> dict[str, Any]:
    """One entry of Linear's `errors` array, with both `extensions.code` and `extensions.type`."""
    return {
        "message": message,
        "extensions": {
            "code": code,
            "type": type_,
            "userError": user_error,
            "userPresentableMessage": presentable or message,
        },
    }


def graphql_operation(name: str) -> RequestPredicate:
    """A `Fault(where=…)` predicate: requests whose `operationName` is `name`, since every call shares one path."""

    def sent_operation(request: RecordedRequest) -> bool:
        try:
            body = request.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("operationName") == name

    return sent_operation


def linear_signature(secret: bytes, body: bytes) -> str:
    """`Linear-Signature`: lowercase hex HMAC-SHA256 of the exact body bytes, keyed by the signing secret.

    No `sha256=` prefix (unlike GitHub). A receiver recomputes it over the raw bytes it received
    and compares in constant time; re-serialising the parsed JSON would not give the same bytes.
    """
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def estimate_complexity(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> int:
    """Linear's price of a query: 0.1 per scalar, 1 per object, connections times `first` (or 50)."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    pricing = _Pricing(schema, fragments, dict(variables))
    return math.ceil(pricing.price(operation.selection_set, root, 1.0, frozenset()))


@dataclass(frozen=True)
class _Pricing:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: dict[str, Any]

    def price(self, selection_set: SelectionSetNode, parent: Any, multiplier: float, seen: frozenset[str]) -> float:
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._price_field(selection, parent, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = self.schema.get_type(condition.name.value) if condition else parent
                total += self.price(selection.selection_set, fragment_type, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    fragment_type = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.price(fragment.selection_set, fragment_type, multiplier, seen | {name})
        return total

    def _price_field(self, node: FieldNode, parent: Any, multiplier: float, seen: frozenset[str]) -> float:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return 0.0
        if node.selection_set is None:
            return 0.1 * multiplier
        named = get_named_type(definition.type)
        inner = multiplier
        if named.name.endswith("Connection"):
            inner *= self._page_size(node)
        return multiplier + self.price(node.selection_set, named, inner, seen)

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int):
                    return value
        return DEFAULT_CONNECTION_SIZE


@dataclass
class RateBudget:
    """A leaky bucket: `limit` units per `period` seconds, refilling continuously."""

    limit: int
    period: float
    used: float = 0.0
    updated: float = 0.0

    def _leak(self, now: float) -> None:
        self.used = max(self.used - (now - self.updated) * self.limit / self.period, 0.0)
        self.updated = now

    def remaining(self, now: float) -> int:
        self._leak(now)
        return max(math.floor(self.limit - self.used), 0)

    def take(self, cost: float, now: float) -> bool:
        self._leak(now)
        if self.used + cost > self.limit:
            return False
        self.used += cost
        return True

    def reset_ms(self, now: float) -> int:
        """When the bucket is full again, in epoch milliseconds (Linear's unit for every `*-Reset`)."""
        self._leak(now)
        return math.ceil((now + self.used * self.period / self.limit) * 1000)


@dataclass
class _Budgets:
    requests: RateBudget
    complexity: RateBudget
    endpoints: dict[str, RateBudget] = field(default_factory=dict)
    """Per-mutation budgets (`X-RateLimit-Endpoint-*`), keyed by the mutation's name."""


@dataclass
class LinearUserState:
    name: str
    email: str
    created_at: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_graphql(self) -> dict[str, Any]:
        """The `User` fields the sandbox answers; any other field of `User` is reported unimplemented."""
        return {
            "id": self.id,
            "name": self.name,
            "displayName": self.name.split(" ")[0].lower(),
            "email": self.email,
            "active": True,
            "admin": False,
            "guest": False,
            "isMe": True,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }

    def as_actor(self, workspace: str) -> dict[str, Any]:
        """The webhook `actor` for a change this user made (`UserActorWebhookPayload`)."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "type": "user",
            "url": f"https://linear.app/{workspace}/profiles/{self.name.split(' ')[0].lower()}",
        }


@dataclass
class LinearTeamState:
    id: str
    key: str
    name: str
    created_at: float
    sequence: int
    issue_count: int = 0
    """The last issue number handed out: identifiers are `KEY-<number>`, never reused."""


@dataclass
class LinearWorkflowState:
    id: str
    team_id: str
    name: str
    type: str
    position: float
    created_at: float


@dataclass
class LinearLabelState:
    id: str
    name: str
    team_id: str | None
    """None for a workspace label, which every team can apply."""
    color: str
    created_at: float
    sequence: int
    description: str | None = None
    is_group: bool = False
    parent_id: str | None = None
    archived_at: float | None = None


@dataclass
class LinearIssueState:
    id: str
    team_id: str
    number: int
    identifier: str
    url: str
    title: str
    description: str | None
    state_id: str
    label_ids: list[str]
    priority: int
    created_at: float
    updated_at: float
    sequence: int
    creator_id: str | None = None
    archived_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    canceled_at: float | None = None
    trashed: bool = False


@dataclass
class LinearCommentState:
    id: str
    issue_id: str
    body: str
    user_id: str
    created_at: float
    sequence: int


@dataclass
class LinearWebhookState:
    id: str
    url: str
    secret: str = field(repr=False)
    team_id: str | None
    """Deliver only this team's events; None: every public team, as a workspace-wide webhook."""
    resource_types: tuple[str, ...] = ("Issue",)


_IssueSnapshot = dict[str, Any]
_SortKey = tuple[float, ...]


class LinearSandbox(WebhookSandbox):
    """Linear's `POST /graphql` over a seeded workspace, with budgets and signed `Issue` webhooks."""

    service: ClassVar[str] = "Linear"
    signature_header: ClassVar[str] = "Linear-Signature"
    stale_age: ClassVar[float] = 120.0
    """Linear's SDK refuses deliveries more than 60 s old."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        request_limit: int = 2_500,
        complexity_limit: int = 3_000_000,
        period: float = 3_600.0,
        rate_limit_status: int = 400,
        endpoint_limits: Mapping[str, int] | None = None,
        workspace: str = "acme",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        deliver_webhooks_in_background: bool = False,
    ) -> None:
        """Budgets are per user and `period`; `rate_limit_status` is 400 as Linear documents, or 429.

        `endpoint_limits` gives some mutations their own budget per `period` (e.g.
        `{"commentCreate": 30}`), answered with `X-RateLimit-Endpoint-*` headers as Linear does.
        `workspace` is the URL key in issue URLs. Webhooks are sent when a test awaits
        `flush_webhooks()`, or as soon as they are queued with `deliver_webhooks_in_background`.
        """
        super().__init__(clock=clock)
        self.request_limit = request_limit
        self.complexity_limit = complexity_limit
        self.period = period
        self.rate_limit_status = rate_limit_status
        self.endpoint_limits = dict(endpoint_limits or {})
        self.workspace = workspace
        self.organization_id = str(uuid.uuid4())
        self.users: dict[str, LinearUserState] = {}
        self.teams: dict[str, LinearTeamState] = {}
        self.workflow_states: dict[str, LinearWorkflowState] = {}
        self.labels: dict[str, LinearLabelState] = {}
        self.issues: dict[str, LinearIssueState] = {}
        self.comments: dict[str, LinearCommentState] = {}
        self.webhooks: dict[str, LinearWebhookState] = {}
        self.outbox = WebhookOutbox(
            clock=clock,
            retry_delays=WEBHOOK_RETRY_DELAYS,
            timeout=WEBHOOK_TIMEOUT,
            accepts=lambda status: status == 200,
            transport=webhook_transport,
            background=deliver_webhooks_in_background,
        )
        self.operator = LinearUserState(
            name="Sandbox Operator", email="operator@sandbox.invalid", created_at=format_linear_time(clock())
        )
        """Who changes issues through the seeding methods: a person in Linear's UI, not an API key."""
        self._api_keys: dict[str, str] = {}
        self._oauth_tokens: dict[str, str] = {}
        self._budgets: dict[str, _Budgets] = {}
        self._sequence = 0
        self._sync_id = 0

    # Seeding: what a test sets up, and what the sandbox's own answers are made of.

    def add_user(
        self, name: str, email: str, *, api_key: str | None = None, oauth_token: str | None = None
    ) -> LinearUserState:
        """A user reachable with a personal `api_key` (sent raw) and/or an `oauth_token` (sent as Bearer)."""
        user = LinearUserState(name=name, email=email, created_at=format_linear_time(self.clock()))
        self.users[user.id] = user
        if api_key is not None:
            self._api_keys[api_key] = user.id
        if oauth_token is not None:
            self._oauth_tokens[oauth_token] = user.id
        return user

    def add_team(
        self, key: str, name: str | None = None, *, states: Iterable[tuple[str, str]] = DEFAULT_WORKFLOW_STATES
    ) -> LinearTeamState:
        """A team with its workflow `states` as (name, type) pairs, Linear's defaults unless given."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ValueError(f"team key {key!r} must be upper-case letters, digits or underscores, like ENG")
        if any(team.key == key for team in self.teams.values()):
            raise ValueError(f"a team with key {key!r} exists already")
        team = LinearTeamState(
            id=str(uuid.uuid4()), key=key, name=name or key.title(), created_at=self.clock(), sequence=self._next()
        )
        self.teams[team.id] = team
        for state_name, state_type in states:
            self.add_workflow_state(key, state_name, state_type)
        return team

    def add_workflow_state(self, team_key: str, name: str, type_: str) -> LinearWorkflowState:
        """One more state of a team, e.g. `("Triage", "triage")`; `type_` is one of `STATE_TYPES`."""
        if type_ not in STATE_TYPES:
            raise ValueError(f"workflow state type {type_!r} is not one of Linear's: {', '.join(STATE_TYPES)}")
        team = self.team(team_key)
        position = float(sum(1 for state in self.workflow_states.values() if state.team_id == team.id))
        state = LinearWorkflowState(
            id=str(uuid.uuid4()), team_id=team.id, name=name, type=type_, position=position, created_at=self.clock()
        )
        self.workflow_states[state.id] = state
        return state

    def add_label(
        self,
        name: str,
        *,
        team_key: str | None = None,
        color: str = DEFAULT_LABEL_COLOR,
        is_group: bool = False,
        parent: LinearLabelState | None = None,
    ) -> LinearLabelState:
        """A workspace label (no `team_key`) or a team label; the same name may exist in both places."""
        team_id = self.team(team_key).id if team_key is not None else None
        self._check_label_name_is_free(name, team_id)
        return self._create_label(
            name, team_id, color=color, is_group=is_group, parent_id=parent.id if parent is not None else None
        )

    def add_issue(
        self,
        team_key: str,
        title: str,
        *,
        description: str | None = None,
        state: str | None = None,
        labels: Iterable[str | LinearLabelState] = (),
        priority: int = 0,
        actor: LinearUserState | None = None,
    ) -> LinearIssueState:
        """A new issue `KEY-n` in the team's first `unstarted` state unless `state` names another.

        Labels are given as states or by name (the team's label first, else the workspace's).
        Queues an `Issue` `create` webhook.
        """
        team = self.team(team_key)
        team.issue_count += 1
        identifier = f"{team.key}-{team.issue_count}"
        now = self.clock()
        issue = LinearIssueState(
            id=str(uuid.uuid4()),
            team_id=team.id,
            number=team.issue_count,
            identifier=identifier,
            url=f"https://linear.app/{self.workspace}/issue/{identifier}",
            title=title,
            description=description,
            state_id=self._state_of(team, state).id,
            label_ids=[],
            priority=priority,
            created_at=now,
            updated_at=now,
            sequence=self._next(),
            creator_id=(actor or self.operator).id,
        )
        for label in labels:
            self._apply_label(issue, self._label_for(team, label))
        self._stamp_state_times(issue, None)
        self.issues[issue.id] = issue
        self._queue_issue_event("create", issue, actor=actor)
        return issue

    def update_issue(
        self,
        issue: LinearIssueState | str,
        *,
        title: str | None = None,
        description: str | None = None,
        state: str | None = None,
        add_labels: Iterable[str | LinearLabelState] = (),
        remove_labels: Iterable[str | LinearLabelState] = (),
        priority: int | None = None,
        actor: LinearUserState | None = None,
    ) -> LinearIssueState:
        """Change an issue as a person would in Linear; bumps `updatedAt` and queues an `update` webhook
        with `updatedFrom`, unless nothing actually changed."""
        found = self.issue(issue)
        team = self.teams[found.team_id]
        before = self._snapshot(found)
        if title is not None:
            found.title = title
        if description is not None:
            found.description = description
        if priority is not None:
            found.priority = priority
        if state is not None:
            found.state_id = self._state_of(team, state).id
        for label in add_labels:
            self._apply_label(found, self._label_for(team, label))
        for label in remove_labels:
            resolved = self._label_for(team, label)
            if resolved.id in found.label_ids:
                found.label_ids.remove(resolved.id)
        self._issue_changed(found, before, actor=actor)
        return found

    def archive_issue(self, issue: LinearIssueState | str, *, actor: LinearUserState | None = None) -> LinearIssueState:
        """Archive: hidden from `issues` unless `includeArchived`; still readable by `issue(id:)`.

        Sent as an `update` with `archivedAt` in `updatedFrom` [U: Linear may send `remove`].
        """
        found = self.issue(issue)
        before = self._snapshot(found)
        found.archived_at = self.clock()
        self._issue_changed(found, before, actor=actor)
        return found

    def delete_issue(self, issue: LinearIssueState | str, *, actor: LinearUserState | None = None) -> LinearIssueState:
        """Delete (move to the trash): archived and `trashed`, and a `remove` webhook."""
        found = self.issue(issue)
        now = self.clock()
        found.archived_at = now
        found.trashed = True
        found.updated_at = now
        self._queue_issue_event("remove", found, actor=actor)
        return found

    def add_webhook(self, url: str, secret: str, team_key: str | None = None) -> LinearWebhookState:
        """Subscribe `url` to `Issue` events of every team, or of `team_key` only, signed with `secret`."""
        if not secret:
            raise ValueError("a webhook needs a signing secret: Linear always signs deliveries")
        team_id = self.team(team_key).id if team_key is not None else None
        webhook = LinearWebhookState(id=str(uuid.uuid4()), url=url, secret=secret, team_id=team_id)
        self.webhooks[webhook.id] = webhook
        return webhook

    # Looking things up, for tests and for the resolvers.

    def team(self, key: str) -> LinearTeamState:
        for team in self.teams.values():
            if team.key == key:
                return team
        known = ", ".join(team.key for team in self.teams.values()) or "none yet"
        raise KeyError(f"no team with key {key!r} in the Linear sandbox (teams: {known}); add it with add_team()")

    def issue(self, issue: LinearIssueState | str) -> LinearIssueState:
        """An issue by state, UUID or identifier (`ENG-12`)."""
        if isinstance(issue, LinearIssueState):
            return issue
        found = self._find_issue(issue)
        if found is None:
            raise KeyError(f"no issue {issue!r} in the Linear sandbox")
        return found

    def labels_of(self, issue: LinearIssueState | str) -> list[str]:
        """The names of an issue's labels, in the order applied."""
        return [self.labels[label_id].name for label_id in self.issue(issue).label_ids]

    def comments_on(self, issue: LinearIssueState | str) -> list[LinearCommentState]:
        found = self.issue(issue)
        return [comment for comment in self.comments.values() if comment.issue_id == found.id]

    # Webhooks: queued on every change, sent when the test says so.

    def _signed_with_another_secret(self, body: bytes) -> str:
        return linear_signature(b"not-the-signing-secret", body)

    # The GraphQL endpoint.

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/graphql", self._graphql)

    async def _graphql(self, request: web.Request) -> web.Response:
        user = self._authenticated_user(request)
        now = self.clock()
        budgets = self._budgets_of(user.id)
        query, variables, operation_name = _read_request(read_json(await request.read()))
        schema = linear_schema()
        document, errors, code = _checked_document(query)
        if errors:
            raise _graphql_rejection(list(errors), code)
        assert document is not None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else ("Must provide operation name if query contains multiple operations.")
            )
            raise _graphql_rejection([GraphQLError(message)], "OPERATION_RESOLUTION_FAILURE")
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            raise _graphql_rejection(coerced, "BAD_USER_INPUT")
        complexity = estimate_complexity(schema, document, operation, variables)
        if not budgets.requests.take(1, now) or not budgets.complexity.take(complexity, now):
            refusal = self._rate_limited(budgets, now)
            refusal.headers["X-Complexity"] = str(complexity)
            raise refusal
        headers = {"X-Complexity": str(complexity)}
        for endpoint in self._limited_endpoints(operation):
            budget = self._endpoint_budget(budgets, endpoint, now)
            if not budget.take(1, now):
                raise self._rate_limited(budgets, now, endpoint=endpoint)
            headers.update(_endpoint_headers(endpoint, budget, now))
        result = execute_sync(
            schema,
            document,
            root_value=self._root(user),
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=_resolve_supported_field,
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [_format_execution_error(error) for error in result.errors]
        return web.json_response(answer, headers=headers)

    def _root(self, user: LinearUserState) -> dict[str, Any]:
        """Top-level fields with resolvers; the rest of the schema is valid but unimplemented."""
        return {
            "viewer": user.as_graphql(),
            "issues": self._resolve_issues,
            "issue": self._resolve_issue,
            "issueLabels": self._resolve_issue_labels,
            "teams": self._resolve_teams,
            "comment": self._resolve_comment,
            "issueAddLabel": lambda info, **arguments: self._add_label_mutation(user, **arguments),
            "issueRemoveLabel": lambda info, **arguments: self._remove_label_mutation(user, **arguments),
            "issueLabelCreate": lambda info, **arguments: self._create_label_mutation(**arguments),
            "commentCreate": lambda info, **arguments: self._create_comment_mutation(user, **arguments),
            "issueCreate": lambda info, **arguments: self._create_issue_mutation(user, **arguments),
        }

    # Query resolvers.

    def _resolve_issues(self, info: GraphQLResolveInfo[Any], **arguments: Any) -> dict[str, Any]:
        if arguments.get("sort"):
            raise _not_implemented("the `sort` argument of issues (use orderBy)")
        condition = arguments.get("filter") or {}
        include_archived = bool(arguments.get("includeArchived"))
        matching = [
            issue
            for issue in self.issues.values()
            if (include_archived or issue.archived_at is None) and self._issue_matches(issue, condition)
        ]
        key = _updated_first if arguments.get("orderBy") == "updatedAt" else _created_first
        return _connection(matching, key, self._issue_node, arguments)

    def _resolve_issue(self, info: GraphQLResolveInfo[Any], *, id: str) -> dict[str, Any]:
        return self._issue_node(self._require_issue(id))

    def _resolve_issue_labels(self, info: GraphQLResolveInfo[Any], **arguments: Any) -> dict[str, Any]:
        condition = arguments.get("filter") or {}
        include_archived = bool(arguments.get("includeArchived"))
        matching = [
            label
            for label in self.labels.values()
            if (include_archived or label.archived_at is None) and self._label_matches(label, condition)
        ]
        return _connection(matching, _created_first, self._label_node, arguments)

    def _resolve_teams(self, info: GraphQLResolveInfo[Any], **arguments: Any) -> dict[str, Any]:
        condition = arguments.get("filter") or {}
        matching = [team for team in self.teams.values() if self._team_matches(team, condition)]
        return _connection(matching, _created_first, self._team_node, arguments)

    def _resolve_comment(self, info: GraphQLResolveInfo[Any], **arguments: Any) -> dict[str, Any]:
        comment_id = arguments.get("id")
        if comment_id is None:
            raise _not_implemented("comment(hash:)")
        comment = self.comments.get(comment_id)
        if comment is None:
            raise _entity_not_found("Comment")
        return self._comment_node(comment)

    # Mutation resolvers.

    def _add_label_mutation(self, user: LinearUserState, *, id: str, labelId: str) -> dict[str, Any]:
        """Adding a label the issue has is a successful no-op: no `updatedAt` bump, no webhook [U]."""
        issue = self._require_issue(id)
        label = self._require_label(labelId)
        if label.team_id not in (None, issue.team_id):
            raise _input_error(f"Label {label.name!r} belongs to another team than issue {issue.identifier}")
        if label.is_group:
            raise _input_error(f"Label {label.name!r} is a group; apply one of its labels instead")
        before = self._snapshot(issue)
        self._apply_label(issue, label)
        self._issue_changed(issue, before, actor=user)
        return {"success": True, "issue": self._issue_node(issue), "lastSyncId": float(self._sync_id)}

    def _remove_label_mutation(self, user: LinearUserState, *, id: str, labelId: str) -> dict[str, Any]:
        """Removing a label the issue does not have is a successful no-op [U]."""
        issue = self._require_issue(id)
        label = self._require_label(labelId)
        before = self._snapshot(issue)
        if label.id in issue.label_ids:
            issue.label_ids.remove(label.id)
        self._issue_changed(issue, before, actor=user)
        return {"success": True, "issue": self._issue_node(issue), "lastSyncId": float(self._sync_id)}

    def _create_label_mutation(self, *, input: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        """A label; a team label when `teamId` is given. A name already used in that place is refused."""
        team_id = input.get("teamId")
        if team_id is not None and team_id not in self.teams:
            raise _entity_not_found("Team")
        label_id = input.get("id")
        if label_id is not None:
            _require_uuid(label_id, "id")
            if label_id in self.labels:
                raise _input_error(f"An IssueLabel with id {label_id} already exists")
        parent_id = input.get("parentId")
        if parent_id is not None:
            self._require_label(parent_id)
        self._check_label_name_is_free(input["name"], team_id, as_graphql_error=True)
        label = self._create_label(
            input["name"],
            team_id,
            color=input.get("color") or DEFAULT_LABEL_COLOR,
            is_group=bool(input.get("isGroup")),
            parent_id=parent_id,
            description=input.get("description"),
            label_id=label_id,
        )
        self._sync_id += 1
        return {"success": True, "issueLabel": self._label_node(label), "lastSyncId": float(self._sync_id)}

    def _create_issue_mutation(self, user: LinearUserState, *, input: Mapping[str, Any]) -> dict[str, Any]:
        """An issue in `teamId`'s team with its title, markdown description and `labelIds` [subset]."""
        unsupported = sorted(set(input) - {"teamId", "title", "description", "labelIds", "priority"})
        if unsupported:
            raise _not_implemented(f"issueCreate with {', '.join(unsupported)}")
        team = self.teams.get(input["teamId"])
        if team is None:
            raise _entity_not_found("Team")
        title = input.get("title")
        if not title:
            raise _input_error("title is required (the sandbox does not implement templates)")
        labels = [self._require_label(label_id) for label_id in input.get("labelIds") or ()]
        for label in labels:
            if label.team_id not in (None, team.id):
                raise _input_error(f"Label {label.name!r} belongs to another team than {team.key}")
        issue = self.add_issue(
            team.key,
            title,
            description=input.get("description"),
            labels=labels,
            priority=int(input.get("priority") or 0),
            actor=user,
        )
        return {"success": True, "issue": self._issue_node(issue), "lastSyncId": float(self._sync_id)}

    def _create_comment_mutation(self, user: LinearUserState, *, input: Mapping[str, Any]) -> dict[str, Any]:
        """A comment on an issue; a client-chosen `id` that exists already is refused [U: exact error]."""
        issue_ref = input.get("issueId")
        if issue_ref is None:
            raise _not_implemented("comments on anything but an issue (commentCreate without issueId)")
        if not (_is_uuid(issue_ref) or _IDENTIFIER.match(issue_ref)):
            raise _input_error("issueId must be a valid UUID or issue identifier", code="INVALID_INPUT")
        body = input.get("body")
        if not body:
            raise _input_error("body is required (the sandbox does not implement bodyData)")
        comment_id = input.get("id")
        if comment_id is not None:
            _require_uuid(comment_id, "id")
            if comment_id in self.comments:
                raise _input_error(f"A Comment with id {comment_id} already exists")
        issue = self._require_issue(issue_ref)
        comment = LinearCommentState(
            id=comment_id or str(uuid.uuid4()),
            issue_id=issue.id,
            body=body,
            user_id=user.id,
            created_at=self.clock(),
            sequence=self._next(),
        )
        self.comments[comment.id] = comment
        self._sync_id += 1
        return {"success": True, "comment": self._comment_node(comment), "lastSyncId": float(self._sync_id)}

    # Nodes: what each type answers. Related objects and connections are resolved lazily.

    def _issue_node(self, issue: LinearIssueState) -> dict[str, Any]:
        team = self.teams[issue.team_id]
        return {
            "id": issue.id,
            "identifier": issue.identifier,
            "number": float(issue.number),
            "title": issue.title,
            "description": issue.description,
            "url": issue.url,
            "branchName": f"{issue.identifier.lower()}-{_slug(issue.title)}",
            "priority": float(issue.priority),
            "priorityLabel": PRIORITY_LABELS[issue.priority],
            "createdAt": format_linear_time(issue.created_at),
            "updatedAt": format_linear_time(issue.updated_at),
            "archivedAt": _time_or_none(issue.archived_at),
            "startedAt": _time_or_none(issue.started_at),
            "completedAt": _time_or_none(issue.completed_at),
            "canceledAt": _time_or_none(issue.canceled_at),
            "trashed": issue.trashed or None,
            "labelIds": list(issue.label_ids),
            "previousIdentifiers": [],
            "team": lambda info, **_: self._team_node(team),
            "state": lambda info, **_: self._state_node(self.workflow_states[issue.state_id]),
            "labels": lambda info, **arguments: self._issue_labels(issue, arguments),
            "comments": lambda info, **arguments: _connection(
                self.comments_on(issue), _created_first, self._comment_node, arguments
            ),
        }

    def _issue_labels(self, issue: LinearIssueState, arguments: Mapping[str, Any]) -> dict[str, Any]:
        condition = arguments.get("filter") or {}
        labels = [self.labels[label_id] for label_id in issue.label_ids]
        matching = [label for label in labels if self._label_matches(label, condition)]
        return _connection(matching, _created_first, self._label_node, arguments)

    def _team_node(self, team: LinearTeamState) -> dict[str, Any]:
        return {
            "id": team.id,
            "key": team.key,
            "name": team.name,
            "displayName": team.name,
            "private": False,
            "createdAt": format_linear_time(team.created_at),
            "updatedAt": format_linear_time(team.created_at),
            "archivedAt": None,
        }

    def _state_node(self, state: LinearWorkflowState) -> dict[str, Any]:
        return {
            "id": state.id,
            "name": state.name,
            "type": state.type,
            "color": _STATE_COLORS[state.type],
            "position": state.position,
            "description": None,
            "createdAt": format_linear_time(state.created_at),
            "updatedAt": format_linear_time(state.created_at),
            "archivedAt": None,
            "team": lambda info, **_: self._team_node(self.teams[state.team_id]),
        }

    def _label_node(self, label: LinearLabelState) -> dict[str, Any]:
        return {
            "id": label.id,
            "name": label.name,
            "color": label.color,
            "description": label.description,
            "isGroup": label.is_group,
            "createdAt": format_linear_time(label.created_at),
            "updatedAt": format_linear_time(label.created_at),
            "archivedAt": _time_or_none(label.archived_at),
            "retiredAt": None,
            "team": lambda info, **_: self._team_node(self.teams[label.team_id]) if label.team_id else None,
            "parent": lambda info, **_: self._label_node(self.labels[label.parent_id]) if label.parent_id else None,
        }

    def _comment_node(self, comment: LinearCommentState) -> dict[str, Any]:
        issue = self.issues[comment.issue_id]
        user = self.users.get(comment.user_id)
        return {
            "id": comment.id,
            "body": comment.body,
            "url": f"{issue.url}#comment-{comment.id[:8]}",
            "createdAt": format_linear_time(comment.created_at),
            "updatedAt": format_linear_time(comment.created_at),
            "archivedAt": None,
            "editedAt": None,
            "issueId": issue.id,
            "parentId": None,
            "issue": lambda info, **_: self._issue_node(issue),
            "user": lambda info, **_: user.as_graphql() if user else None,
        }

    # Filters: each type's filter fields the sandbox evaluates; any other one is reported unimplemented.

    def _issue_matches(self, issue: LinearIssueState, condition: Mapping[str, Any]) -> bool:
        now = self.clock()
        tests: dict[str, Callable[[Any], bool]] = {
            "id": lambda c: _compare(issue.id, c),
            "number": lambda c: _compare(float(issue.number), c),
            "title": lambda c: _compare_text(issue.title, c),
            "description": lambda c: _compare_text(issue.description, c),
            "priority": lambda c: _compare(float(issue.priority), c),
            "createdAt": lambda c: _compare(issue.created_at, c, _instant_from(now)),
            "updatedAt": lambda c: _compare(issue.updated_at, c, _instant_from(now)),
            "archivedAt": lambda c: _compare(issue.archived_at, c, _instant_from(now)),
            "startedAt": lambda c: _compare(issue.started_at, c, _instant_from(now)),
            "completedAt": lambda c: _compare(issue.completed_at, c, _instant_from(now)),
            "canceledAt": lambda c: _compare(issue.canceled_at, c, _instant_from(now)),
            "team": lambda c: self._team_matches(self.teams[issue.team_id], c),
            "state": lambda c: self._state_matches(self.workflow_states[issue.state_id], c),
            "labels": lambda c: self._labels_match([self.labels[i] for i in issue.label_ids], c),
        }
        return _all_hold("IssueFilter", condition, tests, lambda part: self._issue_matches(issue, part))

    def _team_matches(self, team: LinearTeamState | None, condition: Mapping[str, Any]) -> bool:
        """A `TeamFilter`, or a `NullableTeamFilter` where `null: true` asks for no team at all."""
        wants_null = condition.get("null")
        if wants_null is not None and (team is None) != wants_null:
            return False
        rest = {key: value for key, value in condition.items() if key != "null"}
        if team is None:
            return not rest
        tests: dict[str, Callable[[Any], bool]] = {
            "id": lambda c: _compare(team.id, c),
            "key": lambda c: _compare_text(team.key, c),
            "name": lambda c: _compare_text(team.name, c),
        }
        return _all_hold("TeamFilter", rest, tests, lambda part: self._team_matches(team, part))

    def _state_matches(self, state: LinearWorkflowState, condition: Mapping[str, Any]) -> bool:
        tests: dict[str, Callable[[Any], bool]] = {
            "id": lambda c: _compare(state.id, c),
            "name": lambda c: _compare_text(state.name, c),
            "type": lambda c: _compare_text(state.type, c),
            "position": lambda c: _compare(state.position, c),
            "team": lambda c: self._team_matches(self.teams[state.team_id], c),
        }
        return _all_hold("WorkflowStateFilter", condition, tests, lambda part: self._state_matches(state, part))

    def _label_matches(self, label: LinearLabelState | None, condition: Mapping[str, Any]) -> bool:
        """An `IssueLabelFilter` (nullable where it is a label's `parent`)."""
        if label is None:
            return not condition or condition.get("null") is True
        now = self.clock()
        team = self.teams.get(label.team_id) if label.team_id else None
        parent = self.labels.get(label.parent_id) if label.parent_id else None
        tests: dict[str, Callable[[Any], bool]] = {
            "id": lambda c: _compare(label.id, c),
            "name": lambda c: _compare_text(label.name, c),
            "isGroup": lambda c: _compare(label.is_group, c),
            "createdAt": lambda c: _compare(label.created_at, c, _instant_from(now)),
            "team": lambda c: self._team_matches(team, c),
            "parent": lambda c: self._label_matches(parent, c),
            "null": lambda c: c is False,
        }
        return _all_hold("IssueLabelFilter", condition, tests, lambda part: self._label_matches(label, part))

    def _labels_match(self, labels: Sequence[LinearLabelState], condition: Mapping[str, Any]) -> bool:
        """An `IssueLabelCollectionFilter`: a label field on the collection holds when **any** label matches."""
        tests: dict[str, Callable[[Any], bool]] = {
            "some": lambda c: any(self._label_matches(label, c) for label in labels),
            "every": lambda c: all(self._label_matches(label, c) for label in labels),
            "length": lambda c: _compare(float(len(labels)), c),
            "null": lambda c: (not labels) == c,
        }
        for key in ("id", "name", "isGroup", "createdAt", "team", "parent"):
            tests[key] = functools.partial(self._any_label_matches, labels, key)
        return _all_hold("IssueLabelCollectionFilter", condition, tests, lambda part: self._labels_match(labels, part))

    def _any_label_matches(self, labels: Sequence[LinearLabelState], key: str, condition: Any) -> bool:
        return any(self._label_matches(label, {key: condition}) for label in labels)

    # State changes and their webhooks.

    def _snapshot(self, issue: LinearIssueState) -> _IssueSnapshot:
        """The fields whose previous values an `update` webhook carries in `updatedFrom`."""
        return {
            "title": issue.title,
            "description": issue.description,
            "priority": float(issue.priority),
            "stateId": issue.state_id,
            "labelIds": list(issue.label_ids),
            "archivedAt": _time_or_none(issue.archived_at),
            "startedAt": _time_or_none(issue.started_at),
            "completedAt": _time_or_none(issue.completed_at),
            "canceledAt": _time_or_none(issue.canceled_at),
            "updatedAt": format_linear_time(issue.updated_at),
        }

    def _issue_changed(self, issue: LinearIssueState, before: _IssueSnapshot, *, actor: LinearUserState | None) -> None:
        """Bump `updatedAt` and queue an `update` webhook, when anything differs from `before`."""
        self._stamp_state_times(issue, before["stateId"])
        after = self._snapshot(issue)
        updated_from = {key: value for key, value in before.items() if after[key] != value}
        if not updated_from:
            return
        issue.updated_at = self.clock()
        updated_from["updatedAt"] = before["updatedAt"]
        self._sync_id += 1
        self._queue_issue_event("update", issue, actor=actor, updated_from=updated_from)

    def _stamp_state_times(self, issue: LinearIssueState, previous_state_id: str | None) -> None:
        """`startedAt`, `completedAt` and `canceledAt` follow the state's type, as in Linear."""
        if issue.state_id == previous_state_id:
            return
        kind = self.workflow_states[issue.state_id].type
        now = self.clock()
        if kind == "started" and issue.started_at is None:
            issue.started_at = now
        issue.completed_at = now if kind == "completed" else None
        issue.canceled_at = now if kind in ("canceled", "duplicate") else None

    def _queue_issue_event(
        self,
        action: str,
        issue: LinearIssueState,
        *,
        actor: LinearUserState | None,
        updated_from: Mapping[str, Any] | None = None,
    ) -> None:
        subscribers = [
            webhook
            for webhook in self.webhooks.values()
            if "Issue" in webhook.resource_types and webhook.team_id in (None, issue.team_id)
        ]
        if not subscribers:
            return
        event: dict[str, Any] = {
            "action": action,
            "actor": (actor or self.operator).as_actor(self.workspace),
            "createdAt": format_linear_time(self.clock()),
            "data": self._issue_webhook_data(issue),
            "type": "Issue",
            "url": issue.url,
            "organizationId": self.organization_id,
        }
        if updated_from is not None:
            event["updatedFrom"] = dict(updated_from)
        for webhook in subscribers:
            self.outbox.enqueue(webhook.url, "Issue", functools.partial(_render_linear_webhook, webhook, event))

    def _issue_webhook_data(self, issue: LinearIssueState) -> dict[str, Any]:
        """`IssueWebhookPayload`: the issue as it is now, with its team, state and labels inlined."""
        team = self.teams[issue.team_id]
        state = self.workflow_states[issue.state_id]
        labels = [self.labels[label_id] for label_id in issue.label_ids]
        return {
            "id": issue.id,
            "identifier": issue.identifier,
            "number": issue.number,
            "title": issue.title,
            "description": issue.description,
            "url": issue.url,
            "priority": issue.priority,
            "priorityLabel": PRIORITY_LABELS[issue.priority],
            "prioritySortOrder": 0.0,
            "sortOrder": float(-issue.sequence),
            "createdAt": format_linear_time(issue.created_at),
            "updatedAt": format_linear_time(issue.updated_at),
            "archivedAt": _time_or_none(issue.archived_at),
            "startedAt": _time_or_none(issue.started_at),
            "completedAt": _time_or_none(issue.completed_at),
            "canceledAt": _time_or_none(issue.canceled_at),
            "trashed": issue.trashed or None,
            "teamId": team.id,
            "team": {"id": team.id, "key": team.key, "name": team.name},
            "stateId": state.id,
            "state": {"id": state.id, "name": state.name, "color": _STATE_COLORS[state.type], "type": state.type},
            "labelIds": list(issue.label_ids),
            "labels": [
                {"id": label.id, "name": label.name, "color": label.color, "parentId": label.parent_id}
                for label in labels
            ],
            "assigneeId": None,
            "creatorId": issue.creator_id,
            "parentId": None,
            "projectId": None,
            "cycleId": None,
            "subscriberIds": [],
            "previousIdentifiers": [],
            "reactionData": [],
        }

    # Helpers of the state.

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _find_issue(self, reference: str) -> LinearIssueState | None:
        if reference in self.issues:
            return self.issues[reference]
        if _IDENTIFIER.match(reference):
            wanted = reference.upper()
            return next((issue for issue in self.issues.values() if issue.identifier == wanted), None)
        return None

    def _require_issue(self, reference: str) -> LinearIssueState:
        issue = self._find_issue(reference)
        if issue is None:
            raise _entity_not_found("Issue")
        return issue

    def _require_label(self, label_id: str) -> LinearLabelState:
        label = self.labels.get(label_id)
        if label is None or label.archived_at is not None:
            raise _entity_not_found("IssueLabel")
        return label

    def _state_of(self, team: LinearTeamState, name: str | None) -> LinearWorkflowState:
        states = [state for state in self.workflow_states.values() if state.team_id == team.id]
        for state in states:
            if (name is None and state.type == "unstarted") or state.name == name:
                return state
        names = ", ".join(state.name for state in states)
        wanted = f"state {name!r}" if name else "an unstarted state"
        raise KeyError(f"team {team.key} has no {wanted} (its states: {names}); add it with add_workflow_state()")

    def _label_for(self, team: LinearTeamState, label: str | LinearLabelState) -> LinearLabelState:
        """A label by name: the team's own first, else the workspace's, as Linear's UI offers them."""
        if isinstance(label, LinearLabelState):
            return label
        named = [candidate for candidate in self.labels.values() if candidate.name == label]
        for scope in (team.id, None):
            for candidate in named:
                if candidate.team_id == scope and candidate.archived_at is None:
                    return candidate
        raise KeyError(f"no label {label!r} for team {team.key} or the workspace; add it with add_label()")

    def _apply_label(self, issue: LinearIssueState, label: LinearLabelState) -> None:
        """Children of one group are exclusive on an issue: applying one replaces its sibling [U]."""
        if label.id in issue.label_ids:
            return
        if label.parent_id is not None:
            issue.label_ids = [i for i in issue.label_ids if self.labels[i].parent_id != label.parent_id]
        issue.label_ids.append(label.id)

    def _check_label_name_is_free(self, name: str, team_id: str | None, *, as_graphql_error: bool = False) -> None:
        """Linear refuses a second label of one name in one team (or in the workspace)."""
        taken = any(
            label.team_id == team_id and label.archived_at is None and label.name.casefold() == name.casefold()
            for label in self.labels.values()
        )
        if not taken:
            return
        place = "team" if team_id else "workspace"
        message = f"Duplicate label name - Label with this name already exists in the {place}"
        if as_graphql_error:
            raise _input_error(message)
        raise ValueError(f"label {name!r}: {message}")

    def _create_label(
        self,
        name: str,
        team_id: str | None,
        *,
        color: str,
        is_group: bool,
        parent_id: str | None,
        description: str | None = None,
        label_id: str | None = None,
    ) -> LinearLabelState:
        label = LinearLabelState(
            id=label_id or str(uuid.uuid4()),
            name=name,
            team_id=team_id,
            color=color,
            created_at=self.clock(),
            sequence=self._next(),
            description=description,
            is_group=is_group,
            parent_id=parent_id,
        )
        self.labels[label.id] = label
        return label

    # Authentication and budgets.

    def _authenticated_user(self, request: web.Request) -> LinearUserState:
        header = request.headers.get("Authorization", "").strip()
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip().startswith("lin_api_"):
            message = (
                "It looks like you're trying to use an API key as a Bearer token. "
                "Remove the Bearer prefix from the Authorization header."
            )
            raise Rejection(400, message, body={"errors": [linear_error(message, "INPUT_ERROR", "invalid input")]})
        if scheme.lower() == "bearer":
            user_id = self._oauth_tokens.get(credentials.strip())
        else:
            user_id = self._api_keys.get(header)
        if user_id is None:
            self._budgets_of(ANONYMOUS).requests.take(1, self.clock())
            message = "Authentication required, not authenticated" if not header else "Invalid API key"
            presentable = "You need to authenticate to access this operation."
            error = linear_error(message, "AUTHENTICATION_ERROR", "authentication error", presentable=presentable)
            raise Rejection(401, message, body={"errors": [error]})
        return self.users[user_id]

    def _budgets_of(self, key: str) -> _Budgets:
        if key not in self._budgets:
            now = self.clock()
            self._budgets[key] = _Budgets(
                requests=RateBudget(self.request_limit, self.period, updated=now),
                complexity=RateBudget(self.complexity_limit, self.period, updated=now),
            )
        return self._budgets[key]

    def _limited_endpoints(self, operation: OperationDefinitionNode) -> list[str]:
        """The mutations of this operation that have their own budget."""
        if operation.operation is not OperationType.MUTATION:
            return []
        names = [node.name.value for node in operation.selection_set.selections if isinstance(node, FieldNode)]
        return [name for name in names if name in self.endpoint_limits]

    def _endpoint_budget(self, budgets: _Budgets, endpoint: str, now: float) -> RateBudget:
        if endpoint not in budgets.endpoints:
            budgets.endpoints[endpoint] = RateBudget(self.endpoint_limits[endpoint], self.period, updated=now)
        return budgets.endpoints[endpoint]

    def _rate_limited(
        self, budgets: _Budgets, now: float, *, status: int | None = None, endpoint: str | None = None
    ) -> Rejection:
        message = "Rate limit exceeded"
        presentable = "You have exceeded the API rate limit. Please try again later."
        error = linear_error(message, "RATELIMITED", "ratelimited", presentable=presentable)
        headers = self._budget_headers(budgets, now)
        if endpoint is not None:
            headers.update(_endpoint_headers(endpoint, budgets.endpoints[endpoint], now))
        return Rejection(status or self.rate_limit_status, message, body={"errors": [error]}, headers=headers)

    def _budget_headers(self, budgets: _Budgets, now: float) -> dict[str, str]:
        headers = {}
        for name, budget in (("Requests", budgets.requests), ("Complexity", budgets.complexity)):
            headers[f"X-RateLimit-{name}-Limit"] = str(budget.limit)
            headers[f"X-RateLimit-{name}-Remaining"] = str(budget.remaining(now))
            headers[f"X-RateLimit-{name}-Reset"] = str(budget.reset_ms(now))
        return headers

    def _user_key_of(self, request: web.Request) -> str:
        """Whose budget a response reports, read without side effects (faults answer before auth)."""
        header = request.headers.get("Authorization", "").strip()
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            return self._oauth_tokens.get(credentials.strip(), ANONYMOUS)
        return self._api_keys.get(header, ANONYMOUS)

    def _error_body(self, status: int, message: str) -> Any:
        code = "BAD_REQUEST" if status < 500 else "INTERNAL_SERVER_ERROR"
        return {"errors": [linear_error(message, code, "invalid input" if status < 500 else "internal error")]}

    def _fault_response(self, fault: Fault, request: web.Request) -> web.Response:
        """Rate limits in Linear's shape with the request budget spent until `wait` (default 1 s) from now."""
        now = self.clock()
        if fault.kind is FaultKind.RATE_LIMITED:
            budgets = self._budgets_of(self._user_key_of(request))
            rejection = self._rate_limited(budgets, now, status=fault.status)
            rejection.headers["X-RateLimit-Requests-Remaining"] = "0"
            wait = fault.wait if fault.wait is not None else 1.0
            rejection.headers["X-RateLimit-Requests-Reset"] = str(math.ceil((now + wait) * 1000))
            return self._reject(rejection)
        status = fault.status or 503
        headers = {"Retry-After": retry_after_seconds(fault.wait)} if fault.wait is not None else {}
        if status == 500:
            error = linear_error("Internal server error", "INTERNAL_SERVER_ERROR", "internal error", user_error=False)
            return web.json_response({"errors": [error]}, status=status, headers=headers)
        page = f"<html><head><title>{status}</title></head><body>upstream unavailable</body></html>"
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)

    def _decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in self._budget_headers(self._budgets_of(self._user_key_of(request)), self.clock()).items():
            response.headers.setdefault(name, value)


@functools.lru_cache(maxsize=256)
def _checked_document(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...], str]:
    """The parsed query and its validation errors against the schema, once per query text.

    A client sends the same few queries over and over; validating each again made the sandbox, not
    the client under test, the bottleneck of the throughput benchmarks.
    """
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,), "GRAPHQL_PARSE_FAILED"
    return document, tuple(validate(linear_schema(), document)), "GRAPHQL_VALIDATION_FAILED"


def _read_request(body: Any) -> tuple[str, dict[str, Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        message = "POST body must be a JSON object with a string 'query'."
        raise Rejection(400, message, body={"errors": [linear_error(message, "BAD_REQUEST", "invalid input")]})
    variables = body.get("variables") or {}
    operation_name = body.get("operationName")
    if not isinstance(variables, dict) or not (operation_name is None or isinstance(operation_name, str)):
        message = "'variables' must be an object and 'operationName' a string."
        raise Rejection(400, message, body={"errors": [linear_error(message, "BAD_REQUEST", "invalid input")]})
    return body["query"], variables, operation_name


def _graphql_rejection(errors: list[GraphQLError], code: str) -> Rejection:
    formatted = []
    for error in errors:
        entry = dict(error.formatted)
        entry["extensions"] = {
            "code": code,
            "type": "graphql error",
            "userError": True,
            "userPresentableMessage": error.message,
        }
        formatted.append(entry)
    return Rejection(400, errors[0].message, body={"errors": formatted})


def _format_execution_error(error: GraphQLError) -> dict[str, Any]:
    entry = dict(error.formatted)
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", "INTERNAL_SERVER_ERROR")
    extensions.setdefault("type", "other")
    extensions.setdefault("userError", False)
    extensions.setdefault("userPresentableMessage", error.message)
    entry["extensions"] = extensions
    return entry


def _resolve_supported_field(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
    """Answer fields present in the sandbox's data; say plainly which valid field is not implemented."""
    if isinstance(source, Mapping):
        if info.field_name not in source:
            raise GraphQLError(
                f"The Linear sandbox does not implement {info.parent_type.name}.{info.field_name}.",
                extensions={"code": "SANDBOX_NOT_IMPLEMENTED", "type": "other"},
            )
        value = source[info.field_name]
        return value(info, **arguments) if callable(value) else value
    return default_field_resolver(source, info, **arguments)


def format_linear_time(moment: float) -> str:
    """Linear's timestamp form: ISO-8601 with milliseconds and `Z`."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(moment * 1000) % 1000:03d}Z"


def _render_linear_webhook(
    webhook: LinearWebhookState, event: Mapping[str, Any], now: float, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """One attempt of an `Issue` delivery: stamped with `webhookTimestamp` (ms) and signed over its exact bytes.

    Each attempt is stamped anew: a retry an hour later carrying the first attempt's timestamp
    would fail every receiver's 60-second freshness check, Linear's own SDK included [U].
    """
    timestamp_ms = math.floor(now * 1000)
    payload = {**event, "webhookId": webhook.id, "webhookTimestamp": timestamp_ms}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Linear-Webhook",
        "Linear-Delivery": delivery_id,
        "Linear-Event": str(event["type"]),
        "Linear-Timestamp": str(timestamp_ms),
        "Linear-Signature": linear_signature(webhook.secret.encode(), body),
    }
    return body, headers


def _connection(
    items: Sequence[_Item],
    sort_key: Callable[[_Item], _SortKey],
    node: Callable[[_Item], dict[str, Any]],
    arguments: Mapping[str, Any],
) -> dict[str, Any]:
    """One page of a Relay connection: `first` (default 50) items after the `after` cursor.

    Cursors are opaque to clients; here they carry the sort key of their item, so a page boundary
    stays put even when that item has since left the filter (its label removed, say).
    """
    if arguments.get("last") is not None or arguments.get("before") is not None:
        raise _not_implemented("backward pagination (last/before)")
    first = arguments.get("first")
    size = DEFAULT_CONNECTION_SIZE if first is None else first
    if not 0 <= size <= MAX_CONNECTION_SIZE:
        raise _input_error(f"first must be between 0 and {MAX_CONNECTION_SIZE}, not {size}")
    ordered = sorted(items, key=sort_key)
    after = arguments.get("after")
    if after is not None:
        boundary = _cursor_key(after)
        ordered = [item for item in ordered if sort_key(item) > boundary]
    page = ordered[:size]
    cursors = [_cursor(sort_key(item)) for item in page]
    nodes = [node(item) for item in page]
    return {
        "nodes": nodes,
        "edges": [{"node": item, "cursor": cursor} for item, cursor in zip(nodes, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": len(ordered) > size,
            "hasPreviousPage": after is not None,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _created_first(item: Any) -> _SortKey:
    """Linear's default order: oldest first, ties in the order created."""
    return (float(item.created_at), float(item.sequence))


def _updated_first(item: Any) -> _SortKey:
    """`orderBy: updatedAt`: most recently updated first [U: direction]."""
    return (-float(item.updated_at), -float(item.sequence))


def _cursor(key: _SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _cursor_key(cursor: str) -> _SortKey:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError):
        values = None
    if not isinstance(values, list) or not all(isinstance(value, int | float) for value in values):
        raise _input_error(f"Invalid cursor {cursor!r}: pass a cursor from this connection's pageInfo or edges")
    return tuple(float(value) for value in values)


def _all_hold(
    type_name: str,
    condition: Mapping[str, Any],
    tests: Mapping[str, Callable[[Any], bool]],
    recurse: Callable[[Mapping[str, Any]], bool],
) -> bool:
    """Linear's filter semantics: every field of one object must hold; `and`/`or` combine objects."""
    for key, value in condition.items():
        if value is None:
            continue
        if key == "and":
            holds = all(recurse(part) for part in value)
        elif key == "or":
            holds = any(recurse(part) for part in value)
        elif key in tests:
            holds = tests[key](value)
        else:
            raise _not_implemented(f"the filter field {type_name}.{key}")
        if not holds:
            return False
    return True


_ORDERED: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _compare(
    value: Any, comparator: Mapping[str, Any], convert: Callable[[Any], Any] = lambda operand: operand
) -> bool:
    """ID, number, boolean and date comparators; a null value only satisfies `neq`, `nin` and `null: true`."""
    for name, operand in comparator.items():
        if operand is None:
            continue
        if name == "null":
            holds = (value is None) == operand
        elif name in ("in", "nin"):
            inside = value is not None and value in [convert(item) for item in operand]
            holds = inside == (name == "in")
        elif name in _ORDERED:
            holds = _ORDERED[name](value, convert(operand)) if value is not None else name == "neq"
        else:
            raise _not_implemented(f"the comparator {name}")
        if not holds:
            return False
    return True


def _fold(text: str) -> str:
    return text.casefold()


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_TEXT: Final[dict[str, Callable[[str, Any], bool]]] = {
    "eq": lambda value, operand: value == operand,
    "neq": lambda value, operand: value != operand,
    "in": lambda value, operand: value in operand,
    "nin": lambda value, operand: value not in operand,
    "eqIgnoreCase": lambda value, operand: _fold(value) == _fold(operand),
    "neqIgnoreCase": lambda value, operand: _fold(value) != _fold(operand),
    "startsWith": lambda value, operand: value.startswith(operand),
    "startsWithIgnoreCase": lambda value, operand: _fold(value).startswith(_fold(operand)),
    "notStartsWith": lambda value, operand: not value.startswith(operand),
    "endsWith": lambda value, operand: value.endswith(operand),
    "notEndsWith": lambda value, operand: not value.endswith(operand),
    "contains": lambda value, operand: operand in value,
    "notContains": lambda value, operand: operand not in value,
    "containsIgnoreCase": lambda value, operand: _fold(operand) in _fold(value),
    "notContainsIgnoreCase": lambda value, operand: _fold(operand) not in _fold(value),
    "containsIgnoreCaseAndAccent": lambda value, operand: _fold_accents(operand) in _fold_accents(value),
}
_TEXT_HOLDING_FOR_NULL: Final = frozenset(
    {"neq", "nin", "neqIgnoreCase", "notStartsWith", "notEndsWith", "notContains"}
)


def _compare_text(value: str | None, comparator: Mapping[str, Any]) -> bool:
    """`StringComparator` and `NullableStringComparator`; label-name `eq` is case-sensitive, as in Linear."""
    for name, operand in comparator.items():
        if operand is None:
            continue
        if name == "null":
            holds = (value is None) == operand
        elif name not in _TEXT:
            raise _not_implemented(f"the comparator {name}")
        elif value is None:
            holds = name in _TEXT_HOLDING_FOR_NULL
        else:
            holds = _TEXT[name](value, operand)
        if not holds:
            return False
    return True


def _instant_from(now: float) -> Callable[[Any], float]:
    """Reads a `DateTimeOrDuration`: an ISO-8601 instant, or a duration from `now` (`-PT1H`, `P2W`)."""

    def instant(operand: Any) -> float:
        text = str(operand)
        duration = _DURATION.match(text)
        if duration and any(duration.group(unit) for unit in _DURATION_SECONDS):
            seconds = sum(float(duration.group(unit) or 0) * size for unit, size in _DURATION_SECONDS.items())
            return now - seconds if duration.group("sign") == "-" else now + seconds
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _input_error(f"{text!r} is neither an ISO-8601 date-time nor a duration like -P2W") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    return instant


def _endpoint_headers(endpoint: str, budget: RateBudget, now: float) -> dict[str, str]:
    return {
        "X-RateLimit-Endpoint-Name": endpoint,
        "X-RateLimit-Endpoint-Requests-Limit": str(budget.limit),
        "X-RateLimit-Endpoint-Requests-Remaining": str(budget.remaining(now)),
        "X-RateLimit-Endpoint-Requests-Reset": str(budget.reset_ms(now)),
    }


def _not_implemented(what: str) -> GraphQLError:
    return GraphQLError(
        f"The Linear sandbox does not implement {what}.",
        extensions={"code": NOT_IMPLEMENTED_CODE, "type": "other"},
    )


def _input_error(message: str, *, code: str = "INPUT_ERROR", presentable: str | None = None) -> GraphQLError:
    """A refused argument, as Linear reports it: HTTP 200, `INPUT_ERROR`/`invalid input`, a user error."""
    extensions = {
        "code": code,
        "type": "invalid input",
        "userError": True,
        "userPresentableMessage": presentable or message,
    }
    return GraphQLError(message, extensions=extensions)


def _entity_not_found(entity: str) -> GraphQLError:
    """Linear's answer for an id or identifier it does not know (observed: `INPUT_ERROR`, HTTP 200)."""
    return _input_error(f"Entity not found: {entity}", presentable=f"Could not find referenced {entity}.")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _require_uuid(text: str, argument: str) -> None:
    if not _is_uuid(text):
        raise _input_error(f"{argument} must be a UUID", code="INVALID_INPUT")


def _time_or_none(moment: float | None) -> str | None:
    return None if moment is None else format_linear_time(moment)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
