"""Dispatch reconciliation: from a new Dispatch to a started run, and from a run's end to its effects.

`DispatchReconciler.reconcile(name)` reads the Dispatch afresh, asks `run_rules.next_step` what it
needs, and does that. Every side effect is idempotent and keyed by the Dispatch (its UID for tokens
and comments, its name for backend resources and sessions), and the status records progress
before the step that depends on it, so a reconciler that dies between any two steps repeats the
unfinished ones on restart and never starts a second run. `checkpoint` names the points between
steps; tests make it raise to prove exactly that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controller import constants
from controller.clock import Clock, kube_timestamp, parse_kube_timestamp
from controller.config import Settings
from controller.httpclient import ServiceError
from controller.kube import DISPATCHES, RUNNER_SESSIONS, EventRecorder, EventType, KubeClient, apply_conditions
from controller.kube.errors import AlreadyExistsError, ConflictError, NotFoundError
from controller.metrics import AGENT_COST, AGENT_TOKENS, DISPATCH_SECONDS, DISPATCHES_FINISHED, RUNS_STARTED
from controller.operator.runs.launch import (
    LaunchError,
    LaunchFacts,
    compose_launch,
    parse_image_override,
    session_image,
)
from controller.operator.runs.messages import closing_comment, log_message
from controller.operator.runs.rules import Action, NextStep, RunFacts, next_step
from controller.operator.runs.ticket_updates import TicketGone, TicketUpdater
from controller.operator.tickets.mappings import MappingDirectory
from controller.resources import DispatchSpec, ProjectMappingSpec
from controller.resources.dispatch import DispatchStatus, log_status_of_phase
from controller.runners.backend import RunHandle, RunLaunch
from controller.runners.registry import BackendNotConfigured, Backends
from controller.runners.tokens import RunnerTokenPair, tokens_for_dispatch
from controller.store import Store, Usage
from controller.store.vocabulary import PullRequestJobStatus

logger = logging.getLogger("controller.operator")

SHADOW_SUFFIX = "-shadow"

Checkpoint = Callable[[str], Awaitable[None]]
ImageOverrideReader = Callable[[str, str, str], Awaitable[str | None]]
"""Read `.ai-implement/image.yml` of (owner, repo, branch); None when the file does not exist."""
TeamSecretsReader = Callable[[str], Awaitable[Mapping[str, str]]]
RunEnded = Callable[["EndedRun"], Awaitable[None]]


async def no_checkpoint(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndedRun:
    """A run that reached a terminal phase, as notifications describe it."""

    dispatch_name: str
    spec: DispatchSpec
    repo: str
    phase: str
    pull_request_url: str | None
    error_reason: str | None
    error_message: str | None
    duration: timedelta | None
    run_url: str | None


class StartRefused(Exception):
    """The run cannot start as configured; the Dispatch fails with this reason and message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class DispatchReconciler:
    settings: Settings
    store: Store
    kube: KubeClient
    namespace: str
    mappings: MappingDirectory
    tickets: Mapping[str, TicketUpdater]
    backends: Backends
    clock: Clock
    fly_region: str
    events: EventRecorder
    read_image_override: ImageOverrideReader | None = None
    read_team_secrets: TeamSecretsReader | None = None
    run_ended: RunEnded | None = None
    checkpoint: Checkpoint = field(default=no_checkpoint)

    async def reconcile(self, name: str) -> timedelta | None:
        """Do the next thing the Dispatch needs; the answer is when to look again."""
        try:
            dispatch = await self.kube.get(DISPATCHES, self.namespace, name)
        except NotFoundError:
            return None
        if dispatch["metadata"].get("deletionTimestamp"):
            return None
        status = DispatchStatus.model_validate(dispatch.get("status") or {})
        step = next_step(self._facts(status), self.clock(), self._progress_timeout, self._stop_grace)
        if step.action is Action.START:
            await self._start(dispatch, status)
            return timedelta(0)
        if step.action is Action.FINISH:
            with contextlib.suppress(ConflictError):  # a result arrived meanwhile: decide again from it
                await self._finish(dispatch, status, step)
            return timedelta(0)
        if step.action is Action.STOP:
            await self._delete_session(name)  # the runner is told to stop; it saves its work and reports
            return step.recheck_after
        if step.action is Action.CLOSE_OUT:
            await self._close_out(dispatch, status)
            return None
        if _wants_shadow(dispatch, status):
            await self._start_shadow(dispatch, status)
        return step.recheck_after

    @property
    def _progress_timeout(self) -> timedelta:
        return timedelta(minutes=self.settings.runner_progress_timeout_minutes)

    @property
    def _stop_grace(self) -> timedelta:
        return timedelta(seconds=self.settings.runner_stop_grace_seconds)

    @staticmethod
    def _facts(status: DispatchStatus) -> RunFacts:
        return RunFacts(
            phase=status.phase,
            started_at=status.started_at,
            deadline_at=status.deadline_at,
            last_progress_at=status.last_progress_at,
            result_outcome=status.result.outcome if status.result else None,
            runner_ended_at=status.runner_ended_at,
            finished_at=status.finished_at,
            closed=status.closed_at is not None,
        )

    # Starting ------------------------------------------------------------------------------------

    async def _start(self, dispatch: dict[str, Any], status: DispatchStatus) -> None:
        name = dispatch["metadata"]["name"]
        spec = DispatchSpec.model_validate(dispatch["spec"])
        mapping = self._mapping(spec.mapping)
        if mapping is None:
            await self._fail_to_start(
                dispatch, "MappingMissing", f"the ProjectMapping of team {spec.mapping} does not exist any more"
            )
            return
        earlier_attempt = status.phase == "Starting"  # a run may exist only once an attempt got this far
        try:
            status = await self._mark_starting(dispatch, spec, status, mapping)
            await self.checkpoint("starting")
            await self._tickets(spec.issue.provider).mark_in_progress(spec.issue)
            await self.checkpoint("ticket-marked")
            await self._record_dedup(spec)
            await self.checkpoint("dedup-recorded")
            launch = await self._launch(dispatch, spec, mapping, status, earlier_attempt=earlier_attempt)
            await self.checkpoint("tokens-recorded")
            primary, _ = self.backends.for_mode(spec.runner_mode)
            handle = await primary.start(launch)
            await self.checkpoint("run-started")
            await self._create_session(dispatch, spec, mapping, handle, shadow=False)
            await self.checkpoint("session-created")
        except (LaunchError, BackendNotConfigured) as error:
            await self._fail_to_start(dispatch, "CannotStart", str(error))
            return
        except StartRefused as error:
            await self._fail_to_start(dispatch, error.reason, error.message)
            return
        except TicketGone as error:
            await self._fail_to_start(dispatch, "TicketGone", str(error))
            return
        except ServiceError as error:
            if error.temporary:
                raise
            await self._fail_to_start(dispatch, "CannotStart", error.message)
            return
        await self._mark_running(name, handle, launch.image)
        if status.phase != "Running":
            where = f" ({handle.url})" if handle.url else ""
            await self.events.record(
                DISPATCHES,
                dispatch,
                EventType.NORMAL,
                "Started",
                f"running on {handle.backend} as {handle.id}{where}",
                self.clock(),
            )
        if spec.pull_request is not None:
            await self._track_pull_request(
                name, spec, spec.pull_request.url, spec.pull_request.number, "running", spec.pull_request.head_branch
            )
        if status.phase != "Running":
            RUNS_STARTED.labels(handle.backend, "primary").inc()
        if spec.runner_mode == "shadow":
            await self._start_shadow(dispatch, status)
        logger.info("started %s on %s (%s)", name, handle.backend, handle.id, extra=_log_context(spec, name))

    def _mapping(self, team_key: str) -> ProjectMappingSpec | None:
        mapping = self.mappings.index().of_team(team_key)
        return mapping.spec if mapping is not None else None

    async def _mark_starting(
        self, dispatch: dict[str, Any], spec: DispatchSpec, status: DispatchStatus, mapping: ProjectMappingSpec
    ) -> DispatchStatus:
        """Phase Starting, the run's deadline and the ticket's status before the run, in one write, once.

        Tokens and timeouts derive from the deadline; a release moves the ticket back to the status
        remembered here, which is read before anything moves it.
        """
        patch: dict[str, Any] = {}
        if status.phase != "Starting":
            patch["phase"] = "Starting"
        if status.deadline_at is None:
            patch["deadlineAt"] = kube_timestamp(self.clock() + timedelta(minutes=mapping.capacity.max_job_minutes))
        if status.ticket_status_before is None:
            patch["ticketStatusBefore"] = await self._tickets(spec.issue.provider).status_of(spec.issue)
        if not patch:
            return status
        updated = await self._patch_status(dispatch["metadata"]["name"], patch)
        return DispatchStatus.model_validate(updated.get("status") or {})

    def _tickets(self, provider: str) -> TicketUpdater:
        updater = self.tickets.get(provider)
        if updater is None:
            raise StartRefused(
                "TicketingNotConfigured", f"the {provider} credentials are not set: the ticket cannot be updated"
            )
        return updater

    async def _record_dedup(self, spec: DispatchSpec) -> None:
        if spec.kind not in ("planning", "implementation"):
            return
        now = self.clock()
        if await self.store.is_within_dedup_window(spec.issue.id, now):
            return
        await self.store.record_dedup(
            spec.issue.id,
            identifier=spec.issue.identifier,
            title=spec.issue.title,
            team_key=spec.mapping,
            provider=spec.issue.provider,
            now=now,
        )

    async def _launch(
        self,
        dispatch: dict[str, Any],
        spec: DispatchSpec,
        mapping: ProjectMappingSpec,
        status: DispatchStatus,
        *,
        earlier_attempt: bool = True,
    ) -> RunLaunch:
        metadata = dispatch["metadata"]
        assert status.deadline_at is not None
        override = None
        if spec.runner_mode != "local" and self.read_image_override is not None:
            source = mapping.source
            text = await self.read_image_override(source.owner, source.repo, source.default_branch)
            if text is not None:
                override = parse_image_override(text, f"{source.owner}/{source.repo}")
        image = session_image(spec.runner_mode, self.settings, mapping, override)
        tokens = await self._tokens(metadata, status.deadline_at)
        secrets: Mapping[str, str] = {}
        if spec.runner_mode == "local" and self.read_team_secrets is not None:
            secrets = await self.read_team_secrets(spec.mapping)
        facts = LaunchFacts(
            dispatch_name=metadata["name"],
            dispatch_uid=metadata["uid"],
            namespace=self.namespace,
            spec=spec,
            mapping=mapping,
            image=image,
            tokens=tokens,
            team_secrets=secrets,
            deadline=status.deadline_at,
            fly_region=self.fly_region,
            created_at=parse_kube_timestamp(metadata.get("creationTimestamp")),
            earlier_attempt=earlier_attempt,
        )
        return compose_launch(facts, self.settings, spec.runner_mode)

    async def _tokens(self, metadata: Mapping[str, Any], deadline: datetime) -> RunnerTokenPair:
        secret = self.settings.runner_token_secret
        if secret is None:
            raise StartRefused(
                "CallbacksDisabled", "RUNNER_TOKEN_SECRET is not set: the runner could not report its result"
            )
        tokens = tokens_for_dispatch(secret.get_secret_value(), metadata, self.namespace, deadline)
        for token in (tokens.progress, tokens.result):
            await self.store.record_runner_token(
                token.jti,
                dispatch_uid=metadata["uid"],
                purpose=token.purpose.value,
                expires_at=token.expires_at,
                now=self.clock(),
            )
        return tokens

    async def _create_session(
        self,
        dispatch: dict[str, Any],
        spec: DispatchSpec,
        mapping: ProjectMappingSpec,
        handle: RunHandle,
        *,
        shadow: bool,
    ) -> None:
        name = dispatch["metadata"]["name"]
        body = {
            "apiVersion": constants.API_VERSION,
            "kind": constants.RUNNER_SESSION_KIND,
            "metadata": {
                "name": name + SHADOW_SUFFIX if shadow else name,
                "namespace": self.namespace,
                "finalizers": [constants.FINALIZER],  # kopf's, set at birth: no window without it
                "labels": {constants.LABEL_DISPATCH: name, constants.LABEL_TEAM: spec.mapping.lower()},
                "ownerReferences": [_owned_by(dispatch)],
            },
            "spec": {
                "dispatch": name,
                "backend": handle.backend,
                "resourceId": handle.id,
                "shadow": shadow,
                "repo": f"{mapping.source.owner}/{mapping.source.repo}",
                "issueIdentifier": spec.issue.identifier,
                **({"app": handle.app} if handle.app else {}),
                **({"region": handle.region} if handle.region else {}),
            },
        }
        with contextlib.suppress(AlreadyExistsError):
            await self.kube.create(RUNNER_SESSIONS, self.namespace, body, field_manager=constants.FIELD_MANAGER)

    async def _mark_running(self, name: str, handle: RunHandle, image: str) -> None:
        patch: dict[str, Any] = {
            "phase": "Running",
            "startedAt": kube_timestamp(self.clock()),
            "runner": _runner_ref(handle, image),
        }
        await self._patch_status(name, patch)
        await self.store.update_dispatch_status(name, log_status_of_phase("Running"))

    async def _start_shadow(self, dispatch: dict[str, Any], status: DispatchStatus) -> None:
        """Boot the shadow Fly run of a running shadow-mode Dispatch; a failure is recorded, never decides."""
        name = dispatch["metadata"]["name"]
        spec = DispatchSpec.model_validate(dispatch["spec"])
        mapping = self._mapping(spec.mapping)
        try:
            _, shadow = self.backends.for_mode(spec.runner_mode)
            if shadow is None or mapping is None:
                return
            launch = await self._launch(dispatch, spec, mapping, status)
            handle = await shadow.start(shadow_launch(launch))
            await self._create_session(dispatch, spec, mapping, handle, shadow=True)
        except (LaunchError, BackendNotConfigured, ServiceError) as error:
            if isinstance(error, ServiceError) and error.temporary:
                raise
            message = error.message if isinstance(error, ServiceError) else str(error)
            logger.warning("the shadow run of %s could not start: %s", name, message, extra={"dispatch": name})
            condition = _shadow_condition("False", "CannotStart", message, self.clock())
            await apply_conditions(
                self.kube, DISPATCHES, self.namespace, name, [condition], constants.FIELD_MANAGER_RUNS
            )
            return
        await self._patch_status(name, {"shadow": _runner_ref(handle, launch.image)})
        RUNS_STARTED.labels(handle.backend, "shadow").inc()

    async def _fail_to_start(self, dispatch: dict[str, Any], reason: str, message: str) -> None:
        name = dispatch["metadata"]["name"]
        logger.error("%s cannot start: %s", name, message, extra={"dispatch": name})
        await self.events.record(
            DISPATCHES, dispatch, EventType.WARNING, reason, f"could not start: {message}", self.clock()
        )
        await self._patch_status(
            name,
            {
                "phase": "Failed",
                "finishedAt": kube_timestamp(self.clock()),
                "error": {"reason": reason, "message": message},
            },
        )

    # Finishing -----------------------------------------------------------------------------------

    async def _finish(self, dispatch: dict[str, Any], status: DispatchStatus, step: NextStep) -> None:
        name = dispatch["metadata"]["name"]
        patch: dict[str, Any] = {"phase": step.phase, "finishedAt": kube_timestamp(self.clock())}
        result = status.result
        if result is not None and result.pull_request_url:
            patch["pullRequest"] = {"url": result.pull_request_url, "number": result.pull_request_number}
        if step.reason is not None:
            patch["error"] = {"reason": step.reason, "message": step.message or ""}
        elif result is not None and result.error is not None:
            patch["error"] = result.error.model_dump(by_alias=True, exclude_none=True)
        await self._patch_status(name, patch, resource_version=dispatch["metadata"]["resourceVersion"])
        event_type, reason, message = ending_event(str(step.phase), patch)
        await self.events.record(DISPATCHES, dispatch, event_type, reason, message, self.clock())
        spec = DispatchSpec.model_validate(dispatch["spec"])
        DISPATCHES_FINISHED.labels(spec.mapping, spec.kind, step.phase).inc()
        if status.started_at is not None:
            DISPATCH_SECONDS.labels(spec.kind).observe((self.clock() - status.started_at).total_seconds())
        logger.info("%s ended %s", name, step.phase, extra=_log_context(spec, name))

    # Closing out ---------------------------------------------------------------------------------

    async def _close_out(self, dispatch: dict[str, Any], status: DispatchStatus) -> None:
        """The effects of a terminal phase, each idempotent: sessions, ticket, log, notification."""
        name = dispatch["metadata"]["name"]
        spec = DispatchSpec.model_validate(dispatch["spec"])
        phase = status.phase or "Failed"
        await self._delete_session(name)
        await self._update_ticket(dispatch, spec, status, phase)
        await self.checkpoint("ticket-updated")
        steps = [step.model_dump(mode="json", by_alias=True, exclude_none=True) for step in status.steps]
        error = status.error
        await self.store.update_dispatch_status(
            name,
            log_status_of_phase(phase),
            pull_request_url=status.pull_request.url if status.pull_request else None,
            message=log_message(phase, error.reason if error else None, error.message if error else None),
            steps=steps,
            finished_at=status.finished_at,
            usage=usage_of(status),
            summary=status.result.summary if status.result is not None else None,
        )
        pull_url, pull_number = _pull_request_of(spec, status)
        if pull_url is not None and pull_number is not None:
            await self._track_pull_request(name, spec, pull_url, pull_number, _pull_request_job_status(phase), None)
        if status.notified_at is None:  # counted with the notification: once, but for a kill in between
            count_usage(spec, status)
            await self._tell_people(name, spec, status, phase)
            await self._patch_status(name, {"notifiedAt": kube_timestamp(self.clock())})
        await self._patch_status(name, {"closedAt": kube_timestamp(self.clock())})

    async def _track_pull_request(
        self,
        name: str,
        spec: DispatchSpec,
        url: str,
        number: int,
        job_status: PullRequestJobStatus,
        head_branch: str | None,
    ) -> None:
        """Follow the run's pull request in the store (GET /api/pulls, review iterations)."""
        mapping = self._mapping(spec.mapping)
        if mapping is None:
            return
        await self.store.track_pull_request(
            repo=f"{mapping.source.owner}/{mapping.source.repo}",
            number=number,
            url=url,
            head_branch=head_branch,
            issue_id=spec.issue.id,
            identifier=spec.issue.identifier,
            title=spec.issue.title,
            issue_url=spec.issue.url,
            team_key=spec.mapping,
            provider=spec.issue.provider,
            job_status=job_status,
            iteration=None if spec.kind == "gap-fill" else spec.iteration,  # gap-fill runs count apart
            dispatch_name=name,
            now=self.clock(),
        )

    async def _delete_session(self, name: str) -> None:
        """The primary session only: a shadow run is left to finish, and is cleaned up when it does."""
        with contextlib.suppress(NotFoundError):
            await self.kube.delete(RUNNER_SESSIONS, self.namespace, name)

    async def _update_ticket(
        self, dispatch: dict[str, Any], spec: DispatchSpec, status: DispatchStatus, phase: str
    ) -> None:
        updater = self.tickets.get(spec.issue.provider)
        if updater is None:
            return
        try:
            await self._release_and_comment(updater, dispatch, spec, status, phase)
        except (TicketGone, ServiceError) as error:
            if isinstance(error, ServiceError) and error.temporary:
                raise
            logger.warning(
                "the ticket of %s could not be updated, carrying on: %s",
                dispatch["metadata"]["name"],
                error,
                extra=_log_context(spec, dispatch["metadata"]["name"]),
            )

    async def _release_and_comment(
        self, updater: TicketUpdater, dispatch: dict[str, Any], spec: DispatchSpec, status: DispatchStatus, phase: str
    ) -> None:
        if releases_ticket(spec.kind, phase):
            await updater.release(spec.issue, status.ticket_status_before)
        error = status.error
        text = closing_comment(
            phase=phase,
            kind=spec.kind,
            dispatch_name=dispatch["metadata"]["name"],
            pull_request_url=status.pull_request.url if status.pull_request else None,
            error_reason=error.reason if error else None,
            error_message=error.message if error else None,
            steps=[step.model_dump(by_alias=True) for step in status.steps],
            run_url=status.runner.url if status.runner else None,
            summary=status.result.summary if status.result is not None else None,
            saved_branch=status.result.work_in_progress_branch if status.result is not None else None,
        )
        await updater.comment(spec.issue, text, f"{dispatch['metadata']['uid']}:closing")

    async def _tell_people(self, name: str, spec: DispatchSpec, status: DispatchStatus, phase: str) -> None:
        if self.run_ended is None:
            return
        mapping = self._mapping(spec.mapping)
        repo = f"{mapping.source.owner}/{mapping.source.repo}" if mapping else ""
        duration = None
        if status.started_at is not None and status.finished_at is not None:
            duration = status.finished_at - status.started_at
        error = status.error
        await self.run_ended(
            EndedRun(
                dispatch_name=name,
                spec=spec,
                repo=repo,
                phase=phase,
                pull_request_url=status.pull_request.url if status.pull_request else None,
                error_reason=error.reason if error else None,
                error_message=error.message if error else None,
                duration=duration,
                run_url=status.runner.url if status.runner else None,
            )
        )

    async def _patch_status(
        self, name: str, patch: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any]:
        """Merge into status; with `resource_version`, only if nothing changed since it was read."""
        body: dict[str, Any] = {"status": patch}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        return await self.kube.merge_patch(
            DISPATCHES, self.namespace, name, body, subresource="status", field_manager=constants.FIELD_MANAGER
        )


