"""The Jira Cloud REST v3 client, through the Atlassian cloud-ID gateway (EXTERNAL_APIS.md §2).

Every call goes to `{gateway}/ex/jira/{cloudId}/rest/api/3/...` with `Authorization: Bearer
<JIRA_TOKEN>`, through `_call()`, which retries on the shared rules and maps Jira's error bodies to
`controller.ticketing.jira.errors`. Jira's wait signals are `Retry-After` in seconds and
`X-RateLimit-Reset` as an ISO-8601 instant (minute precision, `2026-01-02T03:04Z`).

What the controller does with Jira, and how each call stays safe to repeat:
- the poll (`fetch_ai_tickets`, the `TicketSource` of Jira): one enhanced search for every mapping
  (`controller.ticketing.jira.jql`), paged by `nextPageToken`, routed back by repo field
  (`controller.ticketing.jira.tickets`); a read, so retried freely;
- the webhook path re-reads one issue (`ticket`);
- marking work in progress moves the issue to a status (`move_to_status`): transitions are not
  idempotent, so the current status is read first and a repeat is a no-op (§8.4);
- comments (`add_comment`) carry an idempotency key as a comment property and are looked up by it
  before posting, and again after an answer was lost, since Jira has no idempotency key of its own;
- the admin UI checks a mapping's JQL with Jira's own parser (`validate_jql`) and lists fields and
  select options (`fields`, `field_options`; options need a Jira administrator).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import quote

import httpx

from controller.httpclient import (
    CallDescription,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    Timeouts,
    seconds_until_iso_instant,
)
from controller.ticketing.jira.adf import adf_document, adf_text
from controller.ticketing.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraForbidden,
    JiraNotFound,
    JiraRateLimited,
    JiraTransitionNotAvailable,
    JiraUnavailable,
)
from controller.ticketing.jira.jql import MAX_JQL_CHARS, ai_ticket_batches, without_order_by
from controller.ticketing.jira.models import (
    COMMENT_PROPERTY_KEY,
    IDEMPOTENCY_KEY_FIELD,
    JiraComment,
    JiraEntityProperty,
    JiraField,
    JiraFieldOption,
    JiraStatus,
    JiraTransition,
    JiraUser,
    JqlValidation,
    _CommentList,
    _CommentPage,
    _Context,
    _FieldList,
    _JqlMatches,
    _Option,
    _PageBean,
    _ParsedQueries,
    _SearchPage,
    _StatusIssue,
    _TicketIssue,
    _Transitions,
)
from controller.ticketing.jira.tickets import (
    DEFAULT_CANCELLED_STATUSES,
    repo_field_id,
    route_keys,
    state_category,
)
from controller.ticketing.model import Provider, Ticket, TicketScope

logger = logging.getLogger("controller.ticketing.jira")
_ValueT = TypeVar("_ValueT")

DEFAULT_GATEWAY_URL: Final = "https://api.atlassian.com"
REQUEST_ID_HEADERS: Final = ("atl-traceid", "x-arequestid")
DEFAULT_AI_LABEL: Final = "AI-Implement"
DEFAULT_IMPLEMENTING_STATUS: Final = "Implementing"
TICKET_FIELDS: Final = ("summary", "status", "labels", "updated", "description")
MATCH_BATCH: Final = 1000
"""Issue ids, and JQLs, sent in one `jql/match` (Jira caps both)."""
"""The fields a ticket is made of; each search also asks for every scope's repo field."""
SEARCH_PAGE_SIZE: Final = 100
"""`maxResults` of one search page; Jira may answer fewer when many fields are asked for."""
MAX_SEARCH_PAGES: Final = 500
"""A bound on one search's pages (50,000 issues at full pages), against a server that never ends."""
COMMENT_PAGE_SIZE: Final = 100
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 100
"""A bound on offset-paged listings (field contexts and options)."""


