"""Fly.io: the Machines API client (app secrets now, machines next) and its exceptions."""

from controller.fly.client import DEFAULT_BASE_URL, FlyClient, fly_authorization
from controller.fly.errors import (
    FlyAuthError,
    FlyError,
    FlyNotFound,
    FlyRateLimited,
    FlySecretNotFound,
    FlyUnavailable,
)
from controller.fly.models import FlyApp, FlyOrganization, FlySecret

__all__ = [
    "DEFAULT_BASE_URL",
    "FlyApp",
    "FlyAuthError",
    "FlyClient",
    "FlyError",
    "FlyNotFound",
    "FlyOrganization",
    "FlyRateLimited",
    "FlySecret",
    "FlySecretNotFound",
    "FlyUnavailable",
    "fly_authorization",
]