def usage_of(status: DispatchStatus) -> Usage | None:
    """What the agent reported using, as the store keeps it."""
    reported = status.result.usage if status.result is not None else None
    if reported is None:
        return None
    return Usage(
        input_tokens=reported.input_tokens,
        output_tokens=reported.output_tokens,
        cache_read_tokens=reported.cache_read_tokens,
        cache_creation_tokens=reported.cache_creation_tokens,
        cost_usd=reported.cost_usd,
        model=reported.model,
    )


def count_usage(spec: DispatchSpec, status: DispatchStatus) -> None:
    usage = usage_of(status)
    if usage is None:
        return
    tokens = {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "cache_read": usage.cache_read_tokens,
        "cache_creation": usage.cache_creation_tokens,
    }
    for kind, count in tokens.items():
        AGENT_TOKENS.labels(spec.mapping, spec.kind, kind).inc(count)
    AGENT_COST.labels(spec.mapping, spec.kind).inc(usage.cost_usd)


def ending_event(phase: str, ending: Mapping[str, Any]) -> tuple[EventType, str, str]:
    """The Event that tells people how a run ended, from the phase and the status patch that ended it."""
    pull = (ending.get("pullRequest") or {}).get("url")
    error = ending.get("error") or {}
    if phase == "Succeeded":
        return EventType.NORMAL, "Succeeded", f"pull request {pull}" if pull else "the run succeeded"
    if phase == "Cancelled":
        return EventType.NORMAL, "Cancelled", error.get("message") or "the run was cancelled"
    detail = error.get("message") or "no reason was given"
    if phase == "TimedOut":
        return EventType.WARNING, str(error.get("reason") or "TimedOut"), detail
    return EventType.WARNING, "Failed", f"{error.get('reason', 'RunFailed')}: {detail}"


