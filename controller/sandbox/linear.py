"""The Linear GraphQL sandbox (EXTERNAL_APIS.md §1): the real schema, real validation, a stateful workspace.

Every document is parsed and validated by graphql-core against Linear's published schema
(`schemas/linear.graphql`), so a query the real service would reject is rejected here too. The
sandbox holds a small workspace — teams with their workflow states, workspace and team labels,
issues, comments, users — seeded through methods (`add_team`, `add_label`, `add_issue`,
`update_issue`, …) and changed by the mutations the controller uses. Fields with a resolver
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
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
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
    Rejection,
    Sandbox,
    WebhookAttempt,
    WebhookDelivery,
    WebhookOutbox,
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


class LinearSandbox(Sandbox):
    """Linear's `POST /graphql` for the users seeded with `add_user()`."""

    service: ClassVar[str] = "Linear"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        request_limit: int = 2_500,
        complexity_limit: int = 3_000_000,
        period: float = 3_600.0,
        rate_limit_status: int = 400,
    ) -> None:
        """Budgets are per user and `period`; `rate_limit_status` is 400 as Linear documents, or 429."""
        super().__init__(clock=clock)
        self.request_limit = request_limit
        self.complexity_limit = complexity_limit
        self.period = period
        self.rate_limit_status = rate_limit_status
        self.users: dict[str, LinearUserState] = {}
        self._api_keys: dict[str, str] = {}
        self._oauth_tokens: dict[str, str] = {}
        self._budgets: dict[str, _Budgets] = {}

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

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/graphql", self._graphql)

    async def _graphql(self, request: web.Request) -> web.Response:
        user = self._authenticated_user(request)
        now = self.clock()
        budgets = self._budgets_of(user.id)
        query, variables, operation_name = _read_request(read_json(await request.read()))
        schema = linear_schema()
        try:
            document = parse(query)
        except GraphQLError as error:
            raise _graphql_rejection([error], "GRAPHQL_PARSE_FAILED") from None
        errors = validate(schema, document)
        if errors:
            raise _graphql_rejection(errors, "GRAPHQL_VALIDATION_FAILED")
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
            raise self._rate_limited(budgets, now)
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
        return web.json_response(answer, headers={"X-Complexity": str(complexity)})

    def _root(self, user: LinearUserState) -> dict[str, Any]:
        """Top-level fields with resolvers; the rest of the schema is valid but unimplemented."""
        return {"viewer": user.as_graphql()}

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

    def _rate_limited(self, budgets: _Budgets, now: float, *, status: int | None = None) -> Rejection:
        message = "Rate limit exceeded"
        presentable = "You have exceeded the API rate limit. Please try again later."
        error = linear_error(message, "RATELIMITED", "ratelimited", presentable=presentable)
        return Rejection(
            status or self.rate_limit_status,
            message,
            body={"errors": [error]},
            headers=self._budget_headers(budgets, now),
        )

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
