"""The one interface every runner backend implements, and the values that cross it.

A backend turns a `RunLaunch` (everything a run needs, resolved by the Dispatch reconciler) into a
live resource on GitHub Actions, Fly Machines or the local Docker Engine, and can find, read,
destroy and list such resources again. Every method is idempotent per dispatch: `start` first looks
for a resource carrying the dispatch name and adopts it, so that a reconciler that died between
starting a run and recording it never starts a second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

BackendName = Literal["github-actions", "fly-machines", "local"]
SessionState = Literal["created", "starting", "started", "stopping", "stopped", "destroyed", "unknown"]
"""The Fly vocabulary, used for every backend so that sessions read the same whatever runs them."""

LIVE_STATES: frozenset[str] = frozenset({"created", "starting", "started", "stopping"})

METADATA_DISPATCH = "dispatch"
METADATA_ISSUE = "issue"
METADATA_TEAM = "team"
METADATA_TENANT = "tenant"
METADATA_KIND = "kind"
METADATA_REPO = "repo"
METADATA_NAMESPACE = "namespace"


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoRef:
    """A GitHub repository and the branch runs start from."""

    owner: str
    name: str
    default_branch: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLaunch:
    """Everything one run needs; built by the reconciler, read by a backend.

    `environment` holds settings safe to show to anyone who can read the backend resource (model
    provider, region, caps, callback URL). `secrets` holds credentials: only the local Docker
    backend passes them to the container directly (the Engine is the operator's own machine);
    GitHub Actions and Fly runs obtain theirs through the workload-identity exchange
    (`POST /runner/credentials`), because workflow inputs and machine configs are readable by
    others (docs/runners.md).
    """

    dispatch_name: str
    dispatch_uid: str
    namespace: str
    team_key: str
    tenant: str | None
    kind: str
    iteration: int
    pipeline: str
    issue_provider: str
    issue_id: str
    issue_identifier: str
    issue_title: str
    issue_url: str
    repo: RepoRef
    pull_request_number: int | None
    pull_request_branch: str | None
    image: str
    region: str | None
    callback_base_url: str
    deadline: datetime
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    """When the Dispatch was created: a backend resource older than that is not this run's."""
    earlier_attempt: bool = True
    """Whether an earlier attempt may have started this run (and died before saying so): a backend then
    adopts what it finds. False on a Dispatch's first attempt, so GitHub Actions need not list the
    repository's recent runs before every start."""

    def metadata(self) -> dict[str, str]:
        """What the reaper and the sessions panel read back from a live resource: never a secret."""
        entries = {
            METADATA_DISPATCH: self.dispatch_name,
            METADATA_ISSUE: self.issue_identifier,
            METADATA_TEAM: self.team_key,
            METADATA_KIND: self.kind,
            METADATA_REPO: self.repo.full_name,
            METADATA_NAMESPACE: self.namespace,
        }
        if self.tenant:
            entries[METADATA_TENANT] = self.tenant
        return entries


@dataclass(frozen=True, slots=True, kw_only=True)
class RunHandle:
    """A live or finished backend resource.

    `id` is what `status` and `destroy` take back: the Fly machine id, the container id, or
    `owner/repo/run_id` for a workflow run. `finished` and `succeeded` are known only once the
    backend itself says the run ended (a completed workflow run, an exited container).
    """

    backend: BackendName
    id: str
    name: str
    state: SessionState
    backend_state: str
    created_at: datetime | None = None
    url: str | None = None
    region: str | None = None
    app: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    exit_code: int | None = None


class RunnerBackend(Protocol):
    """Start, read, destroy and list runs on one kind of infrastructure."""

    name: BackendName

    async def start(self, launch: RunLaunch) -> RunHandle:
        """Start the run, or adopt the one already started for `launch.dispatch_name`."""
        ...

    async def find(self, launch: RunLaunch) -> RunHandle | None:
        """The resource started for this dispatch, if there is one."""
        ...

    async def status(self, resource_id: str) -> RunHandle | None:
        """The resource as the backend sees it now; None once it no longer exists."""
        ...

    async def destroy(self, resource_id: str) -> None:
        """Stop and remove the resource; a resource that is already gone counts as destroyed."""
        ...

    async def list_live(self, repos: Sequence[RepoRef] = ()) -> list[RunHandle]:
        """Every resource this backend runs for us (GitHub Actions looks in `repos`)."""
        ...
