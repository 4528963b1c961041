"""/api/global-secrets and /api/mappings/:teamKey/secrets: write-only runner secrets."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field, SecretStr, field_validator

from controller.secrets import (
    SECRET_NAME_PATTERN,
    SecretBackendError,
    SecretNameError,
    check_global_secret_name,
    check_secret_name,
    global_secret_names,
    names_by_owner,
    stored_team_secret_name,
    team_secret_names,
)
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, ErrorDetail, not_found
from controller.web.mappings import mappings_of, team_key_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, path_param, read_body, respond

router = ApiRouter(tag="secrets")


class SecretWrite(CamelModel):
    name: str = Field(
        json_schema_extra={"pattern": SECRET_NAME_PATTERN},
        description="Letters, digits and underscores, not starting with a digit.",
    )
    value: SecretStr = Field(min_length=1, max_length=65536, description="Write-only: never returned.")

    @field_validator("name")
    @classmethod
    def _name_follows_the_rules(cls, name: str) -> str:
        """The rule's own message, which says what is allowed, rather than a bare regular expression."""
        check_secret_name(name)
        return name


class SecretEntry(CamelModel):
    name: str = Field(description="The secret's name as its scope sees it (team secrets without prefix).")
    updated_at: datetime | None = Field(description="When it last changed, where the backend knows it.")


class SecretList(CamelModel):
    backend: str = Field(description="Where the secrets are kept: kubernetes (SECRETS_BACKEND).")
    secrets: list[SecretEntry]


class SecretWritten(CamelModel):
    name: str
    stored_as: str = Field(description="The name in the backend: team secrets carry the team-key prefix.")
    backend: str


def _team_keys(request: web.Request) -> list[str]:
    return _team_keys_of(context_of(request))


def _team_keys_of(context: WebContext) -> list[str]:
    return [view.team_key for view in mappings_of(context)]


def _name_rejected(error: SecretNameError) -> ApiError:
    return ApiError(422, "invalid_secret_name", str(error), details=[ErrorDetail(field="name", message=str(error))])


def _unavailable(error: SecretBackendError) -> ApiError:
    return ApiError(502, "secret_store_unavailable", str(error))


async def _stored(context: WebContext) -> dict[str, datetime | None]:
    try:
        return {info.name: info.updated_at for info in await context.secrets.list_secrets()}
    except SecretBackendError as error:
        raise _unavailable(error) from None


async def write_secret(
    context: WebContext, scope: str, name: str, stored_as: str, value: SecretStr, actor: str
) -> SecretWritten:
    """Store one secret's value (never read back) and record who did, without the value."""
    try:
        await context.secrets.set_secret(stored_as, value.get_secret_value())
    except SecretBackendError as error:
        raise _unavailable(error) from None
    await record_change_by(context, actor, "secret.set", stored_as, {"scope": scope})
    return SecretWritten(name=name, stored_as=stored_as, backend=context.secrets.kind)


async def set_team_secret_of(
    context: WebContext, team_key: str, name: str, value: SecretStr, team_keys: list[str], actor: str
) -> SecretWritten:
    """A per-team secret, stored under the team's prefix (`team_keys` rule out a prefix another team owns)."""
    try:
        stored_as = stored_team_secret_name(team_key, name, team_keys)
    except SecretNameError as error:
        raise _name_rejected(error) from None
    return await write_secret(context, f"team:{team_key}", name, stored_as, value, actor)


async def delete_secret(context: WebContext, scope: str, stored_as: str, actor: str) -> None:
    try:
        deleted = await context.secrets.delete_secret(stored_as)
    except SecretBackendError as error:
        raise _unavailable(error) from None
    if not deleted:
        raise not_found(f"there is no secret {stored_as}")
    await record_change_by(context, actor, "secret.delete", stored_as, {"scope": scope})


def _known_team(request: web.Request) -> str:
    team_key = team_key_of(request)
    if team_key not in _team_keys(request):
        raise not_found(f"there is no project mapping {team_key}")
    return team_key


@router.route("GET", "/api/global-secrets", summary="List global Fly secrets", responses={200: SecretList, 502: None})
async def list_global_secrets(request: web.Request) -> web.Response:
    return respond(await global_secrets_of(context_of(request)))


