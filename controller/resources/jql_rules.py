"""The rules a mapping's JQL keeps so that it can be spliced into the combined Jira poll safely (pure).

The poll searches `labels = "<AI label>" AND ((<jql 1>) OR (<jql 2>) …)`, so a clause that closes a
parenthesis it never opened (`x)) OR ((y`) would drop the AI label for every mapping. The API
refuses such a JQL, the CRD refuses an ORDER BY (CEL cannot count parentheses), and the poller
leaves out a mapping that reached the cluster with any of these problems.
"""

from __future__ import annotations

import re
from typing import Final

STORED: Final = {"stored": True}
"""Validation context for a mapping read back from the cluster: its JQL is judged where it is used
(the poller leaves it out, and says why in its status), so that it still shows everywhere else."""

ORDER_BY_PATTERN: Final = r"(?i)(^|[^a-z0-9_])order\s+by([^a-z0-9_]|$)"
"""An ORDER BY anywhere in a mapping's JQL, as the CRD's CEL rule and the API refuse it."""


def jql_problem(jql: str) -> str | None:
    """Why a mapping's JQL cannot be spliced into the combined poll safely, or None (pure)."""
    if re.search(ORDER_BY_PATTERN, jql):
        return "the JQL has an ORDER BY: a mapping's JQL only selects tickets, the poll orders them itself"
    quote: str | None = None
    escaped = False
    depth = 0
    for char in jql:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return "the JQL closes a parenthesis it never opened, which would escape the clause it is placed in"
    if quote is not None:
        return "the JQL leaves a quoted string open"
    if depth:
        return f"the JQL leaves {depth} parenthesis(es) open"
    return None
