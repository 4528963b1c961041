"""/api/mappings: ProjectMapping resources read from the watched cache and written through the API server.

The UI, this API and `kubectl apply` therefore always agree: there is no second copy of a mapping.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError, field_serializer, field_validator

from controller import constants
from controller.kube import PROJECT_MAPPINGS
from controller.resources import ProjectMappingSpec, ProjectMappingStatus, mapping_name_for
from controller.resources.base import refuse_booleans
from controller.resources.jql_rules import STORED
from controller.resources.project_mapping import TEAM_KEY_PATTERN
from controller.secrets import SecretBackendError, team_secret_names
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, not_found
from controller.web.models import CamelModel, PartialUpdate
from controller.web.routing import ApiRouter, path_param, read_body, respond

logger = logging.getLogger("controller.web")
router = ApiRouter(tag="mappings")

API_FIELD_MANAGER = f"{constants.FIELD_MANAGER}-admin-api"


class MappingView(CamelModel):
    """A mapping as the API shows it: its spec as stored (defaults filled in) and its status."""

    name: str = Field(description="The resource name: the team key in lower case, _ written as -.")
    team_key: str
    spec: ProjectMappingSpec
    status: ProjectMappingStatus = Field(default_factory=ProjectMappingStatus)
    resource_version: str = Field(description="Changes on every write; useful to notice concurrent edits.")

    @field_serializer("spec", "status")
    def _without_unset_fields(self, part: ProjectMappingSpec | ProjectMappingStatus) -> dict[str, Any]:
        return part.to_wire()


class MappingList(CamelModel):
    mappings: list[MappingView] = Field(description="Every mapping, sorted by team key.")


class MappingPatch(PartialUpdate):
    """The only two fields PATCH may change; anything else is refused."""

    max_in_progress_ai_issues: int | None = Field(default=None, ge=0, le=100, description="New concurrency cap.")
    paused: bool | None = Field(default=None, strict=True, description="Pause or resume new dispatches.")

    _whole_numbers = field_validator("max_in_progress_ai_issues", mode="before")(refuse_booleans)


def mapping_view(body: dict[str, Any]) -> MappingView:
    """Parse a ProjectMapping object as the API server returns it."""
    spec = ProjectMappingSpec.model_validate(body["spec"], context=STORED)
    return MappingView(
        name=body["metadata"]["name"],
        team_key=spec.team_key,
        spec=spec,
        status=ProjectMappingStatus.model_validate(body.get("status") or {}),
        resource_version=body["metadata"].get("resourceVersion", ""),
    )


def cached_mappings(request: web.Request) -> list[MappingView]:
    """Every mapping from the informer's cache; an object the models cannot read is logged and left out."""
    return mappings_of(context_of(request))


def mappings_of(context: WebContext) -> list[MappingView]:
    """`cached_mappings` for callers without a request (the admin UI's pages)."""
    informer = context.mappings
    if not informer.synced:
        raise ApiError(
            503,
            "kubernetes_unavailable",
            "ProjectMappings are not listed yet: the Kubernetes API has not answered (see /readyz)",
            headers={"Retry-After": "5"},
        )
    return sorted(
        (view for view in informer.parsed(_readable_view) if view is not None), key=lambda view: view.team_key
    )


def _readable_view(item: dict[str, Any]) -> MappingView | None:
    """The view of one cached mapping, parsed once per resourceVersion; an unreadable one is logged once."""
    try:
        return mapping_view(copy.deepcopy(item))
    except (KeyError, ValidationError) as error:
        logger.warning("skipping unreadable ProjectMapping %s: %s", item.get("metadata", {}).get("name"), error)
        return None


def team_key_of(request: web.Request) -> str:
    team_key = path_param(request, "teamKey")
    if not re.fullmatch(TEAM_KEY_PATTERN, team_key):
        raise not_found(f"no mapping for team key {team_key!r}: team keys are upper-case letters, digits and _")
    return team_key


@router.route("GET", "/api/mappings", summary="List all project mappings", responses={200: MappingList})
async def list_mappings(request: web.Request) -> web.Response:
    return respond(MappingList(mappings=cached_mappings(request)))


