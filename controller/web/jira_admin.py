"""/api/jira/*: help for writing Jira mappings, answered by Jira itself (its parser, its fields).

The field pickers of the admin UI's new-project stepper call the same `jira_fields_of` and
`jira_field_options_of` the endpoints answer with.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from controller.httpclient import ServiceError
from controller.ticketing.jira import JiraClient, JiraForbidden, JiraNotFound
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, QueryParameter, read_body, respond

router = ApiRouter(tag="jira")


class JqlRequest(CamelModel):
    jql: str = Field(min_length=1, max_length=4096, description="The clause to check, as a mapping would use it.")


class JqlVerdict(CamelModel):
    jql: str
    valid: bool = Field(description="True when Jira's strict parser found no error.")
    errors: list[str] = Field(description="What makes the JQL unusable, in Jira's words.")
    warnings: list[str] = Field(description="What Jira finds odd but accepts (e.g. unknown values).")


class JiraFieldRow(CamelModel):
    id: str = Field(description="The field id, e.g. customfield_10042: what repoField takes.")
    name: str
    custom: bool
    clause_names: list[str] = Field(description="Names JQL accepts for the field.")
    type: str | None = Field(description="Jira's schema type, e.g. option or string.")


class JiraFieldList(CamelModel):
    fields: list[JiraFieldRow]


class JiraOptionRow(CamelModel):
    id: str
    value: str = Field(description="What repoFieldValue takes.")
    disabled: bool
    context: str = Field(description="The field context the option belongs to.")


class JiraOptionList(CamelModel):
    field_id: str
    options: list[JiraOptionRow]


def _jira(context: WebContext) -> JiraClient:
    client = context.jira
    if client is None:
        raise ApiError(
            503, "jira_not_configured", "Jira is not configured: set JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL"
        )
    return client


def _jira_failed(error: ServiceError) -> ApiError:
    return ApiError(502, "jira_error", error.message)


@router.route(
    "POST",
    "/api/jira/validate-jql",
    summary="Validate a JQL clause against the Jira instance before saving",
    body=JqlRequest,
    responses={200: JqlVerdict, 502: None},
)
async def validate_jql(request: web.Request) -> web.Response:
    client = _jira(context_of(request))
    body = await read_body(request, JqlRequest)
    try:
        verdict = await client.validate_jql(body.jql)
    except ServiceError as error:
        raise _jira_failed(error) from None
    return respond(
        JqlVerdict(jql=body.jql, valid=verdict.valid, errors=list(verdict.errors), warnings=list(verdict.warnings))
    )


@router.route(
    "GET", "/api/jira/fields", summary="List available Jira custom fields", responses={200: JiraFieldList, 502: None}
)
async def list_jira_fields(request: web.Request) -> web.Response:
    return respond(await jira_fields_of(context_of(request)))


async def jira_fields_of(context: WebContext) -> JiraFieldList:
    """Every field Jira shows the token's user, custom fields first, by name."""
    client = _jira(context)
    try:
        fields = await client.fields()
    except ServiceError as error:
        raise _jira_failed(error) from None
    rows = [
        JiraFieldRow(
            id=f.id,
            name=f.name,
            custom=f.custom,
            clause_names=list(f.clause_names),
            type=f.field_schema.type if f.field_schema else None,
        )
        for f in sorted(fields, key=lambda f: (not f.custom, f.name.casefold()))
    ]
    return JiraFieldList(fields=rows)


@router.route(
    "GET",
    "/api/jira/field-options",
    summary="List options for a Jira select field",
    query={"fieldId": QueryParameter("The field, e.g. customfield_10042.", required=True)},
    responses={200: JiraOptionList, 403: None, 404: None, 422: None, 502: None},
)
async def list_jira_field_options(request: web.Request) -> web.Response:
    return respond(await jira_field_options_of(context_of(request), request.query.get("fieldId", "")))


async def jira_field_options_of(context: WebContext, field_id: str) -> JiraOptionList:
    """The options of a select field; Jira lists them to its administrators only (403 otherwise)."""
    client = _jira(context)
    field_id = field_id.strip()
    if not field_id:
        raise ApiError(422, "field_required", "give the field as ?fieldId=customfield_10042")
    try:
        options = await client.field_options(field_id)
    except ValueError as error:
        raise ApiError(422, "invalid_field", str(error)) from None
    except JiraNotFound:
        raise ApiError(404, "not_found", f"Jira has no field {field_id!r} with options") from None
    except JiraForbidden:
        raise ApiError(
            403, "jira_forbidden", "listing field options needs Jira administrator rights for the JIRA_TOKEN user"
        ) from None
    except ServiceError as error:
        raise _jira_failed(error) from None
    rows = [JiraOptionRow(id=o.id, value=o.value, disabled=o.disabled, context=o.context_name) for o in options]
    return JiraOptionList(field_id=field_id, options=rows)
