"""Overview: running and failed jobs, capacity, projects at their cap, stale templates, the 24-hour trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from controller.web.context import context_of
from controller.web.overview import TrendBucket, overview_of
from webui.navigation import Panel, register
from webui.pages import signed_in
from webui.rendering import render
from webui.session import Session

PANEL: Final = register(Panel("Work", "Overview", "/admin/overview", 1))
CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 160
CHART_PADDING: Final = 24


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    failed_y: float
    failed_height: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = CHART_HEIGHT - CHART_PADDING


def trend_chart(trend: Sequence[TrendBucket]) -> Chart:
    """Bar geometry for the 24-hour trend, scaled to the busiest hour (pure)."""
    peak = max((bucket.dispatches for bucket in trend), default=0)
    room = CHART_HEIGHT - 2 * CHART_PADDING
    slot = CHART_WIDTH / max(len(trend), 1)
    bars = []
    for index, bucket in enumerate(trend):
        height = room * bucket.dispatches / peak if peak else 0.0
        failed = room * bucket.failed / peak if peak else 0.0
        baseline = CHART_HEIGHT - CHART_PADDING
        hour = bucket.hour.strftime("%H:00")
        label = f"{hour} UTC: {bucket.dispatches} dispatches, {bucket.failed} failed"
        bars.append(
            Bar(
                x=round(index * slot + 2, 1),
                width=round(slot - 4, 1),
                y=round(baseline - height, 1),
                height=round(height, 1),
                failed_y=round(baseline - failed, 1),
                failed_height=round(failed, 1),
                label=label,
            )
        )
    return Chart(bars=tuple(bars), peak=peak)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PANEL.path, signed_in(_page))
    router.add_get(f"{PANEL.path}/live", signed_in(_live))


async def _values(request: web.Request) -> dict[str, object]:
    overview = await overview_of(context_of(request))
    return {"overview": overview, "now": overview.generated_at, "chart": trend_chart(overview.trend), "panel": PANEL}


async def _page(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/overview.html", await _values(request), session=session)


async def _live(request: web.Request, session: Session) -> web.StreamResponse:
    return render(request, "panels/overview_live.html", await _values(request), session=session)