def jira_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `X-RateLimit-Reset`, an ISO-8601 instant; used when `Retry-After` is absent."""
    return seconds_until_iso_instant(headers.get("x-ratelimit-reset"), now)


class JiraClient(ServiceClient):
    """Calls to one Jira Cloud site (by cloud id) through the Atlassian gateway with a Bearer token.

    It is the Jira `TicketSource` of the poller (`fetch_ai_tickets`), and the calls that mark a
    ticket, comment on it, and help configure a mapping. `site_url` (JIRA_SITE_URL) is what ticket
    links are built from, since the gateway never answers a browsable URL; only the calls that
    return a `Ticket` need it.
    """

    service: ClassVar[str] = "Jira"
    error_class: ClassVar[type[ServiceError]] = JiraError
    unavailable_class: ClassVar[type[ServiceError]] = JiraUnavailable
    provider: Provider = "jira"

    def __init__(
        self,
        token: str,
        cloud_id: str,
        *,
        site_url: str | None = None,
        ai_label: str = DEFAULT_AI_LABEL,
        implementing_status: str = DEFAULT_IMPLEMENTING_STATUS,
        cancelled_statuses: Iterable[str] = DEFAULT_CANCELLED_STATUSES,
        max_jql_chars: int = MAX_JQL_CHARS,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        if not token.strip():
            raise ValueError("a Jira token is required (JIRA_TOKEN): it is empty")
        if not cloud_id.strip():
            raise ValueError("a Jira cloud id is required (JIRA_CLOUD_ID): it is empty")
        if not ai_label.strip():
            raise ValueError("the AI label (AI_IMPLEMENT_LABEL) must not be empty")
        if not implementing_status.strip():
            raise ValueError("the implementing status (JIRA_IMPLEMENTING_STATUS) must not be empty")
        if max_jql_chars < 100:
            raise ValueError(f"max_jql_chars={max_jql_chars} is too small to hold a JQL; use at least 100")
        self.cloud_id = cloud_id.strip()
        self.site_url = site_url.strip().rstrip("/") if site_url and site_url.strip() else None
        self.ai_label = ai_label.strip()
        self.implementing_status = implementing_status.strip()
        self.cancelled_statuses = frozenset(name.casefold() for name in cancelled_statuses)
        self.max_jql_chars = max_jql_chars
        super().__init__(
            f"{gateway_url.rstrip('/')}/ex/jira/{quote(self.cloud_id, safe='')}/rest/api/3",
            authorization=f"Bearer {token.strip()}",
            transport=transport,
            retry=retry,
            timeouts=timeouts,
            secrets=(token.strip(),),
        )

    async def myself(self) -> JiraUser:
        """The user the token acts as; also the cheapest check that token and cloud id work."""
        body, call = await self._call("GET", "myself", idempotent=True)
        return self._parse(JiraUser, body, call)

    async def fetch_ai_tickets(self, scopes: list[TicketScope]) -> list[Ticket]:
        """Every issue with the AI label within any scope's JQL, routed to the scopes that select it.

        One search for all scopes (split only past `max_jql_chars`), every page; then one `jql/match`
        (per thousand issues) tells which scope's own JQL selects which issue, so an issue reaches a
        mapping only when that mapping's JQL selects it and its repo field holds the mapping's value,
        whatever the combined query let through. An issue without the AI label is never routed. An
        issue appears once per distinct route key it matches; those routed nowhere are counted in one
        log line so a mistyped value can be found.
        """
        if not scopes:
            return []
        for scope in scopes:
            _check_jira_scope(scope)
        fields = list(dict.fromkeys([*TICKET_FIELDS, *(repo_field_id(scope.repo_field or "") for scope in scopes)]))
        issues: dict[str, _TicketIssue] = {}
        known: dict[str, set[str]] = {}  # clause → issues a query of that clause alone returned
        combined: dict[str, list[str]] = {}  # issue → clauses of combined queries that returned it
        for jql, clauses in ai_ticket_batches(
            self.ai_label, (scope.jql or "" for scope in scopes), max_chars=self.max_jql_chars
        ):
            async for issue in self._search(jql, fields):
                issues.setdefault(issue.id, issue)
                if len(clauses) == 1:
                    known.setdefault(clauses[0], set()).add(issue.id)
                else:
                    combined.setdefault(issue.id, []).extend(clauses)
        unlabelled = sorted(issue.key for issue in issues.values() if self.ai_label not in issue.fields.labels)
        if unlabelled:
            logger.warning(
                "Jira returned %d issues without the label %r for the AI poll; they are left out: %s",
                len(unlabelled),
                self.ai_label,
                ", ".join(unlabelled),
                extra={"provider": "jira"},
            )
        labelled = [issue for issue in issues.values() if self.ai_label in issue.fields.labels]
        to_match = [issue for issue in labelled if issue.id in combined]
        clauses_of = {id(scope): _clause(scope) for scope in scopes}  # each scope's clause, worked out once
        returned = {clause for issue in to_match for clause in combined[issue.id]}
        matched_scopes = [scope for scope in scopes if clauses_of[id(scope)] in returned]
        selected = await self._selected_by(to_match, matched_scopes) if to_match else {}
        for clause, ids in known.items():
            selected.setdefault(clause, set()).update(ids)
        scopes_selecting = _scopes_selecting(scopes, clauses_of, selected)
        tickets: list[Ticket] = []
        unrouted: list[str] = []
        for issue in labelled:
            own = scopes_selecting.get(issue.id, [])
            keys = route_keys(issue.fields.model_extra or {}, own)
            if not keys:
                unrouted.append(issue.key)
            tickets.extend(self._ticket_from(issue, key) for key in keys)
        if unrouted:
            logger.info(
                "%d Jira issues with the label %r match no mapping's own JQL and repo field value: %s",
                len(unrouted),
                self.ai_label,
                ", ".join(sorted(unrouted)),
                extra={"provider": "jira", "unrouted_issues": len(unrouted)},
            )
        return tickets

    async def ticket(self, key_or_id: str, scopes: Sequence[TicketScope] = ()) -> Ticket | None:
        """One issue as a ticket, read now (webhooks announce, this confirms); None when missing or hidden.

        Its `route_key` is that of the first of `scopes` whose repo field value the issue holds and
        whose own JQL selects it, or empty when none does (or none is given): routing is the caller's
        decision, with its mappings.
        """
        repo_fields = [repo_field_id(scope.repo_field) for scope in scopes if scope.repo_field]
        fields = ",".join(dict.fromkeys([*TICKET_FIELDS, *repo_fields]))
        try:
            body, call = await self._call("GET", _issue_path(key_or_id), idempotent=True, params={"fields": fields})
        except JiraNotFound:
            return None
        issue = self._parse(_TicketIssue, body, call)
        candidates = [scope for scope in scopes if route_keys(issue.fields.model_extra or {}, [scope])]
        if candidates:
            selected = await self._selected_by([issue], candidates)
            candidates = [scope for scope in candidates if issue.id in selected[_clause(scope)]]
        keys = route_keys(issue.fields.model_extra or {}, candidates)
        return self._ticket_from(issue, keys[0] if keys else "")

    async def _selected_by(self, issues: Sequence[_TicketIssue], scopes: Sequence[TicketScope]) -> dict[str, set[str]]:
        """Which of `issues` each scope's own JQL selects, keyed by the clause (Jira's `jql/match`)."""
        clauses = list(dict.fromkeys(_clause(scope) for scope in scopes))
        ids = [issue.id for issue in issues]
        selected: dict[str, set[str]] = {clause: set() for clause in clauses}
        if "" in selected:
            selected[""] = set(ids)  # no restriction: every labelled issue
        sent = [clause for clause in clauses if clause]
        numbers = [int(issue_id) for issue_id in ids if issue_id.isdigit()]
        for start in range(0, len(numbers), MATCH_BATCH):
            for first in range(0, len(sent), MATCH_BATCH):
                batch = sent[first : first + MATCH_BATCH]
                body = {"issueIds": numbers[start : start + MATCH_BATCH], "jqls": batch}
                answer, call = await self._call("POST", "jql/match", idempotent=True, json=body)
                matches = self._parse(_JqlMatches, answer, call).matches
                if len(matches) != len(batch):
                    raise JiraError(f"Jira answered {call} with {len(matches)} results for {len(batch)} JQLs")
                for clause, match in zip(batch, matches, strict=True):
                    if match.errors:
                        logger.warning(
                            "Jira cannot match issues against a mapping's JQL %r: %s", clause, "; ".join(match.errors)
                        )
                    selected[clause].update(str(number) for number in match.matched_issues)
        return selected

    async def transitions(self, issue: str) -> list[JiraTransition]:
        """The transitions the workflow offers this user from the issue's current status."""
        body, call = await self._call("GET", f"{_issue_path(issue)}/transitions", idempotent=True)
        return list(self._parse(_Transitions, body, call).transitions)

    async def move_to_status(self, issue: str, status_name: str) -> bool:
        """Move the issue to the status named `status_name` (case-insensitive); False when it is there already.

        Transitions are not idempotent, so the current status is read first (a repeat is a no-op), and
        a refusal or a lost answer is checked against the status again before it counts as a failure.
        """
        wanted = status_name.strip()
        if not wanted:
            raise ValueError("the status to move a Jira issue to must not be empty")
        current = await self._status_of(issue)
        if _same_name(current.name, wanted):
            return False
        offered = await self.transitions(issue)
        transition = _transition_to(offered, wanted)
        if transition is None:
            available = tuple(dict.fromkeys(option.to.name for option in offered))
            raise JiraTransitionNotAvailable(issue, wanted, current=current.name, available=available)
        try:
            await self._call(
                "POST",
                f"{_issue_path(issue)}/transitions",
                idempotent=False,
                json={"transition": {"id": transition.id}},
            )
        except JiraError as error:
            refused = type(error) is JiraError and error.status == 400
            if not (refused or isinstance(error, JiraUnavailable)):
                raise
            if not _same_name((await self._status_of(issue)).name, wanted):
                raise
            return not refused
        return True

    async def move_to_implementing(self, issue: str) -> bool:
        """Mark the issue as being worked on: move it to `implementing_status` (JIRA_IMPLEMENTING_STATUS)."""
        return await self.move_to_status(issue, self.implementing_status)

    async def add_comment(self, issue: str, text: str, *, idempotency_key: str) -> JiraComment:
        """Comment once per `idempotency_key`: a repeat returns the comment already there.

        Jira has no idempotency key, so the key is stored as the comment property `ai-implement`
        (`{"idempotencyKey": …}`) and the issue's comments are searched for it before posting, and
        again when the post's answer is lost (the comment may exist though the call failed).
        """
        if not idempotency_key.strip():
            raise ValueError("a Jira comment needs a non-empty idempotency key")
        body = {
            "body": adf_document(text),
            "properties": [{"key": COMMENT_PROPERTY_KEY, "value": {IDEMPOTENCY_KEY_FIELD: idempotency_key}}],
        }
        existing = await self._comment_with_key(issue, idempotency_key)
        if existing is not None:
            return existing
        try:
            answer, call = await self._call("POST", f"{_issue_path(issue)}/comment", idempotent=False, json=body)
        except JiraUnavailable:
            existing = await self._comment_with_key(issue, idempotency_key)
            if existing is None:
                raise
            return existing
        comment = self._parse(JiraComment, answer, call, status=201)
        if comment.idempotency_key is None:
            stored = JiraEntityProperty(key=COMMENT_PROPERTY_KEY, value={IDEMPOTENCY_KEY_FIELD: idempotency_key})
            comment = comment.model_copy(update={"properties": (*comment.properties, stored)})
        return comment

    async def validate_jql(self, jql: str) -> JqlValidation:
        """Jira's own parser on a mapping's JQL (strict: unknown fields are errors, unknown values warnings)."""
        if not jql.strip():
            return JqlValidation(query=jql, errors=("the JQL is empty: a Jira mapping needs a JQL clause",))
        body, call = await self._call(
            "POST", "jql/parse", idempotent=True, params={"validation": "strict"}, json={"queries": [jql]}
        )
        parsed = self._parse(_ParsedQueries, body, call)
        if len(parsed.queries) != 1:
            raise JiraError(f"Jira answered {call} with {len(parsed.queries)} parsed queries for the one sent")
        return parsed.queries[0]

    async def fields(self) -> list[JiraField]:
        """Every field the token's user can see, system and custom, with the names JQL knows them by."""
        body, call = await self._call("GET", "field", idempotent=True)
        return self._parse(_FieldList, body, call).root

    async def field_options(self, field_id: str) -> list[JiraFieldOption]:
        """The options of a select field, context by context; Jira allows this to administrators only."""
        field = repo_field_id(field_id)
        if not field:
            raise ValueError("a Jira field id is required to list its options, e.g. customfield_10042")
        base = f"field/{quote(field, safe='')}/context"
        try:
            options: list[JiraFieldOption] = []
            async for context in self._offset_pages(base, _PageBean[_Context]):
                option_path = f"{base}/{quote(context.id, safe='')}/option"
                async for option in self._offset_pages(option_path, _PageBean[_Option]):
                    options.append(
                        JiraFieldOption(
                            id=option.id,
                            value=option.value,
                            disabled=option.disabled,
                            context_id=context.id,
                            context_name=context.name,
                        )
                    )
        except JiraForbidden as error:
            raise JiraForbidden(
                f"Jira refused to list the options of field {field}: custom field contexts and options need the "
                "Administer Jira global permission, which the user of JIRA_TOKEN does not have; type the "
                f"repo field value by hand, or use an administrator's token ({error.message})",
                status=error.status,
                request_id=error.request_id,
                error_messages=error.error_messages,
                errors=error.errors,
            ) from error
        return options

    async def _search(self, jql: str, fields: list[str]) -> AsyncIterator[_TicketIssue]:
        """Every issue of one enhanced search (POST, so a long JQL is no URL), page by page."""
        token: str | None = None
        seen_tokens: set[str] = set()
        for _ in range(MAX_SEARCH_PAGES):
            request: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": SEARCH_PAGE_SIZE}
            if token is not None:
                request["nextPageToken"] = token
            body, call = await self._call("POST", "search/jql", idempotent=True, json=request)
            page = self._parse(_SearchPage, body, call)
            for issue in page.issues:
                yield issue
            token = page.next_page_token
            if not token or page.is_last:
                return
            if token in seen_tokens:
                raise JiraError(f"Jira answered {call} with a nextPageToken it had already given: the paging loops")
            seen_tokens.add(token)
        raise JiraError(f"Jira search did not end after {MAX_SEARCH_PAGES} pages of {SEARCH_PAGE_SIZE}; stopped")

    async def _offset_pages(self, path: str, page_model: type[_PageBean[_ValueT]]) -> AsyncIterator[_ValueT]:
        """Every value of a classic `startAt`/`maxResults` listing."""
        start = 0
        for _ in range(MAX_PAGES):
            params = {"startAt": str(start), "maxResults": str(PAGE_SIZE)}
            body, call = await self._call("GET", path, idempotent=True, params=params)
            page = self._parse(page_model, body, call)
            for value in page.values:
                yield value
            start = page.start_at + len(page.values)
            if page.is_last or not page.values or (page.total is not None and start >= page.total):
                return
        raise JiraError(f"Jira listing {path} did not end after {MAX_PAGES} pages; stopped")

    async def _status_of(self, issue: str) -> JiraStatus:
        body, call = await self._call("GET", _issue_path(issue), idempotent=True, params={"fields": "status"})
        return self._parse(_StatusIssue, body, call).fields.status

    async def _comment_with_key(self, issue: str, idempotency_key: str) -> JiraComment | None:
        """The issue's comment carrying `idempotency_key`, newest first; comment properties come from `comment/list`."""
        start = 0
        while True:
            body, call = await self._call(
                "GET",
                f"{_issue_path(issue)}/comment",
                idempotent=True,
                params={"startAt": str(start), "maxResults": str(COMMENT_PAGE_SIZE), "orderBy": "-created"},
            )
            page = self._parse(_CommentPage, body, call)
            ids = [int(comment.id) for comment in page.comments if comment.id.isdigit()]
            if ids:
                listed, list_call = await self._call(
                    "POST", "comment/list", idempotent=True, params={"expand": "properties"}, json={"ids": ids}
                )
                for comment in self._parse(_CommentList, listed, list_call).values:
                    if comment.idempotency_key == idempotency_key:
                        return comment
            start = page.start_at + len(page.comments)
            if not page.comments or start >= page.total:
                return None

    def _ticket_from(self, issue: _TicketIssue, route_key: str) -> Ticket:
        if self.site_url is None:
            raise ValueError("JiraClient needs site_url (JIRA_SITE_URL) to build ticket links; it was not given")
        status = issue.fields.status
        category = status.category.key if status.category else None
        return Ticket(
            provider="jira",
            id=issue.id,
            identifier=issue.key,
            title=issue.fields.summary,
            url=f"{self.site_url}/browse/{issue.key}",
            state_name=status.name,
            state=state_category(category, status.name, self.cancelled_statuses),
            labels=frozenset(issue.fields.labels),
            updated_at=issue.fields.updated,
            route_key=route_key,
            description=adf_text(issue.fields.description),
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Any, CallDescription]:
        """Send one call relative to `/rest/api/3/`; return its JSON body (None when empty, e.g. 204)."""
        response = await self._send(method, path, idempotent=idempotent, json=json, params=params)
        return self._json_body(response), CallDescription(method, response.request.url.path)

    def _reset_wait(self, headers: Mapping[str, str], now: float) -> float | None:
        return jira_reset_wait(headers, now)

    def _error_for_response(
        self, response: httpx.Response, call: CallDescription, *, retry_after: float | None, note: str | None
    ) -> ServiceError:
        status = response.status_code
        body = self._json_body(response)
        error_messages: tuple[str, ...] = ()
        errors: dict[str, str] = {}
        gateway_message = None
        if isinstance(body, dict):
            raw_messages = body.get("errorMessages")
            if isinstance(raw_messages, list):
                error_messages = tuple(self._redact(str(text)) for text in raw_messages if text)
            raw_errors = body.get("errors")
            if isinstance(raw_errors, dict):
                errors = {str(field): self._redact(str(text)) for field, text in raw_errors.items()}
            if isinstance(body.get("message"), str):
                gateway_message = self._redact(body["message"])
        parts = [*error_messages, *(f"{field}: {text}" for field, text in errors.items())]
        said = "; ".join(parts) or gateway_message or self._excerpt(response) or response.reason_phrase
        message = f"Jira answered {status} to {call}: {said}"
        if note:
            message += f" ({note})"
        request_id = next((response.headers[name] for name in REQUEST_ID_HEADERS if name in response.headers), None)
        return _error_class_for(status)(
            message,
            status=status,
            request_id=request_id,
            retry_after=retry_after,
            error_messages=error_messages,
            errors=errors,
        )


