"""+ New project: the eight-step stepper of the Projects panel, each step checked on the server.

A step is checked with the rules the API and the CRD apply: the spec model, then the API server's
own validation in a dry run (its CEL rules: Bedrock needs a region and cannot use Fly Machines, …),
with Jira's JQL and repository field checked by Jira when Jira is configured. With Jira, step 1 picks
the repository field and its value from what Jira lists (the same service functions as
/api/jira/fields and /api/jira/field-options), and says why when it must be typed instead. Errors
are shown beside their fields.
Create applies the mapping through the same function as POST /api/mappings, stores the step's
secrets (write-only), and swaps the new row into the Projects table without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import SecretStr, ValidationError

from controller.kube.errors import InvalidError, KubeError
from controller.resources import ProjectMappingSpec
from controller.ticketing.jira.tickets import repo_field_id
from controller.web.audit import ui_actor_of
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError
from controller.web.jira_admin import JiraFieldRow, JiraOptionRow, jira_field_options_of, jira_fields_of
from controller.web.mappings import apply_mapping_spec, mapping_page_from, mappings_of
from controller.web.secrets import set_team_secret_of
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session
from webui.stepper import (
    LAST_INPUT_STEP,
    SECRET_ROWS,
    STEPS,
    field_of_error,
    field_of_path,
    secret_names,
    secret_problems,
    shown_fields,
    spec_of,
    step_of_field,
    values_of,
)
from webui.views.projects import PANEL

PATH = "/admin/projects/new"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PATH, signed_in(_start))
    router.add_post(PATH, signed_in(_advance))


async def _start(request: web.Request, session: Session) -> web.StreamResponse:
    return await _show(request, session, values_of({}), 1, {})


async def _advance(request: web.Request, session: Session) -> web.StreamResponse:
    form = {key: str(value) for key, value in (await request.post()).items()}
    values = _sealed(session, values_of(form))
    step = _step_number(form.get("step"))
    action = form.get("action", "next")
    if action == "back":
        return await _show(request, session, values, max(step - 1, 1), {})
    if action == "refresh":  # a choice that changes what the step asks for (ticketing system, Jira field)
        return await _show(request, session, values, step, {})
    context = context_of(request)
    errors = await check(context, values, step)
    if errors:
        return await _show(request, session, values, min(step_of_field(next(iter(errors))), step), errors)
    if action == "create" and step == LAST_INPUT_STEP:
        return await _create(request, session, values)
    return await _show(request, session, values, min(step + 1, LAST_INPUT_STEP), {})


async def check(context: WebContext, values: dict[str, str], step: int) -> dict[str, str]:
    """Every problem of steps 1..`step`, by form field: the spec model first, then the API server's rules."""
    errors: dict[str, str] = {}
    try:
        spec = ProjectMappingSpec.model_validate(spec_of(values, step))
    except ValidationError as invalid:
        for error in invalid.errors():
            field = field_of_error([str(part) for part in error["loc"]])
            if field is not None and step_of_field(field) <= step:
                errors.setdefault(field, _sentence(error["msg"]))
        if errors:
            return errors
        return {}  # only later steps' placeholders are wrong: nothing to say yet
    if step >= 6:
        errors |= secret_problems(values)
    if step == 1 and values.get("ticketingProvider") == "jira" and context.jira is not None:
        errors |= await _jira_problems(context, values)
    try:
        await apply_mapping_spec(context, spec, "dry-run", dry_run=True)
    except InvalidError as refused:
        here = STEPS[step - 1].fields[0] if STEPS[step - 1].fields else "teamKey"
        for cause in refused.causes or ():
            field = field_of_path(cause.field) or here  # a rule about the whole spec: said on this step
            if step_of_field(field) <= step:
                errors.setdefault(field, _sentence(cause.message))
        if not refused.causes:
            errors.setdefault(here, refused.message)
    except (KubeError, ApiError) as unavailable:
        errors.setdefault("teamKey", f"The cluster could not check this step: {_said(unavailable)}")
    return errors


async def _jira_problems(context: WebContext, values: dict[str, str]) -> dict[str, str]:
    """Jira's own word on step 1: its parser on the JQL, its field list on the repository field."""
    assert context.jira is not None
    problems: dict[str, str] = {}
    if values.get("jql"):
        try:
            verdict = await context.jira.validate_jql(values["jql"])
        except Exception as error:  # Jira unreachable: said beside the field, the step can be retried
            problems["jql"] = f"Jira could not check the JQL: {error}"
        else:
            if verdict.errors:
                problems["jql"] = "; ".join(verdict.errors)
    chosen = repo_field_id(values.get("repoField", ""))
    if chosen:
        try:
            fields = (await jira_fields_of(context)).fields
        except ApiError:
            return problems  # the picker says Jira could not list them; the field is then taken as typed
        if chosen not in {row.id for row in fields}:
            problems["repoField"] = f"Jira has no field {chosen}: pick one from the list."
    return problems


