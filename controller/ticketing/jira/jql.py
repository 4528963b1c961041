"""One JQL for many mappings: the AI label ANDed with every mapping's clause, split when it grows long.

DESIGN §3 asks for one poll per provider, not one per mapping. For Jira that is one enhanced search
(EXTERNAL_APIS.md §2.2) whose JQL is `labels = "<AI label>" AND ((<jql 1>) OR (<jql 2>) …)`; the
answers are routed back to mappings by their repo field (`controller.ticketing.jira.tickets`).

A mapping's clause is spliced into that query, so it must stay inside its own parentheses
(`controller.resources.jql_rules`: the API and the poller refuse one that could escape them).
Routing does not trust the combined query either: an issue goes to a mapping only when that
mapping's own JQL selects it (`jql/match`), and only with the AI label.

Three things keep that query valid and bounded:
- a mapping's own `ORDER BY` is cut off (inside parentheses it is a syntax error; the poll needs no
  order), and identical clauses are sent once (many mappings often share `project = X` and differ
  only in the repo field value);
- a mapping whose clause is empty after that selects every labelled issue, so it alone is the query;
- a query longer than `MAX_JQL_CHARS` is split into several, each under the bound, so two hundred
  mappings cost a handful of searches rather than one that Jira or a proxy refuses. A single clause
  longer than the bound is still sent, alone: it cannot be split, and Jira is the judge of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

MAX_JQL_CHARS: Final = 6_000
"""Longest combined JQL sent in one search. Jira publishes no limit for a POSTed JQL; this stays well
under the 8 KiB that proxies commonly allow a URL, so the same query would survive a GET too. [U]"""

_ORDER_BY_WORDS: Final = ("order", "by")


def quote_jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with backslashes and quotes escaped as JQL reads them."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def without_order_by(jql: str) -> str:
    """The restriction of a JQL, without its `ORDER BY` part (found outside quoted strings only)."""
    quote: str | None = None
    escaped = False
    for index, char in enumerate(jql):
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char in "oO" and _starts_order_by(jql, index):
            return jql[:index].strip()
    return jql.strip()


def ai_ticket_queries(label: str, clauses: Iterable[str], *, max_chars: int = MAX_JQL_CHARS) -> list[str]:
    """The JQLs of one poll: as few as fit under `max_chars`, together covering every clause once."""
    return [query for query, _ in ai_ticket_batches(label, clauses, max_chars=max_chars)]


def ai_ticket_batches(
    label: str, clauses: Iterable[str], *, max_chars: int = MAX_JQL_CHARS
) -> list[tuple[str, list[str]]]:
    """Each JQL of one poll with the clauses it covers: an issue a one-clause query returned is known to
    be selected by that clause, while one of a combined query has to be matched against each."""
    prefix = f"labels = {quote_jql_string(label)}"
    unique = list(dict.fromkeys(without_order_by(clause) for clause in clauses))
    if not unique:
        return []
    if "" in unique:
        return [(prefix, [""])]
    opening, closing, separator = f"{prefix} AND (", ")", " OR "
    batches: list[tuple[str, list[str]]] = []
    batch: list[str] = []
    length = len(opening) + len(closing)
    for clause in unique:
        added = len(clause) + 2 + (len(separator) if batch else 0)
        if batch and length + added > max_chars:
            batches.append((opening + separator.join(f"({part})" for part in batch) + closing, batch))
            batch, length = [], len(opening) + len(closing)
            added = len(clause) + 2
        batch.append(clause)
        length += added
    batches.append((opening + separator.join(f"({part})" for part in batch) + closing, batch))
    return batches


def _starts_order_by(jql: str, index: int) -> bool:
    if index > 0 and (jql[index - 1].isalnum() or jql[index - 1] == "_"):
        return False
    words = jql[index:].split(maxsplit=2)
    return len(words) >= 2 and tuple(word.lower() for word in words[:2]) == _ORDER_BY_WORDS
