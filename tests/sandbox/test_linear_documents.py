"""Every GraphQL document the Linear client defines is valid against Linear's schema, and affordable."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse, validate

import controller.ticketing.linear
from controller.sandbox import linear_schema
from controller.sandbox.linear import estimate_complexity
from controller.ticketing.linear import MAX_PAGE_SIZE

SINGLE_QUERY_CAP = 10_000
"""Linear rejects any single query priced above this (EXTERNAL_APIS.md §1.6)."""


def client_documents() -> Iterator[tuple[str, str]]:
    """Every module-level string of the client's package that is a GraphQL document with an operation.

    A document imported into another module of the package is collected once.
    """
    package = controller.ticketing.linear
    seen: set[str] = set()
    for module_info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, str) and value not in seen and _operations(value):
                seen.add(value)
                yield f"{module_info.name}.{name}", value


def _operations(text: str) -> list[OperationDefinitionNode]:
    try:
        document = parse(text)
    except GraphQLError:
        return []
    return [definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)]


DOCUMENTS = dict(client_documents())


def test_the_client_defines_every_document_it_needs() -> None:
    names = {name.rsplit(".", 1)[-1] for name in DOCUMENTS}

    assert names >= {
        "VIEWER_QUERY",
        "AI_ISSUES_QUERY",
        "ISSUE_QUERY",
        "FIND_LABEL_QUERY",
        "CREATE_LABEL_MUTATION",
        "ADD_LABEL_MUTATION",
        "REMOVE_LABEL_MUTATION",
        "CREATE_COMMENT_MUTATION",
        "COMMENT_QUERY",
    }


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_document_is_valid_against_linears_schema(name: str) -> None:
    document = parse(DOCUMENTS[name])

    assert validate(linear_schema(), document) == []
    [operation] = _operations(DOCUMENTS[name])
    assert operation.name is not None, "named operations show up in Linear's logs and ours"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_document_stays_far_below_the_single_query_cap(name: str) -> None:
    document: DocumentNode = parse(DOCUMENTS[name])
    [operation] = _operations(DOCUMENTS[name])
    variables = {"first": MAX_PAGE_SIZE}

    price = estimate_complexity(linear_schema(), document, operation, variables)

    assert price < SINGLE_QUERY_CAP / 2, f"{name} costs {price} points at {MAX_PAGE_SIZE} issues a page"


def test_operation_names_are_unique() -> None:
    names = [operation.name.value for text in DOCUMENTS.values() for operation in _operations(text) if operation.name]

    assert len(names) == len(set(names))
