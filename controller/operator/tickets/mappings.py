"""The mappings as the operator sees them: an index that routes tickets, and the status each deserves.

Both are pure: the index is rebuilt from the informer's objects, the status from facts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from controller.config import (
    ConfigProblem,
    RunnerMode,
    Settings,
    bedrock_kept_off_fly,
    effective_execution_mode,
    missing_for_mapping,
)
from controller.kube import ChangeType, Informer, KubeObject
from controller.resources import ProjectMappingSpec, effective_max_iterations
from controller.resources.base import Condition
from controller.resources.jql_rules import STORED, jql_problem
from controller.ticketing.model import Provider, Ticket, TicketScope

logger = logging.getLogger("controller.operator")


@dataclass(frozen=True)
class IndexedMapping:
    """A ProjectMapping with what dispatching needs of its metadata."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: ProjectMappingSpec

    @property
    def provider(self) -> Provider:
        return self.spec.ticketing.provider

    @property
    def route_key(self) -> str:
        """Linear: the Linear team key (defaulting to the mapping's). Jira: the repo field value."""
        ticketing = self.spec.ticketing
        if ticketing.jira is not None:
            return ticketing.jira.repo_field_value
        linear_key = ticketing.linear.team_key if ticketing.linear is not None else None
        return linear_key or self.spec.team_key

    def scope(self) -> TicketScope:
        jira = self.spec.ticketing.jira
        return TicketScope(
            team_key=self.spec.team_key,
            route_key=self.route_key,
            jql=jira.jql if jira else None,
            repo_field=jira.repo_field if jira else None,
        )


def indexed_mapping(body: Mapping[str, Any]) -> IndexedMapping:
    metadata = body["metadata"]
    return IndexedMapping(
        name=metadata["name"],
        namespace=metadata.get("namespace", ""),
        uid=metadata.get("uid", ""),
        generation=int(metadata.get("generation", 0)),
        spec=ProjectMappingSpec.model_validate(body["spec"], context=STORED),
    )


@dataclass(frozen=True)
class MappingIndex:
    """Mappings by provider and route key; a scope claimed twice goes to the alphabetically first name."""

    routes: dict[tuple[Provider, str], IndexedMapping] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    """Mapping name → why it routes nothing, another mapping claiming its scope."""
    unsafe: dict[str, str] = field(default_factory=dict)
    """Mapping name → why its JQL is left out of the poll (it could escape its parentheses)."""
    readable: list[IndexedMapping] = field(default_factory=list)
    """Every mapping the models could read, routing or not."""

    def scopes(self, provider: Provider) -> list[TicketScope]:
        return [m.scope() for (p, _), m in sorted(self.routes.items()) if p == provider]

    def route(self, ticket: Ticket) -> IndexedMapping | None:
        return self.routes.get((ticket.provider, ticket.route_key))

    def of_team(self, team_key: str) -> IndexedMapping | None:
        """The mapping a Dispatch names by its team key (`spec.mapping`)."""
        return next((mapping for mapping in self.readable if mapping.spec.team_key == team_key), None)

    def team_keys(self) -> list[str]:
        return [mapping.spec.team_key for mapping in self.readable]

    def mappings_of(self, provider: Provider) -> list[IndexedMapping]:
        """Every readable mapping of a provider, including those a conflict leaves without tickets."""
        return [m for m in self.readable if m.provider == provider]


def build_index(objects: Iterable[Mapping[str, Any]]) -> MappingIndex:
    """The index of every readable mapping; unreadable ones are logged (the API server validated them)."""
    return index_of([mapping for mapping in map(readable_mapping, objects) if mapping is not None])


def readable_mapping(body: Mapping[str, Any]) -> IndexedMapping | None:
    """The mapping as the index holds it, or None (logged) when it cannot be read."""
    try:
        return indexed_mapping(body)
    except (KeyError, ValidationError) as error:
        logger.warning("ignoring unreadable ProjectMapping %s: %s", body.get("metadata", {}).get("name"), error)
        return None


