"""The Jira Cloud sandbox behind an Atlassian-gateway look-alike (EXTERNAL_APIS.md §2, §9 items 6 to 9).

Paths are the gateway's, `/ex/jira/{cloudId}/rest/api/3/...`. The gateway answers first: an
unknown cloud id is 404, a missing or unknown Bearer token is 401, and a token of another site is
401 "scope does not match", all in the gateway's `{"code", "message"}` shape; Jira itself answers
with its `{"errorMessages", "errors"}` shape. Rate limits are 429 with `Retry-After` in seconds
and `X-RateLimit-Reset` as an ISO-8601 minute (`2026-01-02T03:05Z`).

Tests seed sites, users, projects (each with a workflow), custom fields and issues through
methods, then drive it through the REST API the client uses: enhanced search with
`nextPageToken` (ids only unless `fields` is given; no `total`; the old `/search` is 410 Gone),
issues, transitions, comments with properties, JQL parsing, fields and their admin-only contexts
and options. Every change, through a seeding method or the API, queues admin-webhook deliveries.
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import httpx
from aiohttp import web

from controller.sandbox.base import (
    Fault,
    FaultKind,
    Rejection,
    WebhookOutbox,
    WebhookSandbox,
    read_json,
    retry_after_seconds,
)
from controller.sandbox.jira.jql import JqlError, Query, check_jql, matcher, matches, parse_jql, structure_json
from controller.sandbox.jira.state import (
    ISSUE_EXPAND,
    FieldKind,
    JiraCommentState,
    JiraContextState,
    JiraFieldState,
    JiraIssueState,
    JiraOptionState,
    JiraProjectState,
    JiraSiteState,
    JiraUserState,
    JiraWorkflow,
    comment_json,
    custom_field_json,
    default_workflow,
    issue_fields_json,
    only_ids,
    select_fields,
    status_json,
    system_fields_json,
)
from controller.sandbox.jira.webhooks import (
    DEFAULT_EVENTS,
    EVENTS,
    RETRY_DELAYS,
    JiraWebhookState,
    change_item,
    jira_signature,
    jira_stops_retrying,
    render_delivery,
)

DEFAULT_RATE_LIMIT_WAIT: Final = 60.0
"""Where `X-RateLimit-Reset` points when a fault names no wait: the next minute or later."""
API_PREFIX: Final = "/ex/jira/{cloud_id}/rest/api/3"
OLD_SEARCH_GONE: Final = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
MATCH_LIMIT: Final = 1000
"""Issue ids and JQL queries `jql/match` takes at once [U: Jira documents a limit, not its value]."""
UNBOUNDED_JQL: Final = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
ISSUE_NOT_FOUND: Final = "Issue does not exist or you do not have permission to see it."
SEARCH_FIELDS_PAGE_LIMIT: Final = 100
"""Most issues a search page holds when fields are asked for (fewer than asked, as Jira may answer)."""
SEARCH_IDS_PAGE_LIMIT: Final = 5000
PAGE_TOKEN_LIFETIME: Final = 7 * 24 * 3600.0
COMMENT_MAX_CHARS: Final = 32_767
SEARCH_BODY_KEYS: Final = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "failFast",
        "reconcileIssues",
    }
)


class JiraSandbox(WebhookSandbox):
    """Jira Cloud REST v3 through the gateway, for the sites, users and data seeded through its methods."""

    service: ClassVar[str] = "Jira"
    signature_header: ClassVar[str] = "X-Hub-Signature"
    stale_age: ClassVar[float] = 600.0

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        webhooks_in_background: bool = False,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`webhooks_in_background` sends deliveries as changes happen (for `ai-implement dev`); tests flush."""
        super().__init__(clock=clock)
        self.sites: dict[str, JiraSiteState] = {}
        self._tokens: dict[str, JiraUserState] = {}
        self.webhooks: list[JiraWebhookState] = []
        self.outbox = WebhookOutbox(
            clock=clock,
            retry_delays=RETRY_DELAYS,
            timeout=10.0,
            accepts=jira_stops_retrying,
            transport=webhook_transport,
            background=webhooks_in_background,
        )
        self.search_page_limit: int | None = None
        """Most issues per search page, below Jira's own caps (100 with fields, 5,000 ids); to exercise paging."""
        self.search_lag = 0.0
        """Seconds a change takes to reach search (Jira's index is eventually consistent); 0 is immediate."""
        self.automation = JiraUserState("Automation for Jira", None)
        """Who changes made through seeding methods are attributed to in webhooks and changelogs."""
        self._renders: collections.Counter[str] = collections.Counter()

    # Seeding and reading state.

    def add_site(self, cloud_id: str | None = None, *, site_url: str = "https://example.atlassian.net") -> str:
        """A Jira Cloud site; returns its cloud id (a UUID unless given). The first site is the default one."""
        cloud_id = cloud_id or str(uuid.uuid4())
        self.sites[cloud_id] = JiraSiteState(cloud_id=cloud_id, site_url=site_url.rstrip("/"))
        return cloud_id

    def add_user(
        self,
        display_name: str,
        email: str | None,
        *,
        token: str,
        cloud_ids: Iterable[str] | None = None,
        admin: bool = False,
        can_transition: bool = True,
    ) -> JiraUserState:
        """A user whose Bearer `token` works on `cloud_ids` (every site when None)."""
        user = JiraUserState(
            display_name=display_name,
            email=email,
            cloud_ids=frozenset(cloud_ids) if cloud_ids is not None else None,
            admin=admin,
            can_transition=can_transition,
        )
        self._tokens[token] = user
        return user

    def site(self, cloud_id: str | None = None) -> JiraSiteState:
        """A site by cloud id; without one, the first site added."""
        if cloud_id is None:
            if not self.sites:
                raise ValueError("the Jira sandbox has no site yet; add one with add_site()")
            return next(iter(self.sites.values()))
        try:
            return self.sites[cloud_id]
        except KeyError:
            raise ValueError(f"the Jira sandbox has no site {cloud_id!r}") from None

    def add_project(
        self, key: str, name: str | None = None, *, workflow: JiraWorkflow | None = None, site: str | None = None
    ) -> JiraProjectState:
        """A project; its workflow is `default_workflow()` unless given."""
        state = self.site(site)
        project = JiraProjectState(
            id=state.new_id("project"), key=key.upper(), name=name or key, workflow=workflow or default_workflow()
        )
        state.projects[project.key] = project
        return project

    def add_field(
        self,
        name: str,
        kind: FieldKind = FieldKind.SELECT,
        *,
        options: Iterable[str] = (),
        field_id: str | None = None,
        site: str | None = None,
    ) -> JiraFieldState:
        """A custom field (`customfield_10042` onwards unless given) with one global context holding `options`."""
        state = self.site(site)
        field_id = field_id or f"customfield_{state.new_id('field', start=10042)}"
        context = JiraContextState(
            id=state.new_id("context", start=10100), name=f"Default Configuration Scheme for {name}"
        )
        context.options = [JiraOptionState(id=state.new_id("option", start=10200), value=value) for value in options]
        field_state = JiraFieldState(id=field_id, name=name, kind=kind, contexts=[context])
        state.fields[field_id] = field_state
        return field_state

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        description: str | Mapping[str, Any] | None = None,
        labels: Iterable[str] = (),
        status: str | None = None,
        fields: Mapping[str, Any] | None = None,
        site: str | None = None,
    ) -> JiraIssueState:
        """An issue in `project` (in its workflow's first status unless given); queues `jira:issue_created`.

        `fields` maps custom field ids or names to plain values (an option's value, a list of them, a
        string) or to values exactly as Jira writes them (option objects).
        """
        state = self.site(site)
        owner = state.project(project)
        now = self.clock()
        issue = JiraIssueState(
            id=state.new_id("issue"),
            key=f"{owner.key}-{state.new_id(f'key:{owner.key}', start=1)}",
            project=owner.key,
            summary=summary,
            status=owner.workflow.status(status).name if status else owner.workflow.statuses[0].name,
            created=now,
            updated=now,
            description=_adf(description),
            labels=_checked_labels(labels),
            changed_at=now,
        )
        for name, value in (fields or {}).items():
            custom = self._custom_field(state, name)
            issue.custom[custom.id] = self._wire_value(state, custom, value)
        state.issues[issue.id] = issue
        self._emit(state, "jira:issue_created", issue, type_name="issue_created", actor=self.automation)
        return issue

    def update_issue(
        self,
        key: str,
        *,
        summary: str | None = None,
        description: str | Mapping[str, Any] | None = None,
        labels: Iterable[str] | None = None,
        status: str | None = None,
        fields: Mapping[str, Any] | None = None,
        site: str | None = None,
    ) -> JiraIssueState:
        """Change an issue as a person would (status directly, ignoring the workflow); queues `jira:issue_updated`."""
        state = self.site(site)
        issue = self.issue(key, site=site)
        items: list[dict[str, Any]] = []
        self._before_change(issue)
        if summary is not None and summary != issue.summary:
            items.append(change_item("summary", field_id="summary", before=issue.summary, after=summary))
            issue.summary = summary
        if description is not None:
            items.append(change_item("description", field_id="description", before=None, after=None))
            issue.description = _adf(description)
        if labels is not None:
            new_labels = _checked_labels(labels)
            if new_labels != issue.labels:
                before, after = " ".join(issue.labels), " ".join(new_labels)
                items.append(change_item("labels", field_id="labels", before=before, after=after))
                issue.labels = new_labels
        if status is not None:
            items.extend(self._set_status(state, issue, status))
        for name, value in (fields or {}).items():
            custom = self._custom_field(state, name)
            old_value, new_value = issue.custom.get(custom.id), self._wire_value(state, custom, value)
            issue.custom[custom.id] = new_value
            items.append(
                change_item(
                    custom.name,
                    field_id=custom.id,
                    before=_readable(old_value),
                    after=_readable(new_value),
                    custom=True,
                )
            )
        self._after_change(issue)
        type_name = "issue_generic" if status is not None else "issue_updated"
        self._emit(state, "jira:issue_updated", issue, type_name=type_name, actor=self.automation, items=items)
        return issue

    def add_comment(
        self,
        key: str,
        body: str | Mapping[str, Any],
        *,
        author: JiraUserState | None = None,
        properties: Mapping[str, Any] | None = None,
        site: str | None = None,
    ) -> JiraCommentState:
        """A comment by `author` (the automation user by default); queues the same events as the API's."""
        state = self.site(site)
        issue = self.issue(key, site=site)
        now = self.clock()
        comment = JiraCommentState(
            id=state.new_id("comment"),
            body=_adf(body),
            author=author or self.automation,
            created=now,
            updated=now,
            properties=dict(properties or {}),
        )
        self._comment_added(state, issue, comment)
        return comment

    def delete_issue(self, key: str, *, site: str | None = None) -> None:
        """Remove an issue; queues `jira:issue_deleted` with its last state."""
        state = self.site(site)
        issue = self.issue(key, site=site)
        self._emit(state, "jira:issue_deleted", issue, type_name="issue_deleted", actor=self.automation)
        del state.issues[issue.id]

    def issue(self, key_or_id: str, *, site: str | None = None) -> JiraIssueState:
        found = self.site(site).issue(key_or_id)
        if found is None:
            raise ValueError(f"the Jira sandbox has no issue {key_or_id!r}")
        return found

    # Webhooks: queued on every change, sent when the test says so (or at once in background mode).

    def add_webhook(
        self,
        url: str,
        secret: bytes | str | None,
        *,
        events: Iterable[str] | None = None,
        jql: str | None = None,
        site: str | None = None,
    ) -> JiraWebhookState:
        """An admin webhook; `secret` None sends unsigned deliveries, as Jira does for a webhook without one."""
        state = self.site(site)
        chosen = frozenset(events) if events is not None else DEFAULT_EVENTS
        unknown = sorted(chosen - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown Jira webhook events {unknown}; the sandbox sends {list(EVENTS)}")
        query = parse_jql(jql) if jql else None
        key = secret.encode() if isinstance(secret, str) else secret
        webhook = JiraWebhookState(len(self.webhooks) + 1, state.cloud_id, url, key, chosen, jql, query)
        self.webhooks.append(webhook)
        return webhook

    def _signed_with_another_secret(self, body: bytes) -> str:
        return jira_signature(b"not-the-webhook-secret", body)

    # Routes.

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        api = API_PREFIX
        router.add_get(f"{api}/myself", self._myself)
        router.add_get(f"{api}/search/jql", self._search)
        router.add_post(f"{api}/search/jql", self._search)
        router.add_route("*", f"{api}/search", self._old_search)
        router.add_get(f"{api}/issue/{{issue}}", self._get_issue)
        router.add_get(f"{api}/issue/{{issue}}/transitions", self._get_transitions)
        router.add_post(f"{api}/issue/{{issue}}/transitions", self._do_transition)
        router.add_get(f"{api}/issue/{{issue}}/comment", self._get_comments)
        router.add_post(f"{api}/issue/{{issue}}/comment", self._add_comment)
        router.add_post(f"{api}/comment/list", self._list_comments)
        router.add_post(f"{api}/jql/parse", self._parse_jql)
        router.add_post(f"{api}/jql/match", self._match_jql)
        router.add_get(f"{api}/field", self._get_fields)
        router.add_get(f"{api}/field/{{field}}/context", self._get_contexts)
        router.add_get(f"{api}/field/{{field}}/context/{{context}}/option", self._get_options)

    async def _myself(self, request: web.Request) -> web.Response:
        site, user = self._gateway(request)
        return web.json_response(user.as_json(f"{self._api_base(site)}/user?accountId={user.account_id}"))

    async def _old_search(self, request: web.Request) -> web.Response:
        self._gateway(request)
        return web.json_response({"errorMessages": [OLD_SEARCH_GONE], "errors": {}}, status=410)

    async def _search(self, request: web.Request) -> web.Response:
        """Enhanced search: bounded JQL, `nextPageToken` paging, ids only unless `fields` asks for more."""
        site, _ = self._gateway(request)
        if request.method == "POST":
            body = read_json(await request.read())
            if not isinstance(body, dict):
                raise Rejection(400, "The request body must be a JSON object (SearchAndReconcileRequestBean).")
            unknown = sorted(set(body) - SEARCH_BODY_KEYS)
            if unknown:
                raise Rejection(400, f'Unrecognized field "{unknown[0]}" in the request body.')
            jql, token = body.get("jql"), body.get("nextPageToken")
            wanted = _strings(body.get("fields", []), "fields")
            size, reconcile = body.get("maxResults", 50), body.get("reconcileIssues", [])
        else:
            jql, token = request.query.get("jql"), request.query.get("nextPageToken")
            wanted = request.query.getall("fields", [])
            size = _integer(request.query.get("maxResults", "50"), "maxResults")
            reconcile = [_integer(value, "reconcileIssues") for value in request.query.getall("reconcileIssues", [])]
        if not isinstance(jql, str) or not jql.strip():
            raise Rejection(400, UNBOUNDED_JQL)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise Rejection(400, "maxResults must be a whole number, 0 or more.")
        if not isinstance(reconcile, list) or len(reconcile) > 50:
            raise Rejection(400, "reconcileIssues takes a list of at most 50 issue ids.")
        query = self._checked_query(site, jql)
        offset = self._page_offset(token, jql) if token else 0
        reconciled = {str(issue_id) for issue_id in reconcile}
        selects = matcher(query.where, site, now=self.clock())
        found = [
            view
            for issue in sorted(site.issues.values(), key=lambda issue: int(issue.id))
            if (view := self._search_view(issue, reconciled)) is not None and selects(view)
        ]
        cap = SEARCH_IDS_PAGE_LIMIT if only_ids(wanted) else SEARCH_FIELDS_PAGE_LIMIT
        limit = max(1, min(size or 50, cap, self.search_page_limit or cap))
        page = found[offset : offset + limit]
        answer: dict[str, Any] = {
            "issues": [self._issue_bean(site, issue, wanted, default_all=False) for issue in page],
            "isLast": offset + limit >= len(found),
        }
        if not answer["isLast"]:
            answer["nextPageToken"] = self._page_token(jql, offset + limit)
        return web.json_response(answer)

    async def _get_issue(self, request: web.Request) -> web.Response:
        site, _ = self._gateway(request)
        issue = self._visible_issue(site, request.match_info["issue"])
        wanted = request.query.getall("fields", [])
        return web.json_response(self._issue_bean(site, issue, wanted, default_all=True))

    async def _get_transitions(self, request: web.Request) -> web.Response:
        site, user = self._gateway(request)
        issue = self._visible_issue(site, request.match_info["issue"])
        workflow = site.project(issue.project).workflow
        offered = workflow.offered_from(issue.status) if user.can_transition else []
        api = self._api_base(site)
        transitions = [
            {
                "id": transition.id,
                "name": transition.name,
                "to": status_json(workflow.status(transition.to), api, site.site_url),
                "hasScreen": False,
                "isGlobal": transition.sources is None,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "looped": False,
            }
            for transition in offered
        ]
        return web.json_response({"expand": "transitions", "transitions": transitions})

    async def _do_transition(self, request: web.Request) -> web.Response:
        """204 and a `jira:issue_updated` with a status changelog; 400 for a transition not offered now."""
        site, user = self._gateway(request)
        issue = self._visible_issue(site, request.match_info["issue"])
        body = read_json(await request.read())
        transition = body.get("transition") if isinstance(body, dict) else None
        wanted = transition.get("id") if isinstance(transition, dict) else None
        if not isinstance(wanted, str | int) or isinstance(wanted, bool) or not str(wanted):
            raise Rejection(400, "Missing 'transition' identifier")
        workflow = site.project(issue.project).workflow
        offered = workflow.offered_from(issue.status) if user.can_transition else []
        chosen = next((option for option in offered if option.id == str(wanted)), None)
        if chosen is None:
            raise Rejection(400, f"Transition id '{wanted}' is not valid for this issue.")
        self._before_change(issue)
        items = self._set_status(site, issue, chosen.to)
        self._after_change(issue)
        self._emit(site, "jira:issue_updated", issue, type_name="issue_generic", actor=user, items=items)
        return web.Response(status=204)

    async def _get_comments(self, request: web.Request) -> web.Response:
        site, _ = self._gateway(request)
        issue = self._visible_issue(site, request.match_info["issue"])
        start = _integer(request.query.get("startAt", "0"), "startAt")
        size = _integer(request.query.get("maxResults", "100"), "maxResults")
        order = request.query.get("orderBy", "created")
        if order not in ("created", "+created", "-created"):
            raise Rejection(400, f"Invalid orderBy value '{order}'; use created, +created or -created.")
        comments = sorted(issue.comments, key=lambda comment: int(comment.id), reverse=order == "-created")
        api = self._api_base(site)
        page = [comment_json(comment, issue, api, properties=False) for comment in comments[start : start + size]]
        return web.json_response({"comments": page, "startAt": start, "maxResults": size, "total": len(comments)})

    async def _add_comment(self, request: web.Request) -> web.Response:
        """201 `Comment`; the body must be an ADF document (v3), properties are stored with it."""
        site, user = self._gateway(request)
        issue = self._visible_issue(site, request.match_info["issue"])
        body = read_json(await request.read())
        if not isinstance(body, dict):
            raise Rejection(400, "The request body must be a JSON object (Comment).")
        _check_comment_body(body.get("body"))
        properties = _checked_properties(body.get("properties", []))
        now = self.clock()
        comment = JiraCommentState(
            id=site.new_id("comment"), body=body["body"], author=user, created=now, updated=now, properties=properties
        )
        self._comment_added(site, issue, comment)
        return web.json_response(comment_json(comment, issue, self._api_base(site), properties=False), status=201)

    async def _list_comments(self, request: web.Request) -> web.Response:
        """`comment/list`: comments by id, with their properties when `expand=properties`."""
        site, _ = self._gateway(request)
        body = read_json(await request.read())
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise Rejection(400, "ids must be a list of comment ids (numbers).")
        if len(ids) > 1000:
            raise Rejection(400, "A maximum of 1000 comment ids can be requested at once.")
        expand = {part.strip() for part in request.query.get("expand", "").split(",")}
        wanted = {str(i) for i in ids}
        api = self._api_base(site)
        found = [
            comment_json(comment, issue, api, properties="properties" in expand)
            for issue in site.issues.values()
            for comment in issue.comments
            if comment.id in wanted
        ]
        found.sort(key=lambda comment: int(comment["id"]))
        return web.json_response(
            {"isLast": True, "maxResults": 1000, "startAt": 0, "total": len(found), "values": found}
        )

    async def _match_jql(self, request: web.Request) -> web.Response:
        """`jql/match`: per JQL, in order, which of `issueIds` it selects (or why it cannot be matched)."""
        site, _ = self._gateway(request)
        body = read_json(await request.read())
        if not isinstance(body, dict) or set(body) - {"issueIds", "jqls"}:
            raise Rejection(400, "The request body must be an object with issueIds and jqls (IssuesAndJQLQueries).")
        issue_ids, jqls = body.get("issueIds"), body.get("jqls")
        numbers = isinstance(issue_ids, list) and all(type(issue_id) is int for issue_id in issue_ids)
        if not numbers or not isinstance(issue_ids, list):
            raise Rejection(400, "issueIds must be a list of issue ids (numbers).")
        if not isinstance(jqls, list) or not all(isinstance(text, str) for text in jqls):
            raise Rejection(400, "jqls must be a list of JQL strings.")
        if len(issue_ids) > MATCH_LIMIT or len(jqls) > MATCH_LIMIT:
            raise Rejection(400, f"At most {MATCH_LIMIT} issue ids and {MATCH_LIMIT} JQL queries can be matched.")
        now = self.clock()
        issues = [site.issues[str(issue_id)] for issue_id in dict.fromkeys(issue_ids) if str(issue_id) in site.issues]
        answers: list[dict[str, Any]] = []
        for text in jqls:
            try:
                query = parse_jql(text)
            except JqlError as error:
                answers.append({"matchedIssues": [], "errors": [str(error)]})
                continue
            errors, _ = check_jql(query, site, now=now)
            if errors:
                answers.append({"matchedIssues": [], "errors": errors})
                continue
            selects = matcher(query.where, site, now=now)
            chosen = [int(issue.id) for issue in issues if selects(issue)]
            answers.append({"matchedIssues": chosen, "errors": []})
        return web.json_response({"matches": answers})

    async def _parse_jql(self, request: web.Request) -> web.Response:
        """`jql/parse`: per query, errors (no structure) or the structure with any warnings."""
        site, _ = self._gateway(request)
        validation = request.query.get("validation", "strict")
        if validation not in ("strict", "warn", "none"):
            raise Rejection(400, f"validation must be strict, warn or none, not '{validation}'.")
        body = read_json(await request.read())
        queries = body.get("queries") if isinstance(body, dict) else None
        if not isinstance(queries, list) or not queries or not all(isinstance(q, str) and q for q in queries):
            raise Rejection(400, "queries must be a non-empty list of non-empty JQL strings.")
        now = self.clock()
        answers: list[dict[str, Any]] = []
        for text in queries:
            try:
                query = parse_jql(text)
            except JqlError as error:
                answers.append({"query": text, "errors": [str(error)]})
                continue
            errors, warnings = check_jql(query, site, now=now) if validation != "none" else ([], [])
            if validation == "warn":
                errors, warnings = [], [*errors, *warnings]
            if errors:
                answers.append({"query": text, "errors": errors})
                continue
            answer: dict[str, Any] = {"query": text, "structure": structure_json(query)}
            if warnings:
                answer["warnings"] = warnings
            answers.append(answer)
        return web.json_response({"queries": answers})

    async def _get_fields(self, request: web.Request) -> web.Response:
        site, _ = self._gateway(request)
        return web.json_response([*system_fields_json(), *(custom_field_json(f) for f in site.fields.values())])

    async def _get_contexts(self, request: web.Request) -> web.Response:
        site, user = self._gateway(request)
        if not user.admin:
            raise Rejection(403, "Only Jira administrators can access custom field contexts.")
        custom = self._field_or_404(site, request.match_info["field"])
        values = [
            {
                "id": context.id,
                "name": context.name,
                "description": "",
                "isGlobalContext": True,
                "isAnyIssueType": True,
            }
            for context in custom.contexts
        ]
        return web.json_response(_page_bean(values, request, default_size=50))

    async def _get_options(self, request: web.Request) -> web.Response:
        site, user = self._gateway(request)
        if not user.admin:
            raise Rejection(403, "Only Jira administrators can manage custom field options.")
        custom = self._field_or_404(site, request.match_info["field"])
        context = next((c for c in custom.contexts if c.id == request.match_info["context"]), None)
        if context is None:
            raise Rejection(404, "The context was not found.")
        if not custom.has_options:
            raise Rejection(400, "The custom field doesn't support options.")
        values = [{"id": option.id, "value": option.value, "disabled": option.disabled} for option in context.options]
        return web.json_response(_page_bean(values, request, default_size=100))

    # The gateway, and what every answer shares.

    def _gateway(self, request: web.Request) -> tuple[JiraSiteState, JiraUserState]:
        """What the Atlassian gateway checks before Jira sees the request: site, then token and scope."""
        cloud_id = request.match_info["cloud_id"]
        site = self.sites.get(cloud_id)
        if site is None:
            raise Rejection(404, "Not Found", body={"code": 404, "message": f"Site {cloud_id} not found"})
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        user = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Rejection(401, "Unauthorized", body={"code": 401, "message": "Unauthorized"})
        if user.cloud_ids is not None and cloud_id not in user.cloud_ids:
            raise Rejection(401, "scope", body={"code": 401, "message": "Unauthorized; scope does not match"})
        return site, user

    def _error_body(self, status: int, message: str) -> Any:
        return {"errorMessages": [message], "errors": {}}

    def _fault_response(self, fault: Fault, request: web.Request) -> web.Response:
        """429 (or 503); `Retry-After` only when the fault names a wait, the ISO reset minute always."""
        now = self.clock()
        headers: dict[str, str] = {}
        if fault.wait is not None:
            headers["Retry-After"] = retry_after_seconds(fault.wait)
        if fault.kind is FaultKind.RATE_LIMITED:
            reset = now + (fault.wait if fault.wait is not None else DEFAULT_RATE_LIMIT_WAIT)
            headers.update(
                {
                    "X-RateLimit-Reset": iso_minute_at_or_after(reset),
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "RateLimit-Reason": "jira-burst-based",
                }
            )
            body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
            return web.json_response(body, status=fault.status or 429, headers=headers)
        body = {"errorMessages": ["Service temporarily unavailable."], "errors": {}}
        return web.json_response(body, status=fault.status or 503, headers=headers)

    def _decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("atl-traceid", uuid.uuid4().hex)

    def _api_base(self, site: JiraSiteState) -> str:
        """Where `self` links point: the gateway path of the site, as Jira answers through the gateway."""
        return f"{self.url or 'https://api.atlassian.com'}/ex/jira/{site.cloud_id}/rest/api/3"

    # Issues, searches and changes.

    def _visible_issue(self, site: JiraSiteState, key_or_id: str) -> JiraIssueState:
        issue = site.issue(key_or_id)
        if issue is None:
            raise Rejection(404, ISSUE_NOT_FOUND)
        return issue

    def _issue_bean(
        self, site: JiraSiteState, issue: JiraIssueState, wanted: Sequence[str], *, default_all: bool
    ) -> dict[str, Any]:
        """`IssueBean`: only `id` when no field is asked for in a search, every field by default otherwise."""
        api = self._api_base(site)
        selected = select_fields(issue_fields_json(site, issue, api), wanted, default_all=default_all)
        if selected is None:
            return {"id": issue.id}
        return {
            "expand": ISSUE_EXPAND,
            "id": issue.id,
            "self": f"{api}/issue/{issue.id}",
            "key": issue.key,
            "fields": selected,
        }

    def _checked_query(self, site: JiraSiteState, jql: str) -> Query:
        """The parsed JQL of a search: syntax and unknown fields, unknown values and unboundedness are 400."""
        try:
            query = parse_jql(jql)
        except JqlError as error:
            raise Rejection(400, str(error)) from None
        errors, unknown_values = check_jql(query, site, now=self.clock())
        if errors or unknown_values:
            raise Rejection(400, "", body={"errorMessages": [*errors, *unknown_values], "errors": {}})
        if not query.bounded:
            raise Rejection(400, UNBOUNDED_JQL)
        return query

    def _page_token(self, jql: str, offset: int) -> str:
        """Opaque to clients: the offset, the query it belongs to, and when it was issued (tokens expire in 7 days)."""
        state = {"o": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:16], "t": int(self.clock())}
        return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")

    def _page_offset(self, token: Any, jql: str) -> int:
        invalid = Rejection(400, "The provided next page token is invalid or expired.")
        if not isinstance(token, str):
            raise invalid
        try:
            state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError):
            raise invalid from None
        if not isinstance(state, dict) or state.get("q") != hashlib.sha256(jql.encode()).hexdigest()[:16]:
            raise invalid
        if self.clock() - float(state.get("t", 0)) > PAGE_TOKEN_LIFETIME:
            raise invalid
        offset = state.get("o")
        if not isinstance(offset, int) or offset < 0:
            raise invalid
        return offset

    def _search_view(self, issue: JiraIssueState, reconciled: set[str]) -> JiraIssueState | None:
        """The issue as search sees it: its state before recent changes while they are being indexed."""
        if self.search_lag <= 0 or issue.id in reconciled or self.clock() - issue.changed_at >= self.search_lag:
            return issue
        return issue.previous

    def _before_change(self, issue: JiraIssueState) -> None:
        if self.search_lag > 0 and self.clock() - issue.changed_at >= self.search_lag:
            issue.previous = issue.snapshot()

    def _after_change(self, issue: JiraIssueState) -> None:
        issue.updated = issue.changed_at = self.clock()

    def _set_status(self, site: JiraSiteState, issue: JiraIssueState, status_name: str) -> list[dict[str, Any]]:
        workflow = site.project(issue.project).workflow
        before, after = workflow.status(issue.status), workflow.status(status_name)
        if before == after:
            return []
        issue.status = after.name
        return [
            change_item(
                "status",
                field_id="status",
                before=before.name,
                after=after.name,
                before_id=before.id,
                after_id=after.id,
            )
        ]

    def _comment_added(self, site: JiraSiteState, issue: JiraIssueState, comment: JiraCommentState) -> None:
        """A comment updates its issue, and is announced both as an issue update and as `comment_created`."""
        self._before_change(issue)
        issue.comments.append(comment)
        self._after_change(issue)
        for event in ("jira:issue_updated", "comment_created"):
            self._emit(site, event, issue, type_name="issue_commented", actor=comment.author, comment=comment)

    def _custom_field(self, site: JiraSiteState, name: str) -> JiraFieldState:
        found = site.field_by_clause(name)
        if found is None:
            raise ValueError(f"site {site.cloud_id} has no custom field {name!r}; add it with add_field()")
        return found

    def _wire_value(self, site: JiraSiteState, custom: JiraFieldState, value: Any) -> Any:
        """A seeded value as Jira writes it: option values become option objects; given objects stay as they are."""
        if value is None or isinstance(value, dict):
            return value
        if custom.kind is FieldKind.SELECT:
            return self._option_json(site, custom.option(str(value)))
        if custom.kind is FieldKind.MULTI_SELECT:
            return [
                item if isinstance(item, dict) else self._option_json(site, custom.option(str(item)))
                for item in _as_list(value)
            ]
        if custom.kind is FieldKind.LABELS:
            return [str(item) for item in _as_list(value)]
        return value

    def _option_json(self, site: JiraSiteState, option: JiraOptionState) -> dict[str, Any]:
        return {"self": f"{self._api_base(site)}/customFieldOption/{option.id}", "value": option.value, "id": option.id}

    def _field_or_404(self, site: JiraSiteState, field_id: str) -> JiraFieldState:
        custom = site.fields.get(field_id)
        if custom is None:
            raise Rejection(404, "The custom field was not found.")
        return custom

    def _emit(
        self,
        site: JiraSiteState,
        event: str,
        issue: JiraIssueState,
        *,
        type_name: str,
        actor: JiraUserState,
        items: list[dict[str, Any]] | None = None,
        comment: JiraCommentState | None = None,
    ) -> None:
        """Queue one delivery of `event` per webhook of the site that subscribes to it and whose JQL matches."""
        api = self._api_base(site)
        now = self.clock()
        for webhook in self.webhooks:
            if webhook.cloud_id != site.cloud_id or event not in webhook.events:
                continue
            if webhook.query is not None and not matches(webhook.query.where, issue, site, now=now):
                continue
            payload: dict[str, Any] = {
                "webhookEvent": event,
                "issue_event_type_name": type_name,
                "user": actor.details_json(api),
                "issue": {
                    "id": issue.id,
                    "self": f"{api}/issue/{issue.id}",
                    "key": issue.key,
                    "fields": issue_fields_json(site, issue, api),
                },
                "matchedWebhookIds": [webhook.id],
            }
            if items:
                payload["changelog"] = {"id": site.new_id("changelog"), "items": items}
            if comment is not None:
                payload["comment"] = comment_json(comment, issue, api, properties=False)
            self.outbox.enqueue(webhook.url, event, functools.partial(self._render, webhook, payload))

    def _render(
        self, webhook: JiraWebhookState, payload: Mapping[str, Any], now: float, delivery_id: str
    ) -> tuple[bytes, dict[str, str]]:
        """Each render of a delivery id is one more attempt: the second and later carry the retry count."""
        retry = self._renders[delivery_id]
        self._renders[delivery_id] += 1
        return render_delivery(webhook, payload, now, delivery_id, retry)


