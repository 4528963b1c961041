"""Case 7, exactly once under load: case 4's 1,000 Dispatches while the operator is killed three times.

At a quarter, a half and three quarters of the Dispatches Running, the operator process gets
SIGKILL (no shutdown, its Lease left to expire) and a fresh one starts at once; it leads once the
Lease has expired (LEADER_LEASE_SECONDS=6 here) and carries on from what the API server and the
store hold. Counted at the end: Dispatches Running, workflow runs the GitHub sandbox started for
each (its `dispatch` input), RunnerSessions. Target: every Dispatch runs exactly once, none is lost.
"""

from __future__ import annotations

from bench.suite.figures import Figure
from bench.suite.fleet import new_fleet
from bench.suite.lab import Lab
from bench.suite.throughput import COUNT, TEAMS, operator_run
from controller.kube import DISPATCHES, RUNNER_SESSIONS

CASE = "7 exactly once"
KILLS = 3


async def run(lab: Lab) -> list[Figure]:
    async with lab.kube() as kube:
        fleet = await new_fleet(lab, kube, "exactly-once", teams=TEAMS, tickets=COUNT)
        async with fleet.linear.running(), fleet.github.running():
            figures, operators = await operator_run(lab, kube, fleet, kills=KILLS)
            runs = fleet.runs_per_dispatch()
        dispatches = (await kube.list(DISPATCHES, fleet.namespace)).items
        sessions = (await kube.list(RUNNER_SESSIONS, fleet.namespace)).items
    names = [body["metadata"]["name"] for body in dispatches]
    running = sum(1 for body in dispatches if (body.get("status") or {}).get("phase") == "Running")
    once = sum(1 for name in names if runs[name] == 1)
    twice = sum(1 for name in names if runs[name] > 1)
    never = sum(1 for name in names if runs[name] == 0)
    strays = sum(count for name, count in runs.items() if name not in set(names))
    print(
        f"  {operators} operators ({KILLS} killed): {running} of {COUNT} Running in {figures.seconds:.0f} s; "
        f"runs: {once} once, {twice} more than once, {never} never, {strays} for no Dispatch; "
        f"{len(sessions)} RunnerSessions",
        flush=True,
    )
    exact = once == COUNT and twice == never == strays == 0 and len(sessions) == COUNT
    return [
        Figure.of(
            CASE,
            f"Dispatches started exactly once, {KILLS} operators killed (-9) during {COUNT:,}",
            "",
            [once],
            target=f"{COUNT:,}, none twice, none lost",
            met=exact and running == COUNT,
        ),
        Figure.of(CASE, "Dispatches whose run started more than once", "", [twice]),
        Figure.of(CASE, "Dispatches lost (never Running, or no run)", "", [max(COUNT - running, never)]),
        Figure.of(CASE, "RunnerSessions (one per run)", "", [len(sessions)]),
        Figure.of(CASE, "seconds for all to be Running, 3 takeovers included", "s", [figures.seconds]),
    ]
