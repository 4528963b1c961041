"""/api/mappings: ProjectMapping resources read from the watched cache and written through the API server.

The UI, this API and `kubectl apply` therefore always agree: there is no second copy of a mapping.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from pydantic import Field, ValidationError, field_serializer, field_validator

from controller import constants
from controller.kube import PROJECT_MAPPINGS, Informer
from controller.resources import ProjectMappingSpec, ProjectMappingStatus, mapping_name_for
from controller.resources.base import refuse_booleans
from controller.resources.jql_rules import STORED
from controller.resources.project_mapping import TEAM_KEY_PATTERN
from controller.secrets import SecretBackendError, team_secret_names
from controller.web.audit import actor_of, record_change_by
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, not_found
from controller.web.models import CamelModel, PartialUpdate
from controller.web.paging import Position, SortKey, Window, cursor_of, paging_parameters, window_of_sorted
from controller.web.routing import ApiRouter, limit_of, path_param, read_body, reject_unknown_query, respond

logger = logging.getLogger("controller.web")
router = ApiRouter(tag="mappings")

API_FIELD_MANAGER = f"{constants.FIELD_MANAGER}-admin-api"
MAPPING_PAGE: Final = 100
MAX_MAPPING_PAGE: Final = 500


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
    mappings: list[MappingView] = Field(
        description=f"One page of mappings, sorted by team key: the first {MAPPING_PAGE} unless limit or cursor "
        "say otherwise."
    )
    next_cursor: str | None = Field(
        default=None, description="The cursor of the page after this one; null on the last page."
    )
    previous_cursor: str | None = Field(
        default=None, description="The cursor of the page before this one; null on the first page."
    )
    total: int = Field(default=0, description="How many mappings there are, on every page.")


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


@dataclass(frozen=True)
class MappingIndex:
    """Every readable mapping sorted by team key, and looked up by it: built once per change of the cache."""

    views: tuple[MappingView, ...]
    keys: tuple[SortKey, ...]
    """(team key,) of each view, in the same order: what pages bisect."""
    by_team_key: Mapping[str, MappingView]


def cached_mappings(request: web.Request) -> list[MappingView]:
    """Every mapping from the informer's cache; an object the models cannot read is logged and left out."""
    return mappings_of(context_of(request))


def mappings_of(context: WebContext) -> list[MappingView]:
    """`cached_mappings` for callers without a request (the admin UI's pages)."""
    return list(mapping_index_of(context).views)


def mapping_of(context: WebContext, team_key: str) -> MappingView | None:
    """The cached mapping of one team, without reading the others."""
    return mapping_index_of(context).by_team_key.get(team_key)


def mapping_index_of(context: WebContext) -> MappingIndex:
    """The index of the cached mappings; ApiError 503 until the informer has listed them once."""
    informer = context.mappings
    if not informer.synced:
        raise ApiError(
            503,
            "kubernetes_unavailable",
            "ProjectMappings are not listed yet: the Kubernetes API has not answered (see /readyz)",
            headers={"Retry-After": "5"},
        )
    return informer.derived(_index_of)


def _index_of(informer: Informer) -> MappingIndex:
    views = tuple(sorted((view for view in informer.parsed(_readable_view) if view is not None), key=_team_key))
    return MappingIndex(
        views=views, keys=tuple(_sort_key(view) for view in views), by_team_key={v.team_key: v for v in views}
    )


def _team_key(view: MappingView) -> str:
    return view.team_key


def _sort_key(view: MappingView) -> SortKey:
    return (view.team_key,)


def mapping_page_of(context: WebContext, position: Position | None = None, limit: int = MAPPING_PAGE) -> MappingList:
    """One page of mappings by team key, for the JSON API and the Projects panel alike: a slice of the index."""
    index = mapping_index_of(context)
    window = window_of_sorted(index.views, index.keys, position, limit)
    previous, following = window.cursors(_sort_key)
    return MappingList(
        mappings=list(window.items), next_cursor=following, previous_cursor=previous, total=len(index.views)
    )


def mapping_page_from(context: WebContext, first: MappingView, limit: int = MAPPING_PAGE) -> MappingList:
    """The page that starts with `first`, which the cache may not hold yet (it was just created)."""
    index = mapping_index_of(context)
    views = sorted([*(v for v in index.views if v.team_key != first.team_key), first], key=_team_key)
    start = next(n for n, view in enumerate(views) if view.team_key == first.team_key)
    window = Window(items=views[start : start + limit], more_before=start > 0, more_after=start + limit < len(views))
    previous, following = window.cursors(_sort_key)
    return MappingList(mappings=list(window.items), next_cursor=following, previous_cursor=previous, total=len(views))


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


@router.route(
    "GET",
    "/api/mappings",
    summary="List the project mappings, a page at a time",
    description=f"Sorted by team key, {MAPPING_PAGE} to a page unless `limit` says otherwise; follow `nextCursor` "
    "(null on the last page) for the rest. `total` counts them all.",
    query=paging_parameters(MAPPING_PAGE, MAX_MAPPING_PAGE, order="by team key"),
    responses={200: MappingList, 422: None},
)
async def list_mappings(request: web.Request) -> web.Response:
    reject_unknown_query(request)
    limit = limit_of(request, MAPPING_PAGE, MAX_MAPPING_PAGE)
    return respond(mapping_page_of(context_of(request), cursor_of(request, arity=1), limit))


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