@router.route(
    "POST",
    "/api/mappings",
    summary="Create or update a project mapping",
    description="Server-side apply of the fields given, with the field manager "
    f"`{API_FIELD_MANAGER}`: fields this API set before and now leaves out return to their defaults, "
    "fields set by others (kubectl) are kept. The API server's own validation (CEL rules) answers 422 "
    "with its message.",
    body=ProjectMappingSpec,
    responses={200: MappingView, 201: MappingView, 502: None},
)
async def apply_mapping(request: web.Request) -> web.Response:
    spec = await read_body(request, ProjectMappingSpec)
    view, created = await apply_mapping_spec(context_of(request), spec, actor_of(request))
    return respond(view, status=201 if created else 200)


async def apply_mapping_spec(
    context: WebContext, spec: ProjectMappingSpec, actor: str, *, dry_run: bool = False
) -> tuple[MappingView, bool]:
    """Create or update a mapping (server-side apply); the view, and whether it was created.

    `dry_run` has the API server check it with every rule of the CRD (the admin UI's stepper does, step
    by step) and changes nothing, audit trail included.
    """
    name = mapping_name_for(spec.team_key)
    existed = context.mappings.get(name, context.namespace) is not None
    body = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": name, "namespace": context.namespace},
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True),
    }
    applied = await context.kube.apply(
        PROJECT_MAPPINGS, context.namespace, body, API_FIELD_MANAGER, force=True, dry_run=dry_run
    )
    if not dry_run:
        await record_change_by(context, actor, "mapping.apply", spec.team_key, {"created": not existed})
    return mapping_view(applied), not existed


@router.route(
    "PATCH",
    "/api/mappings/{teamKey}",
    summary="Change a mapping's concurrency cap (maxInProgressAiIssues) or paused state",
    body=MappingPatch,
    responses={200: MappingView, 502: None},
)
async def patch_mapping(request: web.Request) -> web.Response:
    patch = await read_body(request, MappingPatch)
    return respond(await patch_mapping_of(context_of(request), team_key_of(request), patch, actor_of(request)))


async def patch_mapping_of(context: WebContext, team_key: str, patch: MappingPatch, actor: str) -> MappingView:
    """Change the cap or the paused state, and nothing else."""
    spec_patch: dict[str, Any] = {}
    if patch.max_in_progress_ai_issues is not None:
        spec_patch["capacity"] = {"maxInProgressAiIssues": patch.max_in_progress_ai_issues}
    if patch.paused is not None:
        spec_patch["paused"] = patch.paused
    patched = await context.kube.merge_patch(
        PROJECT_MAPPINGS,
        context.namespace,
        mapping_name_for(team_key),
        {"spec": spec_patch},
        field_manager=API_FIELD_MANAGER,
    )
    await record_change_by(
        context, actor, "mapping.patch", team_key, patch.model_dump(by_alias=True, exclude_none=True)
    )
    return mapping_view(patched)


@router.route(
    "DELETE",
    "/api/mappings/{teamKey}",
    summary="Delete a project mapping",
    description="Also deletes the mapping's per-team secrets, which would otherwise read as global ones.",
    responses={204: None, 502: None},
)
async def delete_mapping(request: web.Request) -> web.Response:
    await delete_mapping_of(context_of(request), team_key_of(request), actor_of(request))
    return web.Response(status=204)


async def delete_mapping_of(context: WebContext, team_key: str, actor: str) -> None:
    """Delete the mapping and its per-team secrets (which would otherwise read as global ones)."""
    team_keys = [view.team_key for view in mappings_of(context)]
    await context.kube.delete(PROJECT_MAPPINGS, context.namespace, mapping_name_for(team_key))
    removed = await delete_team_secrets(context, team_key, team_keys)
    await record_change_by(context, actor, "mapping.delete", team_key, {"deletedSecrets": list(removed)})


async def delete_team_secrets(context: WebContext, team_key: str, team_keys: list[str]) -> list[str]:
    """Delete every secret stored under a team's prefix; returns their stored names."""
    try:
        stored = [info.name for info in await context.secrets.list_secrets()]
        names = [f"{team_key}_{name}" for name in team_secret_names(stored, team_key, team_keys)]
        for name in names:
            await context.secrets.delete_secret(name)
    except SecretBackendError as error:
        raise ApiError(
            502,
            "secret_store_unavailable",
            f"the mapping {team_key} was deleted, but its secrets could not be: {error}",
        ) from None
    return names
