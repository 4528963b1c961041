"""What every case shares: one real API server, a work directory, a GitHub App key, fresh namespaces."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from controller import constants
from controller.config import Settings, load_settings
from controller.kube import KubeClient, KubeConnection, connection_from_kubeconfig

LINEAR_KEY = "lin_api_benchKey0123456789abcdefABCDEF"
JIRA_TOKEN = "ATATT3xBenchJiraToken0123456789"
JIRA_CLOUD_ID = "5a1d7c3e-0d1e-4c0f-9a7b-be7c00000001"
JIRA_SITE_URL = "https://bench.atlassian.net"
JIRA_REPO_FIELD = "customfield_10042"
AI_LABEL = "AI-Implement"


@dataclass
class Lab:
    kubeconfig: Path
    work: Path
    repeats: int
    api_client: client.ApiClient
    app_key_pem: str = field(default_factory=lambda: _new_app_key())

    def new_namespace(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        client.CoreV1Api(self.api_client).create_namespace({"metadata": {"name": name}})
        return name

    def connection(self) -> KubeConnection:
        return connection_from_kubeconfig(self.kubeconfig)

    def kube(self) -> KubeClient:
        return KubeClient(self.connection())

    def operator_settings(self, namespace: str, **variables: str) -> Settings:
        """An operator's settings on this API server; the case adds its services' URLs."""
        return load_settings(
            {
                "GITHUB_APP_ID": "4242",
                "GITHUB_APP_PRIVATE_KEY": self.app_key_pem,
                "AI_IMPLEMENT_NAMESPACE": namespace,
                "DEDUP_DB_PATH": str(self.work / f"{namespace}.sqlite"),
                "RUNNER_CALLBACK_BASE_URL": "https://ai-implement.example.com",
                "RUNNER_TOKEN_SECRET": "bench-runner-token-secret-0123456789",
                "LOG_LEVEL": "ERROR",
                **variables,
            },
            env_file=None,
        )


def _new_app_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def linear_mapping(namespace: str, n: int, **spec: Any) -> dict[str, Any]:
    return _mapping(namespace, n, {"provider": "linear"}, spec)


def jira_mapping(namespace: str, n: int, **spec: Any) -> dict[str, Any]:
    jira = {"jql": f"project = P{n}", "repoField": JIRA_REPO_FIELD, "repoFieldValue": f"r{n}"}
    return _mapping(namespace, n, {"provider": "jira", "jira": jira}, spec)


def _mapping(namespace: str, n: int, ticketing: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    team_key = f"T{n}" if ticketing["provider"] == "linear" else f"P{n}"
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": team_key.lower(), "namespace": namespace},
        "spec": {
            "teamKey": team_key,
            "ticketing": ticketing,
            "source": {"owner": "acme", "repo": f"repo-{n}", "defaultBranch": "main"},
            "planning": {"enabled": False},
            **spec,
        },
    }