_PULL_NUMBER = re.compile(r"/pull/(\d+)/?$")


def _pull_request_of(spec: DispatchSpec, status: DispatchStatus) -> tuple[str | None, int | None]:
    """The pull request a run opened (its result), else the one it worked on (review, gap-fill)."""
    if status.pull_request is not None:
        number = status.pull_request.number
        if number is None:
            found = _PULL_NUMBER.search(status.pull_request.url)
            number = int(found.group(1)) if found else None
        return status.pull_request.url, number
    if spec.pull_request is not None:
        return spec.pull_request.url or None, spec.pull_request.number
    return None, None


def _pull_request_job_status(phase: str) -> PullRequestJobStatus:
    if phase == "Succeeded":
        return "completed"
    if phase == "ReviewFailed":
        return "review_failed"
    return "failed"


def releases_ticket(kind: str, phase: str) -> bool:
    """Whether a run's end takes the in-progress marker off its ticket, for Linear and Jira alike.

    A planning run always does (the implementation run marks it again); an implementation run does
    when it failed (no pull request carries the work on); review and gap-fill runs never do, because
    their pull request is still open and the review loop goes on.
    """
    if kind == "planning":
        return True
    if kind == "implementation":
        return phase != "Succeeded"
    return False


SHADOW_CONDITION = "ShadowRunStarted"


