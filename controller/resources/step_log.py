"""A Dispatch's pipeline steps as the runner reports them, kept bounded whatever it sends.

The status lives in etcd, whose objects stop at 1.5 MiB, and every watcher receives it whole on
each change. So a step's message and output are truncated with a marker, and at most `MAX_STEPS`
steps are kept: past that, the oldest finished step gives way and `stepsOmitted` counts it. Every
step at its limits makes about 330 KiB of ordinary text; even text that JSON escapes character by
character stays under 1 MiB, below etcd's 1.5 MiB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_STEPS: Final = 64
MAX_MESSAGE_CHARS: Final = 1024
MAX_OUTPUT_BYTES: Final = 4096
PREVIEW_CHARS: Final = 1024
TRUNCATED: Final = " … [truncated]"
FINISHED: Final = frozenset({"succeeded", "skipped", "failed"})


def bounded_step(step: Mapping[str, Any]) -> dict[str, Any]:
    """The step with its message and output cut down to what the status keeps."""
    kept = dict(step)
    message = kept.get("message")
    if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
        kept["message"] = message[: MAX_MESSAGE_CHARS - len(TRUNCATED)] + TRUNCATED
    output = kept.get("output")
    if output is not None:
        text = json.dumps(output, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode())
        if size > MAX_OUTPUT_BYTES:
            kept["output"] = {"truncated": True, "bytes": size, "preview": text[:PREVIEW_CHARS] + TRUNCATED}
    return kept


def merged_steps(
    steps: Sequence[Mapping[str, Any]], reported: Mapping[str, Any], omitted: int
) -> tuple[list[dict[str, Any]], int]:
    """`steps` with `reported` added or updated by name, bounded; and the new count of steps let go."""
    step = bounded_step(reported)
    merged = [dict(item) for item in steps]
    for index, existing in enumerate(merged):
        if existing.get("name") == step.get("name"):
            merged[index] = existing | step
            break
    else:
        merged.append(step)
    while len(merged) > MAX_STEPS:
        victim = next((i for i, item in enumerate(merged[:-1]) if item.get("status") in FINISHED), 0)
        del merged[victim]
        omitted += 1
    return merged, omitted
