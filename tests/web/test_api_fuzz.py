"""Every endpoint fuzzed from the served OpenAPI document: no 5xx, every response as documented."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance

from controller.sandbox import JiraSandbox
from controller.sandbox.jira import FieldKind
from controller.web.app import OPENAPI, build_app
from tests.support.cluster import Cluster
from tests.support.processes import running_api
from tests.support.threads import sandbox_in_thread

CODE = "fuzzing-access-code"


@dataclass(frozen=True)
class FuzzTarget:
    base_url: str
    headers: dict[str, str]
    document: dict[str, object]


@pytest.fixture(scope="module")
def fuzz_target(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    work_dir = tmp_path_factory.mktemp("fuzz")
    namespace = cluster.new_namespace("fuzz")
    env = {
        "KUBECONFIG": str(cluster.kubeconfig),
        "AI_IMPLEMENT_NAMESPACE": namespace,
        "DEDUP_DB_PATH": str(work_dir / "dedup.sqlite"),
        "ADMIN_ACCESS_CODE": CODE,
        "LOCAL_RUNNER_IMAGE": "ai-implement-runner:dev",
        "FLY_SESSIONS_TOKEN": "fuzz-fly-token",
        "FLY_SESSIONS_APP": "fuzz-sessions",
        "SECRETS_BACKEND": "kubernetes",
        "LINEAR_WEBHOOK_SECRET": "fuzz-linear-secret",
        "JIRA_WEBHOOK_SECRET": "fuzz-jira-secret",
        "GITHUB_WEBHOOK_SECRET": "fuzz-github-secret",
        "GAP_FILL_TRIGGER_SECRET": "fuzz-gap-fill-secret",
        "RUNNER_TOKEN_SECRET": "fuzz-runner-token-secret-0123456789abcdef",
        "RUNNER_CALLBACK_BASE_URL": "https://ai.example.com",
        "LOG_LEVEL": "WARNING",
    }
    jira = JiraSandbox()
    jira.add_site("0f8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", site_url="https://acme.atlassian.net")
    jira.add_user("Jira Admin", "admin@example.com", token="fuzz-jira-token", admin=True)
    jira.add_field("Repo", FieldKind.SELECT, options=["web"])
    with (
        sandbox_in_thread(jira) as jira_url,
        running_api(
            env
            | {
                "JIRA_TOKEN": "fuzz-jira-token",
                "JIRA_CLOUD_ID": "0f8b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
                "JIRA_SITE_URL": "https://acme.atlassian.net",
                "JIRA_API_BASE_URL": jira_url,
            },
            work_dir,
        ) as api,
    ):
        token = httpx.post(f"{api.base_url}/api/auth", json={"code": CODE}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        document = httpx.get(f"{api.base_url}/api/openapi.json", headers=headers).json()
        yield FuzzTarget(base_url=api.base_url, headers=headers, document=document)


SEMANTIC_RULES = {
    ("POST", "/api/mappings"),
    ("GET", "/api/mappings"),
    ("GET", "/api/issues"),
    ("GET", "/api/sessions"),
}
"""Endpoints with rules no JSON Schema can state (a Jira JQL's parentheses must balance; a page's cursor is one
this server handed out), answered with 422: every other check still holds for them, only "schema-valid data is
accepted" does not."""

DOCUMENT = build_app()[OPENAPI]
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_one_fuzzed(fuzz_target: FuzzTarget) -> None:
    assert fuzz_target.document == DOCUMENT


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_endpoint_answers_as_documented(case: Case, fuzz_target: FuzzTarget) -> None:
    headers = fuzz_target.headers if case.path != "/api/auth" else {}
    excluded = []
    if (case.method, case.path) in SEMANTIC_RULES:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=fuzz_target.base_url, headers=headers, excluded_checks=excluded)


def test_the_document_covers_every_route(fuzz_target: FuzzTarget) -> None:
    paths = fuzz_target.document["paths"]
    assert isinstance(paths, dict)
    expected = {
        "/api/auth",
        "/api/mappings",
        "/api/mappings/{teamKey}",
        "/api/mappings/{teamKey}/secrets",
        "/api/mappings/{teamKey}/secrets/{name}",
        "/api/global-secrets",
        "/api/global-secrets/{name}",
        "/api/runner-mode",
        "/api/settings",
        "/api/admin/config-status",
        "/api/openapi.json",
        "/healthz",
        "/readyz",
        "/api/issues",
        "/api/blockers",
        "/api/dedup",
        "/api/dedup/{issueId}",
        "/api/linear/webhook",
        "/api/jira/webhook",
        "/api/jira/validate-jql",
        "/api/jira/fields",
        "/api/jira/field-options",
        "/api/pipelines-steps",
        "/api/customizations",
        "/runner/credentials",
        "/runner/progress",
        "/runner/result",
        "/runner/brief",
    }
    assert expected <= set(paths)
