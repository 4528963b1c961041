"""What keeps a mapping's JQL inside its own parentheses in the combined Jira poll, as a table."""

from __future__ import annotations

import pytest

from controller.resources.jql_rules import jql_problem


@pytest.mark.parametrize(
    ("jql", "problem"),
    [
        ("project = PAY", None),
        ('project = PAY AND summary ~ "a ) b"', None),
        ("(project = PAY OR project = FIN) AND labels = backend", None),
        (r'summary ~ "quote \" and ) inside"', None),
        ("project = reorder", None),
        ("x)) OR ((y", "closes a parenthesis it never opened"),
        (") OR (", "closes a parenthesis it never opened"),
        ("(project = PAY", "leaves 1 parenthesis(es) open"),
        ('summary ~ "never closed', "quoted string open"),
        ("project = PAY ORDER BY created DESC", "ORDER BY"),
        ("project = PAY order\n by rank", "ORDER BY"),
    ],
)
def test_a_jql_is_spliced_only_when_it_stays_in_its_parentheses(jql: str, problem: str | None) -> None:
    said = jql_problem(jql)

    assert (said is None) == (problem is None)
    if problem is not None:
        assert said is not None
        assert problem in said
