"""/api/admin/config-status: the first place to look when a run did not dispatch.

Ticketing connections are checked with one cheap authenticated call each ("who am I"), bounded by
a short timeout and cached, so that opening the Overview panel never hammers a provider.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from controller.config import Settings
from controller.web.context import WebContext, context_of
from controller.web.identity import CheckStatus, IdentityCache, IdentityProbe
from controller.web.mappings import MappingView, mappings_of
from controller.web.models import CamelModel
from controller.web.routing import ApiRouter, respond

router = ApiRouter(tag="status")


class StatusCheck(CamelModel):
    id: str = Field(
        description="kubernetes, ticketing.linear, ticketing.jira, runner-callback, gap-fill-trigger, github-webhook."
    )
    title: str
    status: CheckStatus
    message: str = Field(description="What is fine, or what is wrong and how to fix it.")
    checked_at: datetime


class ConfigStatus(CamelModel):
    checks: list[StatusCheck]


_PROVIDERS = {
    "linear": ("Linear connection", "LINEAR_API_KEY"),
    "jira": ("Jira connection", "JIRA_TOKEN, JIRA_CLOUD_ID and JIRA_SITE_URL"),
}


async def _ticketing_checks(
    mappings: list[MappingView], probes: dict[str, IdentityProbe], cache: IdentityCache
) -> list[StatusCheck]:
    checks = []
    for provider, (title, variables) in _PROVIDERS.items():
        users = sorted(m.team_key for m in mappings if m.spec.ticketing.provider == provider)
        probe = probes.get(provider)
        if probe is not None:
            at, status, message = await cache.check(provider, probe)
        elif users:
            at, status = cache.clock(), CheckStatus.ERROR
            noun, verb = ("mapping", "uses") if len(users) == 1 else ("mappings", "use")
            message = f"{variables} not set, but {noun} {', '.join(users)} {verb} {provider.title()}"
        else:
            continue
        checks.append(
            StatusCheck(id=f"ticketing.{provider}", title=title, status=status, message=message, checked_at=at)
        )
    if not checks:
        checks.append(
            StatusCheck(
                id="ticketing",
                title="Ticketing connection",
                status=CheckStatus.ERROR,
                message="no ticketing provider is configured: set LINEAR_API_KEY, or JIRA_TOKEN, JIRA_CLOUD_ID "
                "and JIRA_SITE_URL",
                checked_at=cache.clock(),
            )
        )
    return checks


def _callback_check(settings: Settings, mappings: list[MappingView]) -> tuple[CheckStatus, str]:
    """Every run reports back over HTTP, whatever runs it; without callbacks no mapping's run starts."""
    if settings.runner_callback_base_url and settings.runner_token_secret:
        return CheckStatus.OK, f"runners call back to {settings.runner_callback_base_url}"
    unset = " and ".join(
        variable
        for variable, value in (
            ("RUNNER_CALLBACK_BASE_URL", settings.runner_callback_base_url),
            ("RUNNER_TOKEN_SECRET", settings.runner_token_secret),
        )
        if not value
    )
    verb = "is" if " and " not in unset else "are"
    if mappings:
        users = ", ".join(m.team_key for m in mappings)
        return (
            CheckStatus.ERROR,
            f"{unset} {verb} unset: no run of {users} can start, since every runner (GitHub Actions, Fly "
            "Machines, local Docker) reports its progress and result to the controller",
        )
    return (
        CheckStatus.WARNING,
        f"{unset} {verb} unset: /runner/* answer 501 and no run can start; set them before adding a mapping",
    )


def configuration_checks(settings: Settings, mappings: list[MappingView], now: datetime) -> list[StatusCheck]:
    """The checks that need no network: callbacks, trigger and webhook secrets."""
    callback = _callback_check(settings, mappings)
    trigger = _secret_check(
        "gap-fill-trigger",
        "Gap-fill trigger",
        settings.gap_fill_trigger_secret is not None,
        "POST /trigger/gap-fill accepts the shared secret",
        "GAP_FILL_TRIGGER_SECRET is unset: /trigger/gap-fill answers 503, so /ai-implement comments on pull "
        "requests do nothing",
        now,
    )
    webhook = _secret_check(
        "github-webhook",
        "GitHub webhook",
        settings.github_webhook_secret is not None,
        "POST /api/github/webhook verifies signatures",
        "GITHUB_WEBHOOK_SECRET is unset: /api/github/webhook answers 503, so reviews and merges are not followed",
        now,
    )
    callback_check = StatusCheck(
        id="runner-callback", title="Runner callback", status=callback[0], message=callback[1], checked_at=now
    )
    return [callback_check, trigger, webhook]


def _secret_check(
    check_id: str, title: str, is_set: bool, ok_message: str, unset_message: str, now: datetime
) -> StatusCheck:
    """A feature that exists only while its secret is set: ok when it is, a warning when it is not."""
    status, message = (CheckStatus.OK, ok_message) if is_set else (CheckStatus.WARNING, unset_message)
    return StatusCheck(id=check_id, title=title, status=status, message=message, checked_at=now)


@router.route(
    "GET",
    "/api/admin/config-status",
    summary="Environment-status checks (Kubernetes, ticketing, runner callback, gap-fill trigger, webhook)",
    responses={200: ConfigStatus},
)
async def config_status(request: web.Request) -> web.Response:
    return respond(await environment_checks(context_of(request)))


async def environment_checks(context: WebContext) -> ConfigStatus:
    """Every check, the JSON API's and the Overview panel's alike."""
    kubernetes = await _kubernetes_check(context)
    mappings = mappings_of(context) if context.mappings.synced else []
    ticketing = await _ticketing_checks(mappings, context.ticketing_probes, context.identity_cache)
    others = configuration_checks(context.settings, mappings, context.clock())
    return ConfigStatus(checks=[kubernetes, *ticketing, *others])


async def _kubernetes_check(context: WebContext) -> StatusCheck:
    """The API server answers and ProjectMappings are listed; if not, the other checks assume no mapping."""
    problem = await context.kube.readiness_problem()
    listed = context.mappings.synced
    if problem is None and listed:
        status, message = CheckStatus.OK, f"the API server at {context.kube.connection.server} answers"
    else:
        reason = problem or "the API server answers, but ProjectMappings could not be listed yet"
        status = CheckStatus.ERROR
        message = f"{reason}; no run is dispatched while it lasts. Check KUBECONFIG or the pod's service account"
        if not listed:
            message += "; the checks below do not know the mappings and treat them as none"
    return StatusCheck(
        id="kubernetes", title="Kubernetes API", status=status, message=message, checked_at=context.clock()
    )