def iso_minute_at_or_after(moment: float) -> str:
    """Jira's `X-RateLimit-Reset` form, `yyyy-MM-ddTHH:mmZ`, rounded up so it never resets early."""
    minute = math.ceil(moment / 60) * 60
    return datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _adf(description: str | Mapping[str, Any] | None) -> Any:
    """A seeded description as ADF: text becomes one paragraph per blank-line-separated block."""
    if description is None or isinstance(description, Mapping):
        return description
    blocks = [block.strip() for block in description.split("\n\n") if block.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": block}]} for block in blocks],
    }


def _checked_labels(labels: Iterable[str]) -> list[str]:
    checked = list(dict.fromkeys(labels))
    for label in checked:
        if not label or any(char.isspace() for char in label):
            raise ValueError(f"Jira labels cannot be empty or contain spaces: {label!r}")
    return checked


def _readable(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(filter(None, (_readable(item) for item in value)))
    if isinstance(value, dict):
        return str(value.get("value", ""))
    return str(value)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Rejection(400, f"{name} must be a list of strings.")
    return value


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Rejection(400, f"{name} must be a whole number, not '{value}'.") from None


def _page_bean(values: list[dict[str, Any]], request: web.Request, *, default_size: int) -> dict[str, Any]:
    """Jira's classic offset page: `startAt`, `maxResults`, `total`, `isLast`, `values`."""
    start = _integer(request.query.get("startAt", "0"), "startAt")
    size = _integer(request.query.get("maxResults", str(default_size)), "maxResults")
    if start < 0 or size < 1:
        raise Rejection(400, "startAt must be 0 or more and maxResults 1 or more.")
    page = values[start : start + size]
    return {
        "isLast": start + size >= len(values),
        "maxResults": size,
        "startAt": start,
        "total": len(values),
        "values": page,
    }


def _check_comment_body(body: Any) -> None:
    """v3 takes Atlassian Document Format only: a string, an empty or malformed document is a 400."""
    if body is None or body == "" or body == {}:
        raise Rejection(400, "", body={"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}})
    if not (
        isinstance(body, dict)
        and body.get("type") == "doc"
        and body.get("version") == 1
        and isinstance(body.get("content"), list)
    ):
        raise Rejection(
            400,
            "",
            body={
                "errorMessages": [],
                "errors": {
                    "comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                },
            },
        )
    length = 0
    for node in _walk(body):
        if node.get("type") == "text":
            text = node.get("text")
            if not isinstance(text, str) or not text:
                raise Rejection(
                    400, "", body={"errorMessages": ["INVALID_INPUT: text nodes must not be empty"], "errors": {}}
                )
            length += len(text)
    if length > COMMENT_MAX_CHARS:
        message = f"The entered text is too long. It exceeds the allowed limit of {COMMENT_MAX_CHARS:,} characters."
        raise Rejection(400, "", body={"errorMessages": [], "errors": {"comment": message}})


def _walk(node: Any) -> Iterable[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.get("content") or ():
            yield from _walk(child)


def _checked_properties(properties: Any) -> dict[str, Any]:
    if not isinstance(properties, list):
        raise Rejection(400, "properties must be a list of {key, value} entity properties.")
    stored: dict[str, Any] = {}
    for prop in properties:
        if not isinstance(prop, dict) or not isinstance(prop.get("key"), str) or not prop["key"]:
            raise Rejection(400, "Each property needs a non-empty string key.")
        if len(prop["key"]) > 255:
            raise Rejection(400, "The property key cannot be longer than 255 characters.")
        stored[prop["key"]] = prop.get("value")
    return stored
