"""Where runner secrets are kept: a Kubernetes Secret, whose values the controller hands each run itself.

The specification kept them as Fly app secrets, but Fly gives every app secret to every machine of
the app, so each run would see every team's secrets; the controller reads the Secret and gives a
run only its own team's and the global ones (docs/security.md). The backend never hands a value
back to the admin API: it is write-only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from controller.kube import SECRETS, AlreadyExistsError, KubeApiError, KubeClient, NotFoundError

RUNNER_SECRETS_NAME = "ai-implement-runner-secrets"


class SecretBackendError(RuntimeError):
    """The secret store could not be read or written; the message names it and the cause."""


@dataclass(frozen=True)
class SecretInfo:
    name: str
    updated_at: datetime | None


class SecretBackend(Protocol):
    """What the admin API needs of a secret store."""

    kind: str

    async def list_secrets(self) -> list[SecretInfo]: ...

    async def set_secret(self, name: str, value: str) -> None: ...

    async def delete_secret(self, name: str) -> bool:
        """True when the secret existed and is gone, False when there was none."""
        ...


class KubernetesSecretBackend:
    """One Secret in the controller's namespace, one key per runner secret."""

    kind = "kubernetes"

    def __init__(self, client: KubeClient, namespace: str, secret_name: str = RUNNER_SECRETS_NAME) -> None:
        self._client = client
        self._namespace = namespace
        self._secret_name = secret_name

    async def list_secrets(self) -> list[SecretInfo]:
        data = await self._data()
        return [SecretInfo(name=name, updated_at=None) for name in sorted(data)]

    async def set_secret(self, name: str, value: str) -> None:
        encoded = base64.b64encode(value.encode()).decode()
        try:
            try:
                await self._client.merge_patch(SECRETS, self._namespace, self._secret_name, {"data": {name: encoded}})
            except NotFoundError:
                try:
                    await self._client.create(SECRETS, self._namespace, self._new_secret({name: encoded}))
                except AlreadyExistsError:
                    await self._client.merge_patch(
                        SECRETS, self._namespace, self._secret_name, {"data": {name: encoded}}
                    )
        except KubeApiError as error:
            raise SecretBackendError(f"writing {name} to {self._where} failed: {error.message}") from error

    async def values(self) -> dict[str, str]:
        """Every secret with its value: what runs of this controller receive (never shown through the API)."""
        return {name: base64.b64decode(encoded).decode() for name, encoded in (await self._data()).items()}

    async def delete_secret(self, name: str) -> bool:
        if name not in await self._data():
            return False
        try:
            await self._client.merge_patch(SECRETS, self._namespace, self._secret_name, {"data": {name: None}})
        except NotFoundError:
            return False
        except KubeApiError as error:
            raise SecretBackendError(f"deleting {name} from {self._where} failed: {error.message}") from error
        return True

    @property
    def _where(self) -> str:
        return f"Secret {self._namespace}/{self._secret_name}"

    async def _data(self) -> dict[str, str]:
        try:
            secret = await self._client.get(SECRETS, self._namespace, self._secret_name)
        except NotFoundError:
            return {}
        except KubeApiError as error:
            raise SecretBackendError(f"reading {self._where} failed: {error.message}") from error
        data: dict[str, str] = secret.get("data") or {}
        return data

    def _new_secret(self, data: dict[str, str]) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": self._secret_name,
                "namespace": self._namespace,
                "labels": {"app.kubernetes.io/part-of": "ai-implement"},
            },
            "data": data,
        }
