"""The operator's own /healthz and /metrics, over HTTP."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from controller.metrics import LEADER
from controller.operator.endpoints import operator_app


async def test_healthz_follows_the_election_loop_not_the_leadership() -> None:
    state = {"electing": True, "leading": False}
    app = operator_app(electing=lambda: state["electing"], leading=lambda: state["leading"])
    async with TestClient(TestServer(app)) as client:
        follower = await client.get("/healthz")
        assert (follower.status, await follower.json()) == (200, {"status": "ok", "leader": False})
        state["leading"] = True
        assert (await (await client.get("/healthz")).json())["leader"] is True
        state["electing"] = False
        stopped = await client.get("/healthz")
        assert (stopped.status, (await stopped.json())["status"]) == (503, "election stopped")


async def test_metrics_shows_who_leads() -> None:
    app = operator_app(electing=lambda: True, leading=lambda: True)
    LEADER.set(1)
    try:
        async with TestClient(TestServer(app)) as client:
            answer = await client.get("/metrics")
            assert answer.headers["Content-Type"].startswith("text/plain")
            assert "ai_implement_leader 1.0" in (await answer.text()).splitlines()
    finally:
        LEADER.set(0)