async def secrets_by_scope_of(context: WebContext) -> dict[str | None, SecretList]:
    """Every scope's secrets from one read of the backend (None: the global ones): what the Secrets
    panel shows, in time that does not grow with one backend call per team."""
    stored = await _stored(context)
    owned = names_by_owner(stored, _team_keys_of(context))
    return {
        owner: SecretList(
            backend=context.secrets.kind,
            secrets=[
                SecretEntry(name=name, updated_at=stored[name if owner is None else f"{owner}_{name}"])
                for name in names
            ],
        )
        for owner, names in owned.items()
    }


async def global_secrets_of(context: WebContext) -> SecretList:
    """Names and change times of the global secrets; values never leave the backend."""
    stored = await _stored(context)
    names = global_secret_names(stored, _team_keys_of(context))
    entries = [SecretEntry(name=name, updated_at=stored[name]) for name in names]
    return SecretList(backend=context.secrets.kind, secrets=entries)


@router.route(
    "POST",
    "/api/global-secrets",
    summary="Set a global Fly secret",
    description="The name may not start with any project key prefix (e.g. ENG_ while project ENG exists).",
    body=SecretWrite,
    responses={201: SecretWritten, 502: None},
)
async def set_global_secret(request: web.Request) -> web.Response:
    body = await read_body(request, SecretWrite)
    return respond(await set_global_secret_of(context_of(request), body, actor_of(request)), status=201)


async def set_global_secret_of(context: WebContext, body: SecretWrite, actor: str) -> SecretWritten:
    try:
        check_global_secret_name(body.name, _team_keys_of(context))
    except SecretNameError as error:
        raise _name_rejected(error) from None
    return await write_secret(context, "global", body.name, body.name, body.value, actor)


@router.route(
    "DELETE",
    "/api/global-secrets/{name}",
    summary="Delete a global Fly secret",
    responses={204: None, 422: None, 502: None},
)
async def delete_global_secret(request: web.Request) -> web.Response:
    await delete_global_secret_of(context_of(request), path_param(request, "name"), actor_of(request))
    return web.Response(status=204)


async def delete_global_secret_of(context: WebContext, name: str, actor: str) -> None:
    try:
        check_global_secret_name(name, _team_keys_of(context))
    except SecretNameError as error:
        raise _name_rejected(error) from None
    await delete_secret(context, "global", name, actor)


@router.route(
    "GET",
    "/api/mappings/{teamKey}/secrets",
    summary="List per-team Fly secrets",
    responses={200: SecretList, 502: None},
)
async def list_team_secrets(request: web.Request) -> web.Response:
    return respond(await team_secrets_of(context_of(request), _known_team(request)))


async def team_secrets_of(context: WebContext, team_key: str) -> SecretList:
    """Names (without the team prefix) and change times of one team's secrets."""
    stored = await _stored(context)
    names = team_secret_names(stored, team_key, _team_keys_of(context))
    entries = [SecretEntry(name=name, updated_at=stored[f"{team_key}_{name}"]) for name in names]
    return SecretList(backend=context.secrets.kind, secrets=entries)


@router.route(
    "POST",
    "/api/mappings/{teamKey}/secrets",
    summary="Set a per-team Fly secret",
    description="A secret MY_TOKEN of project ENG is stored as ENG_MY_TOKEN.",
    body=SecretWrite,
    responses={201: SecretWritten, 502: None},
)
async def set_team_secret(request: web.Request) -> web.Response:
    team_key = _known_team(request)
    body = await read_body(request, SecretWrite)
    context = context_of(request)
    written = await set_team_secret_of(
        context, team_key, body.name, body.value, _team_keys_of(context), actor_of(request)
    )
    return respond(written, status=201)


@router.route(
    "DELETE",
    "/api/mappings/{teamKey}/secrets/{name}",
    summary="Delete a per-team Fly secret",
    responses={204: None, 422: None, 502: None},
)
async def delete_team_secret(request: web.Request) -> web.Response:
    team_key = _known_team(request)
    await delete_team_secret_of(context_of(request), team_key, path_param(request, "name"), actor_of(request))
    return web.Response(status=204)


async def delete_team_secret_of(context: WebContext, team_key: str, name: str, actor: str) -> None:
    try:
        stored_as = stored_team_secret_name(team_key, name, _team_keys_of(context))
    except SecretNameError as error:
        raise _name_rejected(error) from None
    await delete_secret(context, f"team:{team_key}", stored_as, actor)
