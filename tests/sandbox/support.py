"""Helpers of the sandbox tier: one fake time for clients and sandboxes, leak checks, schema checks."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.clock import record_start

START = 1_767_323_040.0
"""2026-01-02T03:04:00Z: a whole minute, so Jira's minute-precision resets give exact waits.

Only for the sandboxes and their clients, which never meet the control plane: the suite fails a
test that starts a fixed-date clock and also uses the real API server (tests/support/clock.py).
"""

SPECS_DIR = Path(os.environ.get("AI_IMPLEMENT_SPECS_DIR") or Path(__file__).resolve().parents[3] / "shared" / "specs")
"""The published API descriptions (shared/specs beside the repository)."""


class FakeTime:
    """Wall clock and sleep for both sides: a sleep records the wait and moves the clock, instantly."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []
        record_start(datetime.fromtimestamp(start, UTC))

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def assert_no_secrets(
    secrets: Iterable[str], *, records: Iterable[logging.LogRecord] = (), errors: Iterable[BaseException] = ()
) -> None:
    """No secret in any log record (message, arguments, extra fields) or exception (message, repr, chain)."""
    texts: list[str] = []
    for record in records:
        texts.append(record.getMessage())
        texts.extend(repr(value) for value in vars(record).values())
    for error in errors:
        current: BaseException | None = error
        while current is not None:
            texts.extend((str(current), repr(current), repr(vars(current))))
            current = current.__cause__ or current.__context__
    for secret in secrets:
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"a secret leaked into {leaks[0][:200]!r}"


@cache
def load_spec(name: str) -> Mapping[str, Any]:
    path = SPECS_DIR / name
    if not path.is_file():
        pytest.fail(
            f"{path} is not there: the published API descriptions live in ../shared/specs beside the "
            "clone (or set AI_IMPLEMENT_SPECS_DIR)",
            pytrace=False,
        )
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    assert isinstance(loaded, Mapping)
    return loaded


def spec_schemas(name: str) -> Mapping[str, Any]:
    """`components.schemas` of a published OpenAPI description."""
    schemas = load_spec(name)["components"]["schemas"]
    assert isinstance(schemas, Mapping)
    return schemas


def schema_problems(value: Any, schema: Mapping[str, Any], schemas: Mapping[str, Any], where: str = "$") -> list[str]:
    """Where `value` breaks an OpenAPI 3.0 schema: types, required, enums, extra properties, items.

    A small structural check in place of a JSON Schema library; it follows `$ref` and `allOf`/
    `anyOf`/`oneOf` and honours `nullable`, which is all the schemas used here need.
    """
    if "$ref" in schema:
        return schema_problems(value, schemas[schema["$ref"].rsplit("/", 1)[-1]], schemas, where)
    if value is None and schema.get("nullable"):
        return []
    problems: list[str] = []
    for part in schema.get("allOf", ()):
        problems += schema_problems(value, part, schemas, where)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema and all(schema_problems(value, part, schemas, where) for part in schema[keyword]):
            problems.append(f"{where}: matches none of {keyword}")
    if value is None:
        return problems if "type" not in schema else [*problems, f"{where}: null"]
    expected = schema.get("type")
    types: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if expected and (
        not isinstance(value, types[expected]) or (expected in ("integer", "number") and isinstance(value, bool))
    ):
        return [*problems, f"{where}: {type(value).__name__} is not {expected}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [f"{where}: missing {key}" for key in schema.get("required", ()) if key not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], schemas, f"{where}.{key}")
            elif extra is False:
                problems.append(f"{where}: unexpected property {key}")
            elif isinstance(extra, Mapping):
                problems += schema_problems(item, extra, schemas, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += schema_problems(item, schema["items"], schemas, f"{where}[{index}]")
    return problems
