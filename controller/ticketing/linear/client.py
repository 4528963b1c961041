"""The Linear GraphQL client (EXTERNAL_APIS.md §1): transport, auth, errors, rate limits, and the calls.

Every call is one `_graphql()` request of one document from `documents.py`: it returns `data` or
raises a `controller.ticketing.linear.errors` exception, also when Linear answers HTTP 200 with
`errors`. Queries are idempotent and retried; of the mutations, label add/remove are naturally
idempotent and a comment carries a client-chosen id that makes a repeat harmless, while creating a
label is not retried after it may have reached Linear (it is looked up again instead). Rate limits
are Linear's own: `RATELIMITED` at HTTP 400 (or 429), with resets in epoch **milliseconds**, waited
for by the shared retry loop of `controller.httpclient`.

`LinearClient` is the Linear `TicketSource`: one paginated query per poll finds every issue carrying
the AI label in every team the key can see, and the scopes only choose which of them to keep.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar, Final

import httpx

from controller.httpclient import (
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
    seconds_until_epoch_ms,
)
from controller.ticketing.linear.documents import (
    ADD_LABEL_MUTATION,
    AI_ISSUES_QUERY,
    COMMENT_QUERY,
    CREATE_COMMENT_MUTATION,
    CREATE_LABEL_MUTATION,
    FIND_LABEL_QUERY,
    ISSUE_QUERY,
    REMOVE_LABEL_MUTATION,
    VIEWER_QUERY,
)
from controller.ticketing.linear.errors import (
    LinearAuthError,
    LinearError,
    LinearErrorDetail,
    LinearForbidden,
    LinearInvalidInput,
    LinearQueryError,
    LinearRateLimited,
    LinearUnavailable,
)
from controller.ticketing.linear.models import (
    STATE_CATEGORIES,
    AddLabelData,
    AiIssuesData,
    CommentData,
    CommentNode,
    CreateCommentData,
    CreateLabelData,
    FindLabelData,
    IssueData,
    IssueNode,
    IssuePayload,
    LabelNode,
    LinearComment,
    LinearLabel,
    LinearViewer,
    RemoveLabelData,
    ViewerData,
)
from controller.ticketing.model import Provider, StateCategory, Ticket, TicketScope

logger = logging.getLogger("controller.ticketing.linear")

DEFAULT_ENDPOINT: Final = "https://api.linear.app/graphql"
RATE_LIMIT_BUDGETS: Final = ("requests", "complexity", "endpoint-requests")
"""Each budget has `X-RateLimit-<budget>-Remaining` and `-Reset` (epoch ms) headers."""
RATE_LIMITED_CODE: Final = "RATELIMITED"
RATE_LIMITED_TYPE: Final = "ratelimited"

DEFAULT_AI_LABEL: Final = "AI-Implement"
DEFAULT_WORKING_LABEL: Final = "AI-Working"
MAX_PAGE_SIZE: Final = 100
"""Issues per page of the poll: 100 issues with 20 labels each price at about 3,000 complexity
points, well under the 10,000-point cap of a single query."""
COMPLEXITY_MARGIN: Final = 1.0
"""Points waited for beyond the shortfall: headers carry whole points and whole milliseconds, and a
wait that lands exactly on the boundary is refused again as often as not."""
COMMENT_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://ai-implement.dev/linear/comment")
"""The uuid5 namespace of comment ids: one idempotency key always gives the same comment id."""
NOT_FOUND_PREFIX: Final = "Entity not found"
"""How Linear words an unknown id or identifier (`INPUT_ERROR`, observed at HTTP 200) [3P]."""
LINEAR_STATE_TYPES: Final = {
    category: tuple(kind for kind, mapped in STATE_CATEGORIES.items() if mapped is category)
    for category in StateCategory
}
"""The other way round: the `WorkflowState.type` values a category stands for."""

_AUTH_CODES: Final = frozenset({"AUTHENTICATION_ERROR"})
_AUTH_TYPES: Final = frozenset({"authentication error"})
_FORBIDDEN_CODES: Final = frozenset({"FORBIDDEN"})
_FORBIDDEN_TYPES: Final = frozenset({"forbidden"})
_INPUT_CODES: Final = frozenset({"INPUT_ERROR", "INVALID_INPUT"})
_INPUT_TYPES: Final = frozenset({"invalid input"})


def linear_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the spent budgets have room again; None when no budget says it is spent.

    Resets are epoch milliseconds, and say when a budget is *full* again. A budget at zero waits
    for its reset. A query refused for costing more complexity than is left (the refusal carries
    its `X-Complexity`, and the remaining points are above zero) waits only until the leaky
    bucket has refilled the difference, at the rate the reset implies. A budget that still has
    room for the query does not explain the refusal, so its reset is no reason to wait.
    """
    waits = []
    for budget in RATE_LIMIT_BUDGETS:
        remaining = _number(headers.get(f"x-ratelimit-{budget}-remaining"))
        if remaining is None or remaining > 0:
            continue
        wait = seconds_until_epoch_ms(headers.get(f"x-ratelimit-{budget}-reset"), now)
        if wait is not None:
            waits.append(wait)
    shortfall = _complexity_refill_wait(headers, now)
    if shortfall is not None:
        waits.append(shortfall)
    return max(waits, default=None)


