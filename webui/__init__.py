"""The admin UI at /admin: pages rendered on the server (Jinja2), partial updates with htmx.

The views call the same service functions as the JSON API (`controller.web.*`), never the API over
HTTP. Sign-in gives a session cookie; every page is served with a strict Content-Security-Policy
(no inline script or style, nothing from another origin), and every state-changing request must be
same-origin and carry the session's CSRF token. docs/ui.md shows every panel.
"""

from webui.app import add_admin_ui

__all__ = ["add_admin_ui"]
