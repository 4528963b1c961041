"""The admin UI through the app's test client: sign in as a browser would, read pages, send actions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.api_fixtures import ACCESS_CODE, Api

CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@dataclass(frozen=True)
class UiSession:
    api: Api
    origin: str
    csrf: str

    async def page(self, path: str, *, status: int = 200) -> str:
        response = await self.api.client.get(path, allow_redirects=False)
        text = await response.text()
        assert response.status == status, (path, response.status, text[:500])
        return text

    def headers(self) -> dict[str, str]:
        """What htmx sends with an action: this site's origin and the session's CSRF token."""
        return {"Origin": self.origin, "X-CSRF-Token": self.csrf, "HX-Request": "true"}


async def sign_in(api: Api) -> UiSession:
    """Sign in through the form; the client's cookie jar keeps the session cookie."""
    origin = str(api.client.make_url("/")).rstrip("/")
    response = await api.client.post(
        "/admin/sign-in",
        data={"code": ACCESS_CODE, "next": "/admin/overview"},
        headers={"Origin": origin},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    page = await (await api.client.get("/admin/overview")).text()
    found = CSRF_META.search(page)
    assert found is not None, page[:500]
    return UiSession(api=api, origin=origin, csrf=found.group(1))