def _wants_shadow(dispatch: Mapping[str, Any], status: DispatchStatus) -> bool:
    """A running shadow-mode Dispatch whose shadow has neither started nor failed to."""
    if dispatch["spec"].get("runnerMode") != "shadow" or status.phase != "Running" or status.shadow is not None:
        return False
    return not any(condition.type == SHADOW_CONDITION for condition in status.conditions)


def _shadow_condition(state: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    return {
        "type": SHADOW_CONDITION,
        "status": state,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": kube_timestamp(now),
    }


def shadow_launch(launch: RunLaunch) -> RunLaunch:
    """The shadow copy of a run: told it is a shadow, and given no credentials or callback tokens."""
    return dataclasses.replace(launch, environment={**launch.environment, "AI_IMPLEMENT_SHADOW": "1"}, secrets={})


def _runner_ref(handle: RunHandle, image: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"backend": handle.backend, "id": handle.id, "image": image}
    if handle.url:
        ref["url"] = handle.url
    return ref


def _owned_by(dispatch: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.DISPATCH_KIND,
        "name": dispatch["metadata"]["name"],
        "uid": dispatch["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _log_context(spec: DispatchSpec, name: str) -> dict[str, str]:
    return {"dispatch": name, "issue": spec.issue.identifier, "team": spec.mapping}
