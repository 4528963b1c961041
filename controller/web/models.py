"""The bases of every request and response body: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class PartialUpdate(CamelModel):
    """A change in which an omitted field stays as it is; null is not a value, so the schema forbids it."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _no_explicit_nulls(self) -> Self:
        nulls = sorted(
            field.alias or name
            for name, field in type(self).model_fields.items()
            if name in self.model_fields_set and getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be left out but not set to null")
        return self

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError(
                f"give at least one of {', '.join(f.alias or n for n, f in type(self).model_fields.items())}"
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, prop in schema.get("properties", {}).items():
            options = prop.pop("anyOf", None)
            if options is not None:
                non_null = [option for option in options if option.get("type") != "null"]
                schema["properties"][name] = (
                    {**prop, **non_null[0]} if len(non_null) == 1 else {**prop, "anyOf": options}
                )
                schema["properties"][name].pop("default", None)
        return schema
