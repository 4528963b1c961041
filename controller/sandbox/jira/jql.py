"""The JQL the sandbox understands: what the controller and mapping authors send, parsed as Jira does.

    query    := [or] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    or       := and {OR and}          and := unary {AND unary}
    unary    := NOT unary | ( or ) | clause
    clause   := field operator operand
    operator := = | != | ~ | !~ | > | >= | < | <= | IN | NOT IN | IS | IS NOT
    operand  := value | ( value {, value} ) | EMPTY | NULL
    value    := "double" | 'single' (backslash escapes) | bare word

Keywords are case-insensitive. Fields: `project`, `status`, `statusCategory`, `labels`, `key` /
`issuekey`, `id`, `issuetype` / `type`, `summary`, `description`, `created`, `updated` (dates
`2026-01-02`, `2026/01/02 03:04`, or relative `-15m`, `-2d`, `"1w 2d"`), and custom fields by
`cf[10042]`, `customfield_10042` or name. Functions (`currentUser()`) and history operators (`WAS`,
`CHANGED`) are not implemented and fail with a message that says so, never silently.

What Jira does that is easy to miss, done here: `!=` and `NOT IN` never match an issue whose field
is empty; `=` on a multi-value field (labels, multi-selects) means "one of them is"; unknown fields
are errors while unknown projects and statuses are errors in a search but warnings in
`jql/parse`; a query without a restriction (`ORDER BY key` alone) is unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from controller.sandbox.jira.state import STATUS_CATEGORIES, FieldKind, JiraFieldState, JiraIssueState, JiraSiteState

OPERATORS: Final = ("=", "!=", "~", "!~", ">", ">=", "<", "<=", "in", "not in", "is", "is not")
_VALID_OPERATORS: Final = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
_RESERVED: Final = frozenset({"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"})
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<op>!=|!~|>=|<=|=|~|>|<)
      | (?P<punct>[(),])
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<open>["'])
      | (?P<word>cf\[\d+\]|[^\s"'(),=!~<>]+)""",
    re.VERBOSE,
)
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r"}
_BARE_VALUE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_CF_CLAUSE = re.compile(r"^cf\[\d+\]$", re.IGNORECASE)
_PERIOD = re.compile(r"^\s*([-+])?\s*((?:\d+\s*[wdhm]\s*)+)$", re.IGNORECASE)
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])", re.IGNORECASE)
_PERIOD_SECONDS: Final = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60}
_DATE_FORMATS: Final = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_TEXT_OPERATORS: Final = frozenset({"~", "!~", "is", "is not"})
_LIST_OPERATORS: Final = frozenset({"=", "!=", "in", "not in", "is", "is not"})
_DATE_OPERATORS: Final = frozenset({"=", "!=", ">", ">=", "<", "<=", "in", "not in", "is", "is not"})


class JqlError(Exception):
    """A JQL Jira would refuse; the message is Jira's wording where known."""


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "string", "op", "punct", "end"]
    text: str
    """The value (unquoted for strings)."""
    position: int


@dataclass(frozen=True)
class Clause:
    field: str
    operator: str
    """Lower case, one of `OPERATORS`."""
    values: tuple[str, ...]
    is_list: bool = False
    empty: bool = False
    """The operand is EMPTY (or NULL)."""


@dataclass(frozen=True)
class Compound:
    operator: Literal["and", "or", "not"]
    clauses: tuple[Clause | Compound, ...]


Node = Clause | Compound


@dataclass(frozen=True)
class OrderBy:
    field: str
    direction: Literal["asc", "desc"] | None


@dataclass(frozen=True)
class Query:
    where: Node | None
    order_by: tuple[OrderBy, ...] = ()

    @property
    def bounded(self) -> bool:
        """Whether it restricts the search at all; the enhanced search refuses unbounded queries."""
        return self.where is not None


def parse_jql(text: str) -> Query:
    """The syntax tree of a JQL, or `JqlError` with Jira's "Error in the JQL Query: …" wording."""
    return _Parser(list(_tokens(text))).query()