@dataclass(frozen=True, slots=True)
class JiraPickers:
    """Step 1's Jira pickers: what Jira lists, or why it could not (then the value is typed)."""

    fields: list[JiraFieldRow] = field(default_factory=list)
    fields_problem: str = ""
    options: list[JiraOptionRow] = field(default_factory=list)
    options_problem: str = ""


async def jira_pickers_of(context: WebContext, values: dict[str, str]) -> JiraPickers | None:
    if context.jira is None or values.get("ticketingProvider") != "jira":
        return None
    try:
        fields = (await jira_fields_of(context)).fields
    except ApiError as error:
        return JiraPickers(fields_problem=f"Jira could not list its fields ({error.message}): type the field id.")
    chosen = values.get("repoField", "")
    if not chosen:
        return JiraPickers(fields=fields)
    try:
        options = (await jira_field_options_of(context, chosen)).options
    except ApiError as error:
        return JiraPickers(fields=fields, options_problem=_options_problem(error))
    if not options:
        return JiraPickers(fields=fields, options_problem="Jira lists no options for this field: type the value.")
    return JiraPickers(fields=fields, options=options)


def _options_problem(error: ApiError) -> str:
    typed = "type the value as the tickets carry it"
    if error.status == 403:
        return f"Jira lists a field's options to its administrators only: {typed}."
    if error.status == 404:
        return f"This is not a select field, so Jira has no options for it: {typed}."
    return f"Jira could not list this field's options ({error.message}): {typed}."


async def _create(request: web.Request, session: Session, values: dict[str, str]) -> web.StreamResponse:
    context = context_of(request)
    spec = ProjectMappingSpec.model_validate(spec_of(values, LAST_INPUT_STEP))
    actor = ui_actor_of(request)
    try:
        view, created = await apply_mapping_spec(context, spec, actor)
    except (KubeError, ApiError) as refused:
        return await _show(request, session, values, LAST_INPUT_STEP, {"teamKey": _said(refused)})
    team_keys = sorted({*(row.team_key for row in mappings_of(context)), spec.team_key})
    stored, failed = [], []
    for name, value in _secrets(session, values):
        try:
            written = await set_team_secret_of(context, spec.team_key, name, SecretStr(value), team_keys, actor)
            stored.append(written.stored_as)
        except ApiError as refused:
            failed.append(f"{name}: {refused.message}")
    result = {"team_key": spec.team_key, "created": created, "stored": stored, "failed": failed}
    page = mapping_page_from(context, view)
    values_out: dict[str, Any] = {"result": result, "page": page, "limit": None, "now": context.clock(), "panel": PANEL}
    return render(request, "panels/project_created.html", values_out, session=session)


async def _show(
    request: web.Request, session: Session, values: dict[str, str], step: int, errors: dict[str, str]
) -> web.StreamResponse:
    context = context_of(request)
    values_out: dict[str, Any] = {
        "steps": STEPS,
        "step": step,
        "values": values,
        "errors": errors,
        "jira_configured": context.jira is not None,
        "shown": shown_fields(step, values),
        "pickers": await jira_pickers_of(context, values) if step == 1 else None,
        "review": spec_of(values, LAST_INPUT_STEP) if step == LAST_INPUT_STEP else None,
        "secret_names": secret_names(values),
        "panel": PANEL,
        "title": "New project",
    }
    return render(request, "panels/new_project.html", values_out, session=session)  # 200: htmx swaps it


def _sealed(session: Session, values: dict[str, str]) -> dict[str, str]:
    """Typed secret values are sealed at once: the page carries them on without ever showing them."""
    for row in range(1, SECRET_ROWS + 1):
        typed = values.pop(f"secretValue{row}", "")
        if typed:
            values[f"sealedSecret{row}"] = session.seal(typed)
        if not values.get(f"secretName{row}"):
            values.pop(f"sealedSecret{row}", None)
    return values


def _secrets(session: Session, values: dict[str, str]) -> list[tuple[str, str]]:
    pairs = []
    for row in range(1, SECRET_ROWS + 1):
        name, sealed = values.get(f"secretName{row}", ""), values.get(f"sealedSecret{row}", "")
        value = session.unseal(sealed) if sealed else None
        if name and value is not None:
            pairs.append((name, value))
    return pairs


def _step_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 1 <= int(text) <= LAST_INPUT_STEP else 1


def _sentence(message: str) -> str:
    text = message.removeprefix("Value error, ").strip()
    return text[:1].upper() + text[1:] if text else "This value is not valid."


def _said(error: KubeError | ApiError) -> str:
    return error.message if isinstance(error, ApiError) else str(error)