def _error_class_for(status: int) -> type[JiraError]:
    if status == 401:
        return JiraAuthError
    if status == 403:
        return JiraForbidden
    if status == 404:
        return JiraNotFound
    if status == 429:
        return JiraRateLimited
    if status >= 500:
        return JiraUnavailable
    return JiraError


def _check_jira_scope(scope: TicketScope) -> None:
    """A Jira scope needs its JQL and repo field; the mapping's schema requires both, so this is a bug upstream."""
    missing = [
        name for name, value in (("jql", scope.jql), ("repo_field", scope.repo_field)) if not (value or "").strip()
    ]
    if missing:
        raise ValueError(f"the Jira scope of mapping {scope.team_key!r} has no {' and no '.join(missing)}")
    if not scope.route_key.strip():
        raise ValueError(f"the Jira scope of mapping {scope.team_key!r} has an empty repo field value (route_key)")


def _issue_path(issue: str) -> str:
    key = issue.strip()
    if not key:
        raise ValueError("a Jira issue key or id is required, e.g. ENG-123 or 10042")
    return f"issue/{quote(key, safe='')}"


def _same_name(left: str, right: str) -> bool:
    return left.strip().casefold() == right.strip().casefold()


def _transition_to(offered: Iterable[JiraTransition], wanted: str) -> JiraTransition | None:
    """The transition to a status named `wanted`; failing that, one itself named so (§2.4)."""
    options = [option for option in offered if option.is_available]
    by_target = next((option for option in options if _same_name(option.to.name, wanted)), None)
    return by_target or next((option for option in options if _same_name(option.name, wanted)), None)


def _scopes_selecting(
    scopes: Sequence[TicketScope], clauses_of: Mapping[int, str], selected: Mapping[str, set[str]]
) -> dict[str, list[TicketScope]]:
    """Issue id → the scopes whose own JQL selects it, in the scopes' order; in one pass over the answers."""
    by_issue: dict[str, list[TicketScope]] = {}
    for scope in scopes:
        for issue_id in selected.get(clauses_of[id(scope)], ()):
            by_issue.setdefault(issue_id, []).append(scope)
    return by_issue


def _clause(scope: TicketScope) -> str:
    """A scope's JQL as the poll and `jql/match` use it: without its ORDER BY."""
    return without_order_by(scope.jql or "")
