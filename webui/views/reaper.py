"""Reaper: what the reaper destroyed and why, and the runner-mode toggle at the top of the page.

The toggle is disabled while RUNNER_MODE is set in the environment: that variable wins over any
stored mode, so a change here would be stored and do nothing, which is worse than saying so.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import ValidationError

from controller.web.audit import ui_actor_of
from controller.web.context import WebContext, context_of
from controller.web.errors import ApiError, validation_failed
from controller.web.reaper import reaper_actions_of, reaper_summary_of
from controller.web.runner_mode import RunnerModeChange, RunnerModeView, change_runner_mode, runner_mode_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Platform", "Reaper", "/admin/reaper", 3))
RECENT_ACTIONS: Final = 50


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_post(f"{PANEL.path}/runner-mode", signed_in(_change_mode))


def lock_reason(view: RunnerModeView) -> str | None:
    """Why the toggle cannot move the mode, or None when it can (pure)."""
    if not view.env_locked or view.environment_mode is None:
        return None
    return (
        f"RUNNER_MODE={view.environment_mode.value} is set in the environment, and the env override wins: "
        "remove the variable and restart the controller to choose the mode here."
    )


def _toggle_values(view: RunnerModeView, message: str | None, problem: str | None) -> dict[str, object]:
    return {"mode": view, "lock": lock_reason(view), "message": message, "problem": problem}


async def _page_values(context: WebContext) -> dict[str, object]:
    return {
        "panel": PANEL,
        "now": context.clock(),
        "summary": await reaper_summary_of(context),
        "actions": (await reaper_actions_of(context, RECENT_ACTIONS)).actions,
        **_toggle_values(await runner_mode_of(context), None, None),
    }


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/reaper.html", await _page_values(context_of(request)), session=session)


async def _change_mode(request: web.Request, session: Session) -> web.StreamResponse:
    """POST /api/runner-mode's change, refused while the environment locks the mode; answers the toggle."""
    context = context_of(request)
    form = await request.post()
    view = await runner_mode_of(context)
    message, problem = None, lock_reason(view)
    if problem is None:
        try:
            change = RunnerModeChange.model_validate({"mode": str(form.get("mode", ""))})
            result = await change_runner_mode(context, change, ui_actor_of(request))
        except ValidationError as error:
            problem = validation_failed(error).message
        except ApiError as error:
            problem = error.message
        else:
            view, message = result, result.message
    toggle = _toggle_values(view, message, problem)
    if request.headers.get("HX-Request") != "true":
        values = {**await _page_values(context), **toggle}
        return render(request, "panels/reaper.html", values, session=session)
    values = {"panel": PANEL, "now": context.clock(), **toggle}
    return render(request, "panels/reaper_runner_mode.html", values, session=session)