@dataclass(frozen=True)
class _FieldRef:
    name: str
    kind: Literal["project", "status", "category", "labels", "key", "id", "issuetype", "text", "date", "custom"]
    custom: JiraFieldState | None = None

    @property
    def operators(self) -> frozenset[str]:
        """Text fields are searched with `~` only; dates compare; everything else is matched by value."""
        if self.kind == "text" or (self.custom is not None and self.custom.kind is FieldKind.TEXT):
            return _TEXT_OPERATORS
        return _DATE_OPERATORS if self.kind == "date" else _LIST_OPERATORS


_SYSTEM_FIELDS: Final[Mapping[str, str]] = {
    "project": "project",
    "status": "status",
    "statuscategory": "category",
    "labels": "labels",
    "key": "key",
    "issuekey": "key",
    "id": "id",
    "issuetype": "issuetype",
    "type": "issuetype",
    "summary": "text",
    "description": "text",
    "text": "text",
    "created": "date",
    "createddate": "date",
    "updated": "date",
    "updateddate": "date",
}


def check_jql(query: Query, site: JiraSiteState, *, now: float) -> tuple[list[str], list[str]]:
    """Jira's validation beyond syntax: (errors, warnings). Unknown values are only warnings here."""
    errors: list[str] = []
    warnings: list[str] = []
    known = _known_values(site)
    for clause in _clauses(query.where):
        ref = _resolve(clause.field, site)
        if ref is None:
            errors.append(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
            continue
        if clause.operator not in ref.operators:
            errors.append(f"The operator '{clause.operator}' is not supported by the '{clause.field}' field.")
            continue
        if clause.operator in ("is", "is not") and not clause.empty:
            errors.append(f"The operator '{clause.operator}' only supports EMPTY or NULL for field '{clause.field}'.")
            continue
        for value in clause.values:
            if ref.kind == "date" and _moment(value, now) is None:
                errors.append(
                    f"Date value '{value}' for field '{clause.field}' is invalid. Valid formats include: "
                    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
                    "e.g. '-5d', '4w 2d'."
                )
            elif ref.kind in ("project", "status") and value.casefold() not in known[ref.kind]:
                warnings.append(f"The value '{value}' does not exist for the field '{clause.field}'.")
    for order in query.order_by:
        if _resolve(order.field, site) is None:
            errors.append(f"Field '{order.field}' does not exist or you do not have permission to view it.")
    return errors, warnings


def matches(node: Node | None, issue: JiraIssueState, site: JiraSiteState, *, now: float) -> bool:
    """Whether the issue is selected; `node` must have passed `check_jql` (unknown fields match nothing)."""
    if node is None:
        return True
    if isinstance(node, Compound):
        if node.operator == "and":
            return all(matches(child, issue, site, now=now) for child in node.clauses)
        if node.operator == "or":
            return any(matches(child, issue, site, now=now) for child in node.clauses)
        return not matches(node.clauses[0], issue, site, now=now)
    ref = _resolve(node.field, site)
    if ref is None:
        return False
    present = _issue_values(ref, issue, site)
    if node.operator == "is":
        return not present
    if node.operator == "is not":
        return bool(present)
    if ref.kind == "date":
        return _compare_dates(node, present, now)
    have = {value.casefold() for value in present}
    wanted = [value.casefold() for value in node.values]
    if node.operator in ("~", "!~"):
        found = any(term in value for term in wanted for value in have)
        return found if node.operator == "~" else bool(present) and not found
    found = any(value in have for value in wanted)
    if node.operator in ("=", "in"):
        return found
    return bool(present) and not found


def matcher(node: Node | None, site: JiraSiteState, *, now: float) -> Callable[[JiraIssueState], bool]:
    """`matches` prepared for one query over many issues, with the answers `matches` gives.

    Equality clauses on one field (`project = A`, `project in (A, B)`, and ORs of them, which is how
    a poll combines a thousand mappings' JQL) become one set lookup per issue instead of one
    comparison per clause, so searching stays quick at scale; anything else is left to `matches`.
    """
    equal = _equality_on_one_field(node)
    if equal is not None:
        ref = _resolve(equal[0], site)
        if ref is not None and ref.kind != "date":
            wanted = equal[1]
            return lambda issue: not wanted.isdisjoint(value.casefold() for value in _issue_values(ref, issue, site))
    if isinstance(node, Compound) and node.operator == "and":
        parts = [matcher(child, site, now=now) for child in node.clauses]
        return lambda issue: all(part(issue) for part in parts)
    return lambda issue: matches(node, issue, site, now=now)


def _equality_on_one_field(node: Node | None) -> tuple[str, frozenset[str]] | None:
    """(field, the values it may equal) when `node` is `=`/`in` clauses on one field, joined by OR."""
    if isinstance(node, Clause):
        if node.operator in ("=", "in") and not node.empty:
            return node.field, frozenset(value.casefold() for value in node.values)
        return None
    if node is None or node.operator != "or":
        return None
    parts = [_equality_on_one_field(child) for child in node.clauses]
    fields = {part[0] for part in parts if part is not None}
    if None in parts or len(fields) != 1:
        return None
    return fields.pop(), frozenset().union(*(part[1] for part in parts if part is not None))


def structure_json(query: Query) -> dict[str, Any]:
    """The `JqlQuery` tree `jql/parse` answers for a valid query."""
    answer: dict[str, Any] = {}
    if query.where is not None:
        answer["where"] = _node_json(query.where)
    if query.order_by:
        answer["orderBy"] = {
            "fields": [
                {"field": _field_json(order.field), **({"direction": order.direction} if order.direction else {})}
                for order in query.order_by
            ]
        }
    return answer


def _tokens(text: str) -> Iterator[Token]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[position]}' is a reserved JQL character. "
                f"(line 1, character {position + 1})"
            )
        kind = match.lastgroup
        if kind == "open":
            raise JqlError(
                f"Error in the JQL Query: The quoted string '{text[position + 1 :]}' has not been completed. "
                f"(line 1, character {position + 1})"
            )
        if kind == "string":
            yield Token("string", _unquote(match.group()[1:-1]), position)
        elif kind in ("op", "punct", "word"):
            yield Token(kind, match.group(), position)  # type: ignore[arg-type]
        position = match.end()
    yield Token("end", "", len(text))


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", lambda escape: _ESCAPES.get(escape[1], escape[1]), body)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def query(self) -> Query:
        where = None if self._at_keyword("order") or self._peek().kind == "end" else self._or()
        order_by: list[OrderBy] = []
        if self._at_keyword("order"):
            self.index += 1
            self._expect_keyword("by")
            while True:
                field = self._field()
                direction: Literal["asc", "desc"] | None = None
                if self._at_keyword("asc") or self._at_keyword("desc"):
                    direction = "asc" if self._next().text.lower() == "asc" else "desc"
                order_by.append(OrderBy(field, direction))
                if not self._at_punct(","):
                    break
                self.index += 1
            if len(order_by) > 7:
                raise JqlError("Error in the JQL Query: The ORDER BY clause may name at most 7 fields.")
        token = self._peek()
        if token.kind != "end":
            raise self._error("Expecting either 'OR' or 'AND' but got", token)
        return Query(where, tuple(order_by))

    def _or(self) -> Node:
        clauses = [self._and()]
        while self._at_keyword("or"):
            self.index += 1
            clauses.append(self._and())
        return clauses[0] if len(clauses) == 1 else Compound("or", tuple(clauses))

    def _and(self) -> Node:
        clauses = [self._unary()]
        while self._at_keyword("and"):
            self.index += 1
            clauses.append(self._unary())
        return clauses[0] if len(clauses) == 1 else Compound("and", tuple(clauses))

    def _unary(self) -> Node:
        if self._at_keyword("not"):
            self.index += 1
            return Compound("not", (self._unary(),))
        if self._at_punct("("):
            self.index += 1
            inner = self._or()
            if not self._at_punct(")"):
                raise self._error("Expecting ')' but got", self._peek())
            self.index += 1
            return inner
        return self._clause()

    def _clause(self) -> Clause:
        field = self._field()
        operator = self._operator()
        if operator in ("is", "is not"):
            token = self._next()
            if token.kind != "word" or token.text.lower() not in ("empty", "null"):
                raise self._error("Expecting 'EMPTY' or 'NULL' but got", token)
            return Clause(field, operator, (), empty=True)
        if self._at_punct("("):
            self.index += 1
            values = [self._value()]
            while self._at_punct(","):
                self.index += 1
                values.append(self._value())
            if not self._at_punct(")"):
                raise self._error("Expecting ')' but got", self._peek())
            self.index += 1
            return Clause(field, operator, tuple(values), is_list=True)
        if operator in ("in", "not in"):
            token = self._peek()
            raise JqlError(
                f"Error in the JQL Query: Operator '{operator}' does not support the non-list value "
                f"'{token.text}' for field '{field}'."
            )
        if self._peek().kind == "word" and self._peek().text.lower() in ("empty", "null"):
            self.index += 1
            return Clause(field, operator, (), empty=True)
        return Clause(field, operator, (self._value(),))

    def _field(self) -> str:
        token = self._next()
        if token.kind == "string" or (token.kind == "word" and token.text.lower() not in _RESERVED):
            return token.text
        raise self._error("Expecting a field name but got", token)

    def _operator(self) -> str:
        token = self._next()
        if token.kind == "op":
            return token.text
        word = token.text.lower() if token.kind == "word" else ""
        if word == "in":
            return "in"
        if word in ("not", "is") and self._peek().kind == "word":
            following = self._peek().text.lower()
            if word == "not" and following == "in":
                self.index += 1
                return "not in"
            if word == "is" and following == "not":
                self.index += 1
                return "is not"
        if word == "is":
            return "is"
        if word in ("was", "changed"):
            raise self._error(f"The sandbox does not implement the history operator '{token.text}'; got", token)
        raise JqlError(
            f"Error in the JQL Query: Expecting operator but got '{token.text or 'end of query'}'. The valid "
            f"operators are {_VALID_OPERATORS}. (line 1, character {token.position + 1})"
        )

    def _value(self) -> str:
        token = self._next()
        if token.kind == "string":
            return token.text
        if token.kind == "word" and token.text.lower() not in _RESERVED:
            if self._at_punct("("):
                raise self._error("The sandbox does not implement JQL functions; got", token)
            return token.text
        raise self._error("Expecting either a value, list or function but got", token)

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind == "word" and token.text.lower() == keyword

    def _at_punct(self, punct: str) -> bool:
        token = self._peek()
        return token.kind == "punct" and token.text == punct

    def _expect_keyword(self, keyword: str) -> None:
        token = self._next()
        if not (token.kind == "word" and token.text.lower() == keyword):
            raise self._error(f"Expecting '{keyword.upper()}' but got", token)

    @staticmethod
    def _error(what: str, token: Token) -> JqlError:
        got = f"'{token.text}'" if token.kind != "end" else "end of query"
        return JqlError(f"Error in the JQL Query: {what} {got}. (line 1, character {token.position + 1})")


