"""Templates and the headers every admin page carries.

Jinja2 autoescapes everything: ticket titles, runner messages and any other text from outside are
shown as text, never as markup. The Content-Security-Policy allows scripts, styles and images from
this origin only (no inline code: htmx's inline indicator styles and eval are switched off in
base.html), so injected markup that slipped through would still run nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import jinja2
from aiohttp import web
from markupsafe import Markup

from webui.navigation import GROUPS, panels_by_group
from webui.session import CSRF_FIELD, Session

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send `Origin: null` on our own forms
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ENVIRONMENT: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("webui", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def relative(moment: datetime, now: datetime) -> str:
    """'3 min ago', 'in 2 h', 'just now': the words people read; the exact time is on hover."""
    seconds = (now - moment).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{round(seconds / size)} {unit}"
            return f"in {amount}" if ahead else f"{amount} ago"
    return "just now"


def when(moment: datetime | None, now: datetime) -> Markup:
    """A <time> element: relative words, the absolute UTC time in its title and datetime."""
    if moment is None:
        return Markup('<span class="muted">—</span>')
    exact = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    stamp = moment.astimezone(UTC).isoformat()
    return Markup('<time datetime="{}" title="{}">{}</time>').format(stamp, exact, relative(moment, now))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def percent(fraction: float) -> str:
    return f"{round(fraction * 100)} %"


ENVIRONMENT.globals.update(when=when, duration=duration, percent=percent, GROUPS=GROUPS, CSRF_FIELD=CSRF_FIELD)


def render(
    request: web.Request, template: str, values: Mapping[str, Any], *, session: Session | None, status: int = 200
) -> web.Response:
    """A page (or an htmx partial) with the security headers."""
    panel = values.get("panel")
    page = ENVIRONMENT.get_template(template).render(
        **{"title": panel.title if panel is not None else "AI-Implement", **values},
        request_path=request.path,
        navigation=panels_by_group(),
        csrf=session.csrf if session is not None else "",
        signed_in=session is not None,
        partial=request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true",
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    response.headers.update(SECURITY_HEADERS)
    return response
