"""Auth exactly as specified: 404 while disabled, tokens for 24 h, rotation, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.web.admin_tokens import AdminTokens
from tests.support.api_fixtures import ACCESS_CODE, INSTALLATION_SECRET, Api, ApiFactory
from tests.support.clock import FakeClock

ADMIN_PATHS = [
    ("GET", "/api/mappings"),
    ("POST", "/api/mappings"),
    ("GET", "/api/runner-mode"),
    ("GET", "/api/settings"),
    ("GET", "/api/global-secrets"),
    ("GET", "/api/admin/config-status"),
    ("GET", "/api/pipelines-steps"),
    ("GET", "/api/customizations"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/no-such-route"),
]
UI_PATHS = [("GET", "/admin"), ("GET", "/admin/overview"), ("GET", "/admin/sign-in"), ("GET", "/admin/anything")]


@pytest.mark.parametrize(("method", "path"), [*ADMIN_PATHS, *UI_PATHS, ("POST", "/api/auth")])
async def test_everything_admin_is_404_while_the_access_code_is_unset(
    start_api: ApiFactory, method: str, path: str
) -> None:
    api = await start_api(env={"ADMIN_ACCESS_CODE": None})
    response = await api.client.request(method, path, json={"code": "anything"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_operations_routes_answer_without_any_code(start_api: ApiFactory, path: str) -> None:
    api = await start_api(env={"ADMIN_ACCESS_CODE": None})
    assert (await api.client.get(path)).status in (200, 503)


async def test_metrics_are_not_served_on_the_apis_port(api: Api) -> None:
    """They are on METRICS_PORT, so that publishing the API's public paths never publishes them."""
    assert (await api.client.get("/metrics")).status == 404


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
async def test_every_admin_route_is_401_without_a_token(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path)
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"
    assert "/api/auth" in body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_access_code_buys_a_token_that_opens_the_api(api: Api) -> None:
    response = await api.client.post("/api/auth", json={"code": ACCESS_CODE})
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"token", "expiresAt"}
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await api.client.get("/api/mappings", headers=headers)).status == 200


async def test_an_unknown_route_with_a_token_is_404(api: Api) -> None:
    response = await api.client.get("/api/no-such-route", headers=await api.login())
    assert response.status == 404


@pytest.mark.parametrize(
    "body",
    [{"code": "wrong"}, {"code": ACCESS_CODE[:-1]}, {"code": ACCESS_CODE + "x"}],
)
async def test_a_wrong_code_is_401(api: Api, body: dict[str, str]) -> None:
    response = await api.client.post("/api/auth", json=body)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_code"


@pytest.mark.parametrize(
    ("payload", "status"),
    [("not json", 400), ("{}", 422), ('{"code": ""}', 422), ('{"code": "x", "extra": 1}', 422), ("[]", 422)],
)
async def test_malformed_auth_bodies_are_refused_clearly(api: Api, payload: str, status: int) -> None:
    response = await api.client.post("/api/auth", data=payload, headers={"Content-Type": "application/json"})
    assert response.status == status
    assert (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4=", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."],
)
async def test_malformed_or_forged_tokens_are_401(api: Api, authorization: str) -> None:
    response = await api.client.get("/api/mappings", headers={"Authorization": authorization})
    assert response.status == 401


async def test_tokens_expire_after_24_hours(api: Api, clock: FakeClock) -> None:
    headers = await api.login()
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await api.client.get("/api/mappings", headers=headers)).status == 200
    clock.advance(timedelta(minutes=1))
    assert (await api.client.get("/api/mappings", headers=headers)).status == 401


async def test_tokens_survive_a_restart_and_work_on_another_replica(start_api: ApiFactory) -> None:
    first = await start_api()
    headers = await first.login()
    second = await start_api()
    assert (await second.client.get("/api/mappings", headers=headers)).status == 200


async def test_changing_the_access_code_invalidates_earlier_tokens(start_api: ApiFactory) -> None:
    before = await start_api()
    headers = await before.login()
    after = await start_api(env={"ADMIN_ACCESS_CODE": "a-brand-new-code"})
    assert (await after.client.get("/api/mappings", headers=headers)).status == 401
    assert (await after.client.post("/api/auth", json={"code": ACCESS_CODE})).status == 401
    assert (await after.client.get("/api/mappings", headers=await after.login("a-brand-new-code"))).status == 200