def index_of(readable: list[IndexedMapping]) -> MappingIndex:
    """The index of mappings already read: routes, the conflicts between them, unsafe JQL."""
    readable = list(readable)
    claimants: dict[tuple[Provider, str], list[IndexedMapping]] = defaultdict(list)
    unsafe: dict[str, str] = {}
    for mapping in sorted(readable, key=lambda m: m.name):
        jira = mapping.spec.ticketing.jira
        problem = jql_problem(jira.jql) if jira is not None else None
        if problem is not None:
            unsafe[mapping.name] = f"{problem}; fix spec.ticketing.jira.jql, this mapping gets no tickets until then"
            continue
        claimants[(mapping.provider, mapping.route_key)].append(mapping)
    routes: dict[tuple[Provider, str], IndexedMapping] = {}
    conflicts: dict[str, str] = {}
    for key, mappings in claimants.items():
        routes[key] = mappings[0]
        for loser in mappings[1:]:
            conflicts[loser.name] = (
                f"mapping {mappings[0].name} already routes {key[0]} tickets of {key[1]!r}; this one gets none"
            )
    readable.sort(key=lambda m: m.name)
    return MappingIndex(routes=routes, conflicts=conflicts, unsafe=unsafe, readable=readable)


class MappingDirectory:
    """The one index of the ProjectMappings every lookup shares, rebuilt only when the cache changes.

    Reading the informer copies every object, so a lookup per reconcile (the mapping of a Dispatch's
    team) would copy them all each time; the index is built once per change instead, from mappings
    each read (validated) once per version: a status write to one of 1,000 mappings re-reads that
    one, not all of them (at the start of a term every mapping's status is written, and re-reading
    all 1,000 each time cost minutes of CPU and the operator's memory; bench case 6).
    """

    def __init__(self, mappings: Informer) -> None:
        self._mappings = mappings
        self._index: MappingIndex | None = None
        mappings.on_change(self._forget)

    def index(self) -> MappingIndex:
        if self._index is None:
            self._index = index_of(self._readable())
        return self._index

    def index_with(self, body: Mapping[str, Any]) -> MappingIndex:
        """The index as it is once `body` is in it: a mapping kopf hands over may be newer than the cache."""
        name = body.get("metadata", {}).get("name")
        cached = next((m for m in self.index().readable if m.name == name), None)
        if cached is not None and cached.generation >= int(body.get("metadata", {}).get("generation") or 0):
            return self.index()
        newer = readable_mapping(body)
        others = [mapping for mapping in self._readable() if mapping.name != name]
        return index_of([*others, newer] if newer is not None else others)

    def _readable(self) -> list[IndexedMapping]:
        return [mapping for mapping in self._mappings.parsed(readable_mapping) if mapping is not None]

    def _forget(self, _change: ChangeType, _mapping: KubeObject) -> None:
        self._index = None


@dataclass(frozen=True)
class MappingStatusFacts:
    """Everything a mapping's status reports, gathered by the operator."""

    runner_mode: RunnerMode
    conflict: str | None = None
    unsafe_jql: str | None = None


def mapping_missing_credentials(
    settings: Settings, spec: ProjectMappingSpec, runner_mode: RunnerMode
) -> list[ConfigProblem]:
    return missing_for_mapping(
        settings,
        ticketing_provider=spec.ticketing.provider,
        execution_mode=spec.runner.execution_mode,
        model_provider=spec.provider.name,
        runner_mode=runner_mode,
    )


def _variables(problems: list[ConfigProblem]) -> str:
    """`A is`, `A and B are`, `A, B and C are`: the variables an operator has to set."""
    names = [problem.variable for problem in problems]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{listed} {'is' if len(names) == 1 else 'are'}"


def _condition(
    previous: Mapping[str, Mapping[str, Any]], kind: str, ok: bool, reason: str, message: str, now: datetime, gen: int
) -> Condition:
    """A condition keeps its lastTransitionTime while its status does not change."""
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = now
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        since = datetime.fromisoformat(str(before["lastTransitionTime"]).replace("Z", "+00:00"))
    return Condition(
        type=kind, status=status, reason=reason, message=message, last_transition_time=since, observed_generation=gen
    )


