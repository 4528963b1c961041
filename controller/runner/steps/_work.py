"""What the agent steps share: read the prompt file, compose the prompt, run the agent, keep its summary."""

from __future__ import annotations

from controller.runner.prompts import WORKFLOW_FILE, PromptFile, compose_prompt, read_prompt_file
from controller.runner.step import StepContext, StepResult

MAX_SUMMARY_CHARS = 16_000


def prompt_file(context: StepContext, name: str) -> PromptFile:
    return context.prompt_files.get(name) or read_prompt_file(None, name)


async def agent_work(context: StepContext, name: str = WORKFLOW_FILE) -> StepResult:
    """Run the agent with the prompt file `name` and the brief; its last message becomes the summary."""
    chosen = prompt_file(context, name)
    brief = context.brief
    prompt = compose_prompt(
        kind=context.job.kind,
        instructions=chosen.instructions,
        ticket=brief.get("ticket") or {"identifier": context.job.issue_identifier},
        plan=brief.get("plan"),
        feedback=brief.get("feedback") or (),
        pull_request=brief.get("pullRequest"),
    )
    transcript = await context.run_agent(prompt, model=chosen.model, max_turns=chosen.max_turns)
    said = transcript.result.get("result") if transcript.result else None
    context.summary = (str(said) if said else transcript.last_text).strip()[:MAX_SUMMARY_CHARS] or None
    turns = transcript.result.get("num_turns") if transcript.result else None
    return StepResult(
        message=f"the agent finished in {turns} turns" if turns is not None else "the agent finished",
        output={
            "model": transcript.model or chosen.model,
            "turns": turns,
            "toolUses": transcript.tool_uses,
            "costUsd": (transcript.usage() or {}).get("costUsd"),
        },
    )