def _clauses(node: Node | None) -> Iterator[Clause]:
    if node is None:
        return
    if isinstance(node, Clause):
        yield node
        return
    for child in node.clauses:
        yield from _clauses(child)


def _resolve(name: str, site: JiraSiteState) -> _FieldRef | None:
    kind = _SYSTEM_FIELDS.get(name.strip().casefold())
    if kind is not None:
        return _FieldRef(name, kind)  # type: ignore[arg-type]
    custom = site.field_by_clause(name)
    return _FieldRef(name, "custom", custom) if custom is not None else None


def _known_values(site: JiraSiteState) -> dict[str, set[str]]:
    """Every name a `project` or `status` clause may use on this site, in lower case (checked once a query)."""
    return {
        "project": {name.casefold() for p in site.projects.values() for name in (p.key, p.name, p.id)},
        "status": {
            name.casefold()
            for project in site.projects.values()
            for status in project.workflow.statuses
            for name in (status.name, status.id)
        },
    }


def _issue_values(ref: _FieldRef, issue: JiraIssueState, site: JiraSiteState) -> list[str]:
    if ref.kind == "project":
        project = site.project(issue.project)
        return [project.key, project.name, project.id]
    if ref.kind == "status":
        status = site.status_of(issue)
        return [status.name, status.id]
    if ref.kind == "category":
        category = STATUS_CATEGORIES[site.status_of(issue).category]
        return [str(category["key"]), str(category["name"]), str(category["id"])]
    if ref.kind == "labels":
        return list(issue.labels)
    if ref.kind == "key":
        return [issue.key, issue.id]
    if ref.kind == "id":
        return [issue.id]
    if ref.kind == "issuetype":
        return ["Task", "10001"]
    if ref.kind == "date":
        return [str(issue.created if ref.name.casefold().startswith("created") else issue.updated)]
    if ref.kind == "text":
        if ref.name.casefold() == "summary":
            return [issue.summary]
        text = " ".join(_adf_words(issue.description))
        return [issue.summary, text] if ref.name.casefold() == "text" else ([text] if text else [])
    assert ref.custom is not None
    return _custom_values(issue.custom.get(ref.custom.id))