async def test_repeated_failures_are_throttled_but_the_right_code_still_gets_in(api: Api, clock: FakeClock) -> None:
    for _ in range(5):
        assert (await api.client.post("/api/auth", json={"code": "guess"})).status == 401
    throttled = await api.client.post("/api/auth", json={"code": "guess"})
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) == 15 * 60
    assert (await api.client.post("/api/auth", json={"code": ACCESS_CODE})).status == 200, (
        "behind an ingress every admin shares the address: a guesser must not lock them out"
    )


async def test_guessing_from_many_addresses_spends_one_global_budget(start_api: ApiFactory, clock: FakeClock) -> None:
    api = await start_api(env={"TRUSTED_PROXY_HOPS": "1"})
    for client in range(30):
        forwarded = {"X-Forwarded-For": f"203.0.113.{client}"}
        assert (await api.client.post("/api/auth", json={"code": "guess"}, headers=forwarded)).status == 401
    paused = await api.client.post("/api/auth", json={"code": ACCESS_CODE}, headers={"X-Forwarded-For": "198.51.100.1"})

    assert paused.status == 429, "no code is checked while the budget is spent, not even the right one"
    assert "too many failed sign-ins recently" in (await paused.json())["error"]["message"]
    clock.advance(timedelta(seconds=int(paused.headers["Retry-After"])))
    assert (await api.client.post("/api/auth", json={"code": ACCESS_CODE})).status == 200


async def test_answers_about_the_code_are_never_cached_and_failures_are_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = await api.client.post("/api/auth", json={"code": "guess"})
    right = await api.client.post("/api/auth", json={"code": ACCESS_CODE})

    assert (wrong.status, right.status) == (401, 200)
    assert wrong.headers["Cache-Control"] == right.headers["Cache-Control"] == "no-store"
    assert any("failed sign-in from" in record.getMessage() for record in caplog.records)
    assert not any("guess" in record.getMessage() for record in caplog.records), "never the code tried"


async def test_a_success_clears_the_failure_count(api: Api) -> None:
    for _ in range(4):
        await api.client.post("/api/auth", json={"code": "guess"})
    await api.login()
    for _ in range(4):
        assert (await api.client.post("/api/auth", json={"code": "guess"})).status == 401


def test_tokens_from_another_installation_are_refused(clock: FakeClock) -> None:
    ours = AdminTokens(access_code=ACCESS_CODE, installation_secret=INSTALLATION_SECRET)
    theirs = AdminTokens(access_code=ACCESS_CODE, installation_secret=b"another installation")
    assert not ours.is_valid(theirs.issue(clock()).token, clock())
    assert ours.is_valid(ours.issue(clock()).token, clock())


async def test_behind_a_proxy_throttling_follows_the_forwarded_client(start_api: ApiFactory) -> None:
    api = await start_api(env={"TRUSTED_PROXY_HOPS": "1"})
    for _ in range(5):
        await api.client.post("/api/auth", json={"code": "guess"}, headers={"X-Forwarded-For": "203.0.113.7"})
    locked = await api.client.post("/api/auth", json={"code": "guess"}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert locked.status == 429
    other = await api.client.post(
        "/api/auth", json={"code": "guess"}, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    )
    assert other.status == 401


async def test_without_trusted_proxies_the_forwarded_header_is_ignored(api: Api) -> None:
    for number in range(5):
        forged = {"X-Forwarded-For": f"192.0.2.{number}"}
        await api.client.post("/api/auth", json={"code": "guess"}, headers=forged)
    assert (await api.client.post("/api/auth", json={"code": "guess"})).status == 429


@pytest.mark.parametrize("path", ["/admin", "/admin/overview", "/admin/overview/live"])
async def test_the_admin_ui_without_a_session_sends_people_to_sign_in(api: Api, path: str) -> None:
    response = await api.client.get(path, allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/sign-in")


async def test_a_bearer_token_is_not_a_session_of_the_admin_ui(api: Api) -> None:
    response = await api.client.get("/admin/overview", headers=await api.login(), allow_redirects=False)

    assert (response.status, response.headers["Location"]) == (303, "/admin/sign-in?next=/admin/overview")
