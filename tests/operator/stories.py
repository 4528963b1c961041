"""Short stories several operator tests start from, written once."""

from __future__ import annotations

from typing import Any

from controller.sandbox import LinearSandbox
from controller.sandbox.runner import RunScript
from tests.operator.conftest import apply_mapping, cached
from tests.operator.run_fixtures import RunLoop

FIRST_RUN = "eng-1-implementation-1"


async def implement_one_ticket(
    loop: RunLoop, linear: LinearSandbox, title: str = "Add dark mode", script: RunScript | None = None
) -> dict[str, Any]:
    """Team ENG (no planning) on acme/eng, one labelled ticket, the operator leading: the closed run's status."""
    loop.add_repo("eng")
    await apply_mapping(loop.kube, loop.namespace, "ENG", planning={"enabled": False})
    issue = linear.add_issue("ENG", title, labels=["AI-Implement"])
    if script is not None:
        loop.runner.scripts[issue.identifier] = script
    runtime = await loop.operator()
    await cached(runtime, "eng")
    await loop.lead(runtime)
    return await loop.until_closed(FIRST_RUN)
