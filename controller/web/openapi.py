"""The OpenAPI 3.1 document, generated from the declared endpoints and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from controller import __version__
from controller.resources.project_mapping import TEAM_KEY_PATTERN
from controller.secrets import SECRET_NAME_PATTERN
from controller.web.errors import ErrorBody
from controller.web.routing import Access, Endpoint

_PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")
PATH_PARAMETER_PATTERNS = {"teamKey": TEAM_KEY_PATTERN, "name": SECRET_NAME_PATTERN}
"""Every path parameter means the same thing wherever it appears, so one pattern per name."""
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "The body is not JSON, or is missing",
    401: "Missing, invalid or expired credentials",
    404: "Not found (also: the admin API is disabled)",
    409: "Conflict",
    422: "The request is well-formed but invalid",
    429: "Too many failed attempts; see Retry-After",
    501: "Not configured on this server",
    502: "An upstream service failed",
    503: "Disabled, or a dependency is unavailable",
}


def openapi_document(endpoints: list[Endpoint], *, title: str = "AI-Implement API") -> dict[str, Any]:
    """Every endpoint with its parameters, body and responses; errors all share `ErrorBody`."""
    models = _models_of(endpoints)
    _, schemas = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        path = _PATH_PARAMETER.sub(r"{\1}", endpoint.path)
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def _models_of(endpoints: list[Endpoint]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {ErrorBody.__name__: ErrorBody}
    for endpoint in endpoints:
        candidates = [endpoint.request_model, *endpoint.responses.values()]
        for model in candidates:
            if model is not None:
                found.setdefault(model.__name__, model)
    return list(found.values())


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.handler.__name__,
        "tags": [endpoint.tag],
        "responses": {},
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_parameter_schema(name)}
        for name in _PATH_PARAMETER.findall(endpoint.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": parameter.required,
            "description": parameter.description,
            "schema": dict(
                parameter.schema or ({"type": "string", "minLength": 1} if parameter.required else {"type": "string"})
            ),
        }
        for name, parameter in endpoint.query.items()
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.request_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.request_model)}},
        }
    if endpoint.access is Access.ADMIN:
        operation["security"] = [{"adminToken": []}]
    for status, model in sorted(_all_responses(endpoint).items()):
        response: dict[str, Any] = {"description": _REASONS.get(status, "")}
        body_model = model if model is not None or status < 400 else ErrorBody
        if body_model is not None:
            response["content"] = {"application/json": {"schema": _ref(body_model)}}
        operation["responses"][str(status)] = response
    return operation


def _path_parameter_schema(name: str) -> dict[str, str]:
    pattern = PATH_PARAMETER_PATTERNS.get(name)
    return {"type": "string", "pattern": pattern} if pattern else {"type": "string"}


def _all_responses(endpoint: Endpoint) -> dict[int, type[BaseModel] | None]:
    """The declared responses plus the ones every endpoint of its kind can give."""
    implied: dict[int, type[BaseModel] | None] = {}
    if endpoint.access in (Access.ADMIN, Access.LOGIN):
        implied[404] = None
    if endpoint.access is Access.ADMIN:
        implied |= {401: None, 503: None}
    if endpoint.request_model is not None:
        implied |= {400: None, 422: None}
    return implied | endpoint.responses
