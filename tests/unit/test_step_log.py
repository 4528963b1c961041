"""A Dispatch's steps stay bounded whatever the runner reports: cut with a marker, oldest finished first."""

from __future__ import annotations

import json

from controller.resources.step_log import MAX_MESSAGE_CHARS, MAX_OUTPUT_BYTES, MAX_STEPS, bounded_step, merged_steps


def step(name: str, status: str = "succeeded", **extra: object) -> dict[str, object]:
    return {"name": name, "status": status, **extra}


def test_a_small_step_is_kept_as_it_is() -> None:
    small = step("plan", message="planned", output={"files": 3})
    assert bounded_step(small) == small


def test_a_long_message_and_a_large_output_are_cut_with_a_marker() -> None:
    kept = bounded_step(step("plan", message="m" * 5000, output={"log": "é" * 3000}))
    assert len(kept["message"]) == MAX_MESSAGE_CHARS
    assert kept["message"].endswith("[truncated]")
    output = kept["output"]
    assert output["truncated"] is True
    assert (
        output["bytes"]
        == len(json.dumps({"log": "é" * 3000}, separators=(",", ":"), ensure_ascii=False).encode())
        > MAX_OUTPUT_BYTES
    )
    assert output["preview"].startswith('{"log":"éé')
    assert output["preview"].endswith("[truncated]")


def test_a_reported_step_updates_its_namesake() -> None:
    steps, omitted = merged_steps([step("plan", "running", message="a")], step("plan", elapsedSeconds=3), 0)
    assert (steps, omitted) == ([step("plan", message="a", elapsedSeconds=3)], 0)


def test_past_the_cap_the_oldest_finished_step_gives_way_and_is_counted() -> None:
    steps = [step("running-one", "running")] + [step(f"s{n}") for n in range(MAX_STEPS - 1)]
    merged, omitted = merged_steps(steps, step("new", "running"), 5)
    assert (len(merged), omitted) == (MAX_STEPS, 6)
    assert [item["name"] for item in merged][:2] == ["running-one", "s1"], "a running step is kept over a finished one"
    assert merged[-1]["name"] == "new"


def test_with_nothing_finished_the_oldest_goes() -> None:
    steps = [step(f"s{n}", "running") for n in range(MAX_STEPS)]
    merged, omitted = merged_steps(steps, step("new", "running"), 0)
    assert (merged[0]["name"], omitted) == ("s1", 1)
