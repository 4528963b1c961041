"""Fly's answers as typed values: only the fields the controller reads, extra fields ignored.

Secret models deliberately have no `value`: even if a response carried values (`show_secrets`),
they are dropped at the edge and never reach a log line or a status field.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _FlyModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FlyOrganization(_FlyModel):
    name: str = ""
    slug: str = ""


class FlyApp(_FlyModel):
    """`GET /v1/apps/{app}`: enough to tell that the token can see the app."""

    id: str
    name: str
    status: str = ""
    organization: FlyOrganization | None = None


class FlySecret(_FlyModel):
    """One app secret as listed: its name and a digest that changes with the value, never the value."""

    name: str
    digest: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class FlySecretList(_FlyModel):
    secrets: list[FlySecret]


class FlySecretsVersion(_FlyModel):
    """The app's secrets version after a write: pass it as `min_secrets_version` to new machines."""

    version: int | None = None
