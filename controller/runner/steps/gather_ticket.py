"""Read the brief from the controller: the ticket, the approved plan, the review feedback."""

from __future__ import annotations

from controller.runner.step import StepContext, StepResult


async def run(context: StepContext) -> StepResult:
    if context.callbacks is None or context.progress_token is None:
        context.brief = {"ticket": {"identifier": context.job.issue_identifier}}
        return StepResult(message="no controller to ask: working from the ticket's identifier", skipped=True)
    context.brief = await context.callbacks.brief(context.progress_token)
    ticket = context.brief.get("ticket") or {}
    warnings = [str(item) for item in context.brief.get("warnings") or []]
    feedback = context.brief.get("feedback") or []
    return StepResult(
        message=f"{ticket.get('identifier')}: {ticket.get('title')}" + (f" ({warnings[0]})" if warnings else ""),
        output={
            "ticket": ticket.get("identifier"),
            "descriptionChars": len(ticket.get("description") or ""),
            "plan": bool(context.brief.get("plan")),
            "feedback": len(feedback),
            "warnings": warnings,
        },
    )