def _complexity_refill_wait(headers: Mapping[str, str], now: float) -> float | None:
    cost = _number(headers.get("x-complexity"))
    limit = _number(headers.get("x-ratelimit-complexity-limit"))
    remaining = _number(headers.get("x-ratelimit-complexity-remaining"))
    until_full = seconds_until_epoch_ms(headers.get("x-ratelimit-complexity-reset"), now)
    if cost is None or limit is None or remaining is None or until_full is None:
        return None
    if remaining <= 0 or remaining >= cost or until_full <= 0 or limit <= remaining:
        return None
    refill_per_second = (limit - remaining) / until_full
    return (cost - remaining + COMPLEXITY_MARGIN) / refill_per_second


class LinearClient(ServiceClient):
    """Calls to Linear's GraphQL endpoint with a personal API key (or `Bearer <OAuth token>`)."""

    service: ClassVar[str] = "Linear"
    error_class: ClassVar[type[ServiceError]] = LinearError
    unavailable_class: ClassVar[type[ServiceError]] = LinearUnavailable
    provider: Provider = "linear"

    def __init__(
        self,
        api_key: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        ai_label: str = DEFAULT_AI_LABEL,
        working_label: str = DEFAULT_WORKING_LABEL,
        page_size: int = MAX_PAGE_SIZE,
        workspace_url: str | None = None,
    ) -> None:
        """`api_key` is sent verbatim: a personal key as it is, an OAuth token as `Bearer <token>`.

        `ai_label` marks tickets for AI work (matched ignoring case); `working_label` marks a ticket
        whose run is in progress, created as a team label where it does not exist yet. With
        `workspace_url` (e.g. https://linear.app/acme) ticket links are built from it instead of
        taken from Linear's answers.
        """
        key = api_key.strip()
        if not key:
            raise ValueError("a Linear API key is required (LINEAR_API_KEY): it is empty")
        if key.lower().startswith("bearer lin_api_"):
            raise ValueError(
                "a Linear personal API key (lin_api_…) goes into Authorization as it is: remove the "
                "'Bearer ' prefix from LINEAR_API_KEY (Linear answers 400 INPUT_ERROR to it)"
            )
        if not ai_label.strip() or not working_label.strip():
            raise ValueError(f"label names must not be empty: ai_label={ai_label!r}, working_label={working_label!r}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size={page_size} must be between 1 and {MAX_PAGE_SIZE}")
        url = httpx.URL(endpoint)
        super().__init__(
            str(url.copy_with(path="/", query=None, fragment=None)),
            authorization=key,
            transport=transport,
            retry=retry,
            timeouts=timeouts,
        )
        self._path = url.path
        self.ai_label = ai_label.strip()
        self.working_label = working_label.strip()
        self.workspace_url = workspace_url.rstrip("/") if workspace_url else None
        self.page_size = page_size
        self._labels: dict[tuple[str, str], LinearLabel] = {}
        self._team_ids: dict[str, str] = {}

    async def viewer(self) -> LinearViewer:
        """Who the key belongs to; also the cheapest check that the key works."""
        data = await self._graphql(VIEWER_QUERY, operation_name="Viewer")
        return self._parse(ViewerData, data, self._call("Viewer")).viewer

    async def fetch_ai_tickets(
        self, scopes: list[TicketScope], *, states: Collection[StateCategory] | None = None
    ) -> list[Ticket]:
        """Every non-archived issue carrying the AI label in the teams of `scopes`, all pages.

        The query filters by label only, across every team the key can see (as the product
        documents: polling filters by the label, not by team), and the scopes' team keys choose
        afterwards which issues to keep. So a poll costs one request per page whether one team
        is mapped or two hundred, and a query never grows with the number of mappings. The label
        is matched ignoring case (`eqIgnoreCase`): people type `ai-implement` as often as
        `AI-Implement`, and Linear's `eq` on names is case-sensitive. `states`, when given,
        narrows the query to those categories (e.g. the non-terminal ones).
        """
        team_keys = {scope.route_key for scope in scopes}
        if not team_keys:
            return []
        condition: dict[str, Any] = {"labels": {"name": {"eqIgnoreCase": self.ai_label}}}
        if states is not None:
            condition["state"] = {
                "type": {"in": sorted({kind for state in states for kind in LINEAR_STATE_TYPES[state]})}
            }
        tickets: dict[str, Ticket] = {}
        seen = pages = 0
        after: str | None = None
        cursors: set[str] = set()
        while True:
            variables = {"filter": condition, "first": self.page_size, "after": after}
            data = await self._graphql(AI_ISSUES_QUERY, variables, "AiIssues")
            page = self._parse(AiIssuesData, data, self._call("AiIssues")).issues
            pages += 1
            seen += len(page.nodes)
            for node in page.nodes:
                if node.team.key in team_keys and node.archived_at is None:
                    ticket = self._ticket_or_none(node)
                    if ticket is not None:
                        tickets[ticket.id] = ticket
            after = page.page_info.end_cursor
            if not page.page_info.has_next_page:
                break
            if after is None or after in cursors:
                raise LinearError(
                    f"Linear answered {self._call('AiIssues')} page {pages} with hasNextPage but "
                    f"{'no' if after is None else 'a repeated'} endCursor: stopping instead of looping"
                )
            cursors.add(after)
        logger.debug(
            "Linear poll: %d issues labelled %r in %d pages, %d in the %d mapped teams",
            seen,
            self.ai_label,
            pages,
            len(tickets),
            len(team_keys),
            extra={"provider": self.provider, "pages": pages, "issues": seen, "tickets": len(tickets)},
        )
        return list(tickets.values())

    async def ticket(self, id_or_identifier: str, scopes: Sequence[TicketScope] = ()) -> Ticket | None:
        """One issue by UUID or identifier (`ENG-123`), read fresh: what a webhook handler acts on.

        None when Linear does not know it, or it is archived (the poll never sees those either).
        """
        try:
            data = await self._graphql(ISSUE_QUERY, {"id": id_or_identifier}, "Issue")
        except LinearInvalidInput as error:
            if _is_not_found(error):
                return None
            raise
        node = self._parse(IssueData, data, self._call("Issue")).issue
        return None if node.archived_at is not None else _ticket_from(node, self.workspace_url)

    async def find_label(self, name: str, team_key: str) -> LinearLabel | None:
        """The label of `name` that an issue of team `team_key` can carry: the team's, else the workspace's.

        Names are not unique in Linear: one may exist in the workspace and again in any team
        (EXTERNAL_APIS.md §1.3). Matched ignoring case, like the poll, preferring an exact-case
        match; group labels are skipped (they cannot be applied). A found label is cached for
        the client's life; a missing one is asked for again next time.
        """
        cache_key = (name.casefold(), team_key)
        cached = self._labels.get(cache_key)
        if cached is not None:
            return cached
        label = await self._look_up_label(name, team_key)
        if label is not None:
            self._labels[cache_key] = label
        return label

    async def ensure_label(self, name: str, team_key: str) -> LinearLabel:
        """`find_label()`, creating a **team** label when there is none.

        A team label rather than a workspace label: creating workspace labels may be restricted to
        admins (`restrictLabelManagementToAdmins`), and a team label touches only the mapped team.
        Creation is not retried once it may have reached Linear; if it fails, the label is looked
        up again, which also settles a race with another replica creating the same label.
        """
        found = await self.find_label(name, team_key)
        if found is not None:
            return found
        team_id = self._team_ids.get(team_key)
        if team_id is None:
            raise LinearError(
                f"no Linear team with key {team_key!r} is visible to the API key, so label {name!r} cannot be "
                "created in it: check the mapping's team key and that the key's user is a member of the team"
            )
        call = self._call("CreateLabel")
        try:
            data = await self._graphql(
                CREATE_LABEL_MUTATION, {"input": {"name": name, "teamId": team_id}}, "CreateLabel", idempotent=False
            )
        except (LinearQueryError, LinearUnavailable):
            again = await self._look_up_label(name, team_key)
            if again is None:
                raise
            self._labels[(name.casefold(), team_key)] = again
            return again
        payload = self._parse(CreateLabelData, data, call).issue_label_create
        if not payload.success or payload.issue_label is None:
            raise LinearError(f"Linear answered {call} for label {name!r} in team {team_key} without success")
        label = payload.issue_label.as_label()
        self._labels[(name.casefold(), team_key)] = label
        return label

    async def add_label(self, issue_id: str, label_id: str) -> Ticket:
        """Apply a label; applying one the issue has already is a harmless repeat, so it is retried freely."""
        data = await self._graphql(ADD_LABEL_MUTATION, {"id": issue_id, "labelId": label_id}, "AddLabel")
        payload = self._parse(AddLabelData, data, self._call("AddLabel")).issue_add_label
        return _ticket_from(self._changed_issue(payload, "AddLabel", issue_id), self.workspace_url)

    async def remove_label(self, issue_id: str, label_id: str) -> Ticket:
        """Remove a label; removing one the issue does not have is a harmless repeat."""
        return _ticket_from(await self._remove_label(issue_id, label_id), self.workspace_url)

    async def mark_in_progress(self, ticket: Ticket) -> Ticket:
        """Put the working label on the ticket (creating it in the ticket's team if needed)."""
        label = await self.ensure_label(self.working_label, ticket.route_key)
        return await self.add_label(ticket.id, label.id)

    async def clear_in_progress(self, ticket: Ticket) -> Ticket:
        """Take the working label off the ticket: every label of that name, the team's and the workspace's.

        The ticket comes back unchanged, with no request beyond the lookup, when no such label exists.
        """
        label = await self.find_label(self.working_label, ticket.route_key)
        if label is None:
            return ticket
        node = await self._remove_label(ticket.id, label.id)
        for other in node.labels.nodes:
            if other.name.casefold() == self.working_label.casefold():
                node = await self._remove_label(ticket.id, other.id)
        return _ticket_from(node, self.workspace_url)

    async def create_comment(self, issue_id: str, body: str, *, idempotency_key: str) -> LinearComment:
        """Comment once per `idempotency_key`, however often this is called or retried.

        The comment's id is the uuid5 of the key (EXTERNAL_APIS.md §1.4): Linear has no idempotency
        header, but it refuses a second comment with the same id. So the call is retried like an
        idempotent one, and a refusal is answered by reading `comment(id:)`: when the comment is
        there, on this issue, it is the one an earlier attempt created. Keys must be unique per
        comment, e.g. the dispatch name and the comment's purpose.
        """
        comment_id = str(uuid.uuid5(COMMENT_ID_NAMESPACE, idempotency_key))
        call = self._call("CreateComment")
        variables = {"input": {"id": comment_id, "issueId": issue_id, "body": body}}
        try:
            data = await self._graphql(CREATE_COMMENT_MUTATION, variables, "CreateComment")
        except LinearQueryError:
            existing = await self._existing_comment(comment_id)
            if existing is None:
                raise
            if issue_id not in (existing.issue_id, existing.issue_identifier):
                raise LinearError(
                    f"comment {comment_id} (idempotency key {idempotency_key!r}) exists already on issue "
                    f"{existing.issue_identifier}, not on {issue_id}: idempotency keys must be unique per comment"
                ) from None
            return existing
        payload = self._parse(CreateCommentData, data, call).comment_create
        if not payload.success or payload.comment is None:
            raise LinearError(f"Linear answered {call} on issue {issue_id} without success")
        return payload.comment.as_comment()

    async def _look_up_label(self, name: str, team_key: str) -> LinearLabel | None:
        data = await self._graphql(FIND_LABEL_QUERY, {"name": name, "teamKey": team_key}, "FindLabel")
        found = self._parse(FindLabelData, data, self._call("FindLabel"))
        for team in found.teams.nodes:
            if team.key == team_key:
                self._team_ids[team_key] = team.id
        candidates = [node for node in found.issue_labels.nodes if not node.is_group]
        return _preferred_label(candidates, name, team_key)

    async def _remove_label(self, issue_id: str, label_id: str) -> IssueNode:
        data = await self._graphql(REMOVE_LABEL_MUTATION, {"id": issue_id, "labelId": label_id}, "RemoveLabel")
        payload = self._parse(RemoveLabelData, data, self._call("RemoveLabel")).issue_remove_label
        return self._changed_issue(payload, "RemoveLabel", issue_id)

    def _changed_issue(self, payload: IssuePayload, operation: str, issue_id: str) -> IssueNode:
        if not payload.success or payload.issue is None:
            raise LinearError(f"Linear answered {self._call(operation)} on issue {issue_id} without success")
        return payload.issue

    async def _existing_comment(self, comment_id: str) -> LinearComment | None:
        try:
            data = await self._graphql(COMMENT_QUERY, {"id": comment_id}, "Comment")
        except LinearInvalidInput as error:
            if _is_not_found(error):
                return None
            raise
        node: CommentNode = self._parse(CommentData, data, self._call("Comment")).comment
        return node.as_comment()

    def _ticket_or_none(self, node: IssueNode) -> Ticket | None:
        """A poll skips (and logs) an issue it cannot read rather than losing every other team's tickets."""
        try:
            return _ticket_from(node, self.workspace_url)
        except LinearError as error:
            logger.warning(
                "skipping Linear issue %s: %s",
                node.identifier,
                error.message,
                extra={"provider": self.provider, "issue": node.identifier},
            )
            return None

    def _call(self, operation: str) -> CallDescription:
        return CallDescription("POST", self._path, operation)

    async def _graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run one document; return its `data`, or raise when Linear reported any error."""
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name:
            payload["operationName"] = operation_name
        response = await self._send("POST", self._path, idempotent=idempotent, json=payload, operation=operation_name)
        call = CallDescription("POST", response.request.url.path, operation_name)
        body = self._json_body(response)
        if not isinstance(body, dict):
            raise LinearError(
                f"Linear answered {call} with a body that is not GraphQL: {self._excerpt(response)}",
                status=response.status_code,
            )
        details = self._error_details(body.get("errors"))
        data = body.get("data")
        if details:
            raise self._error_from_details(
                response.status_code, details, call, data=data if isinstance(data, dict) else None
            )
        if not isinstance(data, dict):
            raise LinearError(f"Linear answered {call} with neither data nor errors", status=response.status_code)
        return data

    def _is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        body = None if response.is_success else self._json_body(response)
        return isinstance(body, dict) and any(
            detail.code == RATE_LIMITED_CODE or detail.type == RATE_LIMITED_TYPE
            for detail in self._error_details(body.get("errors"))
        )

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        return linear_reset_wait(headers, now)

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        body = self._json_body(response)
        details = self._error_details(body.get("errors")) if isinstance(body, dict) else ()
        if not details:
            said = self._excerpt(response) or response.reason_phrase
            details = (LinearErrorDetail(message=said),)
        return self._error_from_details(response.status_code, details, call, retry_after=retry_after, note=note)

    def _error_from_details(
        self,
        status: int,
        details: tuple[LinearErrorDetail, ...],
        call: CallDescription,
        *,
        data: dict[str, Any] | None = None,
        retry_after: float | None = None,
        note: str | None = None,
    ) -> LinearError:
        first = details[0]
        message = f"Linear answered {status} to {call}: {first.message}"
        if first.code:
            message += f" [{first.code}]"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more errors)"
        if note:
            message += f" ({note})"
        return _error_class_for(status, details)(
            message, status=status, retry_after=retry_after, errors=details, data=data
        )

    def _error_details(self, errors: object) -> tuple[LinearErrorDetail, ...]:
        """The `errors` array as details, redacted; anything malformed in it is skipped, not trusted."""
        if not isinstance(errors, list):
            return ()
        details = []
        for error in errors:
            if not isinstance(error, dict):
                continue
            extensions = error.get("extensions")
            extensions = extensions if isinstance(extensions, dict) else {}
            path = error.get("path")
            presentable = extensions.get("userPresentableMessage")
            details.append(
                LinearErrorDetail(
                    message=self._redact(str(error.get("message") or "no message")),
                    code=_text(extensions.get("code")),
                    type=_text(extensions.get("type")),
                    path=tuple(part for part in path if isinstance(part, str | int)) if isinstance(path, list) else (),
                    user_presentable_message=self._redact(presentable) if isinstance(presentable, str) else None,
                )
            )
        return tuple(details)


def _error_class_for(status: int, details: tuple[LinearErrorDetail, ...]) -> type[LinearError]:
    codes = {detail.code for detail in details if detail.code}
    types = {detail.type for detail in details if detail.type}
    if RATE_LIMITED_CODE in codes or RATE_LIMITED_TYPE in types or status == 429:
        return LinearRateLimited
    if codes & _AUTH_CODES or types & _AUTH_TYPES or status == 401:
        return LinearAuthError
    if codes & _FORBIDDEN_CODES or types & _FORBIDDEN_TYPES or status == 403:
        return LinearForbidden
    if status >= 500:
        return LinearUnavailable
    if codes & _INPUT_CODES or types & _INPUT_TYPES:
        return LinearInvalidInput
    if codes or types or status in (200, 400):
        return LinearQueryError
    return LinearError


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _ticket_from(node: IssueNode, workspace_url: str | None) -> Ticket:
    category = STATE_CATEGORIES.get(node.state.type)
    if category is None:
        raise LinearError(
            f"issue {node.identifier} is in state {node.state.name!r} of type {node.state.type!r}, which is none of "
            f"Linear's documented types ({', '.join(STATE_CATEGORIES)})"
        )
    return Ticket(
        provider="linear",
        id=node.id,
        identifier=node.identifier,
        title=node.title,
        url=f"{workspace_url}/issue/{node.identifier}" if workspace_url else node.url,
        state_name=node.state.name,
        state=category,
        labels=frozenset(label.name for label in node.labels.nodes),
        updated_at=node.updated_at,
        route_key=node.team.key,
        description=node.description or "",
    )


def _preferred_label(candidates: list[LabelNode], name: str, team_key: str) -> LinearLabel | None:
    """The team's label before the workspace's; within each, the exact spelling before another case."""
    ranked = sorted(
        (
            (0 if node.team is not None else 1, 0 if node.name == name else 1, index, node)
            for index, node in enumerate(candidates)
            if node.name.casefold() == name.casefold() and (node.team is None or node.team.key == team_key)
        ),
        key=lambda entry: entry[:3],
    )
    return ranked[0][3].as_label() if ranked else None


def _is_not_found(error: LinearError) -> bool:
    return any(detail.message.startswith(NOT_FOUND_PREFIX) for detail in error.errors)
