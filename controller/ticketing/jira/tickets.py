"""From Jira issues to provider-neutral tickets: the repo field routes, the status category decides the state.

A Jira mapping selects issues by JQL and names a field (`repoField`, e.g. `customfield_10042`)
whose value routes an issue to it (`repoFieldValue`, the scope's `route_key`). One poll searches
for every mapping at once, so each issue found is routed back by reading that field: an issue goes
to every scope whose field holds the scope's value (exactly, after trimming spaces). The field may
be a text field (a string), a single select (`{"value": …}`) or a multi-value field (a list of
either). Consequently two mappings with the same field and value but different JQL both receive an
issue that matches either JQL: the repo field value is what names the repository, so keep it
unique per repository.

Jira has four status categories (`new`, `indeterminate`, `done`, and `undefined` for statuses
without one) and no category for abandoned work, which workflows put in `done` under names like
"Won't Do". A `done` status with such a name (`DEFAULT_CANCELLED_STATUSES`, case-insensitive,
configurable) is cancelled rather than completed; both are terminal, the difference is for people.
`undefined` and any category Jira may add later count as unstarted: the AI label is what asked for
work, and a ticket must not vanish from the poll because its workflow is unusual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from controller.ticketing.model import StateCategory, TicketScope

DEFAULT_CANCELLED_STATUSES: Final = frozenset(
    {
        "abandoned",
        "cancelled",
        "canceled",
        "declined",
        "duplicate",
        "invalid",
        "obsolete",
        "rejected",
        "won't do",
        "wont do",
        "won't fix",
        "wont fix",
    }
)
"""Names (case-insensitive) of `done`-category statuses that mean the work was dropped, not done."""

_CATEGORY_STATES: Final = {
    "new": StateCategory.UNSTARTED,
    "indeterminate": StateCategory.STARTED,
    "done": StateCategory.COMPLETED,
}
_CF_CLAUSE = re.compile(r"^cf\[(\d+)\]$", re.IGNORECASE)


def repo_field_id(field: str) -> str:
    """The field id Jira's REST answers use: `cf[10042]` (JQL's spelling) becomes `customfield_10042`."""
    text = field.strip()
    match = _CF_CLAUSE.match(text)
    return f"customfield_{match[1]}" if match else text


def field_values(raw: Any) -> list[str]:
    """The values a field holds as text: a string, an option's `value`, or a list of those."""
    if raw is None:
        return []
    if isinstance(raw, list):
        return [value for item in raw for value in field_values(item)]
    if isinstance(raw, Mapping):
        for name in ("value", "name", "key"):
            if isinstance(raw.get(name), str | int | float) and not isinstance(raw.get(name), bool):
                return [str(raw[name]).strip()]
        return []
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        return [str(raw).strip()]
    return []


def route_keys(fields: Mapping[str, Any], scopes: Sequence[TicketScope]) -> list[str]:
    """The route keys (repo field values) of the scopes an issue with these `fields` belongs to, once each."""
    keys: list[str] = []
    for scope in scopes:
        if scope.repo_field is None:
            continue
        values = field_values(fields.get(repo_field_id(scope.repo_field)))
        if scope.route_key.strip() in values and scope.route_key not in keys:
            keys.append(scope.route_key)
    return keys


def state_category(category_key: str | None, status_name: str, cancelled_statuses: Iterable[str]) -> StateCategory:
    """Where a ticket is, from its status category and, within `done`, its status name."""
    state = _CATEGORY_STATES.get((category_key or "").lower(), StateCategory.UNSTARTED)
    cancelled = {name.casefold() for name in cancelled_statuses}
    if state is StateCategory.COMPLETED and status_name.strip().casefold() in cancelled:
        return StateCategory.CANCELLED
    return state