def mapping_status_patch(
    mapping: IndexedMapping,
    settings: Settings,
    facts: MappingStatusFacts,
    previous_status: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The fields of a mapping's status its reconciler owns (conditions: only its own two), to apply."""
    previous = {c["type"]: c for c in previous_status.get("conditions") or [] if "type" in c}
    missing = mapping_missing_credentials(settings, mapping.spec, facts.runner_mode)
    credentials = _condition(
        previous,
        "CredentialsResolved",
        not missing,
        "AllCredentialsSet" if not missing else "CredentialsMissing",
        "every variable this mapping needs is set" if not missing else " ".join(p.message for p in missing),
        now,
        mapping.generation,
    )
    if facts.unsafe_jql is not None:
        ready_reason, ready_message = "UnsafeJql", facts.unsafe_jql
    elif facts.conflict is not None:
        ready_reason, ready_message = "DuplicateScope", facts.conflict
    elif missing:
        ready_reason, ready_message = "CredentialsMissing", f"runs cannot start until {_variables(missing)} set"
    elif mapping.spec.paused:
        ready_reason, ready_message = "Paused", "the mapping is paused: no new runs are dispatched"
    else:
        ready_reason, ready_message = "Ready", "tickets of this scope are dispatched"
    ready = _condition(
        previous,
        "Ready",
        facts.conflict is None and facts.unsafe_jql is None and not missing,
        ready_reason,
        ready_message,
        now,
        mapping.generation,
    )
    status: dict[str, Any] = {
        "observedGeneration": mapping.generation,
        "conditions": [credentials.to_wire(), ready.to_wire()],
        "effectiveRunnerMode": effective_runner_mode(facts.runner_mode, mapping.spec),
        "effectiveMaxIterations": effective_max_iterations(mapping.spec),
    }
    note = bedrock_kept_off_fly(facts.runner_mode, mapping.spec.runner.execution_mode, mapping.spec.provider.name)
    if note is not None:  # applied without it, the field goes: server-side apply drops what is no longer owned
        status["effectiveRunnerModeNote"] = note
    return status


def readiness_change(current: Mapping[str, Any], patch: Mapping[str, Any]) -> tuple[bool, str, str] | None:
    """(ready, reason, message) when `patch` turns the Ready condition on or off (or sets it first), else None."""

    def ready_of(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)

    before, after = ready_of(current), ready_of(patch)
    if after is None or (before is not None and before.get("status") == after.get("status")):
        return None
    return after.get("status") == "True", str(after.get("reason", "")), str(after.get("message", ""))


DROPPED_WHEN_ABSENT: Final = ("effectiveRunnerModeNote",)
"""Status fields this writer owns only sometimes: applying a status without one removes it."""


def status_patch_changes(current: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether applying `patch` to the status `current` would change anything (a skipped write costs nothing).

    Conditions are compared by type, and only those in `patch`: the others belong to other writers
    (the workflow check's WorkflowsInSync), in whatever order they keep them.
    """
    for key, value in patch.items():
        if key == "conditions":
            mine = _by_type(value)
            if {kind: _by_type(current.get(key)).get(kind) for kind in mine} != mine:
                return True
        elif current.get(key) != value:
            return True
    return any(key in current and key not in patch for key in DROPPED_WHEN_ABSENT)


def _by_type(conditions: Any) -> dict[str, Any]:
    if not isinstance(conditions, list):
        return {}
    return {str(condition.get("type")): condition for condition in conditions if isinstance(condition, Mapping)}


def effective_runner_mode(runner_mode: RunnerMode, spec: ProjectMappingSpec) -> str:
    """Where runs really go; `shadow` is reported as such, since it also boots a Fly machine (never for
    Bedrock, which cannot run on Fly Machines)."""
    if runner_mode is RunnerMode.SHADOW and spec.provider.name != "bedrock":
        return "shadow"
    return effective_execution_mode(runner_mode, spec.runner.execution_mode, spec.provider.name)
