"""Shared building blocks of the custom resources: camelCase models and conditions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

PRINTABLE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
"""Free text without control characters, which YAML (and so `kubectl apply`) cannot carry."""


def refuse_booleans(value: object) -> object:
    """For whole-number fields: JSON `true` is not 1, though pydantic's lax mode would read it so."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true or false")
    return value


def cel(rule: str, message: str, *, field_path: str | None = None) -> dict[str, Any]:
    """One CEL validation rule, evaluated by the API server itself."""
    validation: dict[str, Any] = {"rule": rule, "message": message}
    if field_path is not None:
        validation["fieldPath"] = field_path
    return validation


def defaulted_object(model: type[BaseModel], description: str) -> Any:
    """A sub-object that is always present, defaulted whole by the API server.

    The default is spelled out in full because the API server checks CEL rules against
    defaults without applying the defaults nested inside them.
    """
    default = model().model_dump(mode="json", by_alias=True, exclude_none=True)
    return Field(default_factory=model, description=description, json_schema_extra={"default": default})


class ResourceModel(BaseModel):
    """A part of a spec: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON body the API server expects, without unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(BaseModel):
    """A part of a status: camelCase on the wire, unknown fields tolerated (older writers)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON body for a status patch, without unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Condition(StatusModel):
    """The Kubernetes condition convention: one aspect of the state, with why and since when."""

    type: str = Field(description="The aspect this condition describes, e.g. Ready.", max_length=64)
    status: Literal["True", "False", "Unknown"] = Field(description="Whether the aspect holds.")
    reason: str = Field(
        description="A CamelCase word saying why, for machines.",
        max_length=128,
        pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$",
    )
    message: str = Field(default="", description="A sentence saying why, for people.", max_length=4096)
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The spec generation this condition was computed from."
    )


CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