def _custom_values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return [value for item in raw for value in _custom_values(item)]
    if isinstance(raw, dict):
        return [str(raw[name]) for name in ("value", "id") if name in raw]
    return [str(raw)]


def _adf_words(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            yield node["text"]
        for child in node.get("content") or ():
            yield from _adf_words(child)


def _compare_dates(clause: Clause, present: list[str], now: float) -> bool:
    if not present:
        return False
    moment = float(present[0])
    limits = [limit for limit in (_moment(value, now) for value in clause.values) if limit is not None]
    if clause.operator in ("=", "in"):
        return any(abs(moment - limit) < 60 for limit in limits)
    if clause.operator in ("!=", "not in"):
        return all(abs(moment - limit) >= 60 for limit in limits)
    limit = limits[0]
    return {">": moment > limit, ">=": moment >= limit, "<": moment < limit, "<=": moment <= limit}[clause.operator]


def _moment(value: str, now: float) -> float | None:
    """A JQL date as epoch seconds: a period relative to now (`-15m`, `4w 2d`) or a UTC date."""
    period = _PERIOD.match(value)
    if period:
        seconds = sum(int(amount) * _PERIOD_SECONDS[unit.lower()] for amount, unit in _PERIOD_PART.findall(period[2]))
        return now - seconds if period[1] == "-" else now + seconds
    for layout in _DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), layout).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def _node_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Compound):
        return {"operator": node.operator, "clauses": [_node_json(child) for child in node.clauses]}
    answer: dict[str, Any] = {"field": _field_json(node.field), "operator": node.operator}
    if node.empty:
        answer["operand"] = {"keyword": "empty"}
    elif node.is_list:
        encoded = ", ".join(_encoded(value) for value in node.values)
        answer["operand"] = {"values": [_value_json(value) for value in node.values], "encodedOperand": f"({encoded})"}
    else:
        answer["operand"] = _value_json(node.values[0])
    return answer


def _field_json(name: str) -> dict[str, Any]:
    return {"name": name, "encodedName": _encoded(name)}


def _value_json(value: str) -> dict[str, Any]:
    return {"value": value, "encodedValue": _encoded(value)}


def _encoded(value: str) -> str:
    if (_BARE_VALUE.match(value) or _CF_CLAUSE.match(value)) and value.lower() not in _RESERVED:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
