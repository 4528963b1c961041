"""A run's reported pull request is taken only when GitHub shows the App opened it in the mapping's repository.

Through the HTTP edge: the real API (with the production GitHub App client), the real API server
and store, and the GitHub sandbox holding the pull requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.github import GitHubClient
from controller.kube import KubeClient
from controller.sandbox.github import GitHubSandbox
from controller.store import Store
from controller.web.runner_callbacks import pull_request_number_in
from tests.support.api_fixtures import Api, ApiFactory
from tests.support.clock import FakeClock
from tests.web.test_runner_callbacks import ENV, add_eng_mapping, bearer, create_dispatch, record, status_of

APP_ID = 4711


@pytest.fixture
async def github(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[GitHubSandbox]:
    sandbox = GitHubSandbox()
    sandbox.add_app(APP_ID, rsa_key.public_key())
    for name in ("web", "other"):
        sandbox.add_repo("acme", name, files={"README.md": "# hi\n"})
    sandbox.install_app(APP_ID, "acme", repos=["web", "other"])
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def results(
    start_api: ApiFactory, github: GitHubSandbox, rsa_key: rsa.RSAPrivateKey, kube: KubeClient, namespace: str
) -> AsyncIterator[Api]:
    async with GitHubClient(APP_ID, rsa_key, base_url=str(github.url)) as client:
        api = await start_api(ENV, github=client)
        await add_eng_mapping(kube, namespace, api)
        yield api


async def report(api: Api, store: Store, kube: KubeClient, namespace: str, clock: FakeClock, url: str) -> Any:
    dispatch = await create_dispatch(kube, namespace, clock)
    tokens = await record(store, dispatch, namespace, clock)
    body = {"outcome": "succeeded", "pullRequestUrl": url}
    return await api.client.post("/runner/result", json=body, headers=bearer(tokens.result.token)), tokens


async def test_a_pull_request_the_app_opened_in_the_mappings_repository_is_taken(
    results: Api, github: GitHubSandbox, store: Store, kube: KubeClient, namespace: str, clock: FakeClock
) -> None:
    pull = github.open_pull_request("acme", "web", "ai-implement/eng-1", "main", "ENG-1", by_app=True)

    answer, _ = await report(results, store, kube, namespace, clock, pull["html_url"])

    assert answer.status == 200, await answer.text()
    assert (await status_of(kube, namespace))["result"]["pullRequestUrl"] == pull["html_url"]


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("opened-by-a-person", "was opened by octocat, not by the App"),
        ("other-repository", "is not a pull request of acme/web"),
        ("no-such-pull-request", "has no pull request #999"),
        ("other-host", "is not where GitHub shows"),
        ("not-a-pull-request-url", "is not a pull request of acme/web"),
    ],
)
async def test_a_pull_request_github_does_not_vouch_for_is_refused_and_the_token_kept(
    results: Api,
    github: GitHubSandbox,
    store: Store,
    kube: KubeClient,
    namespace: str,
    clock: FakeClock,
    case: str,
    said: str,
) -> None:
    by_person = github.open_pull_request("acme", "web", "feature", "main", "A person's change")
    elsewhere = github.open_pull_request("acme", "other", "ai-implement/x", "main", "Elsewhere", by_app=True)
    ours = github.open_pull_request("acme", "web", "ai-implement/eng-1", "main", "ENG-1", by_app=True)
    urls = {
        "opened-by-a-person": by_person["html_url"],
        "other-repository": elsewhere["html_url"],
        "no-such-pull-request": ours["html_url"].rsplit("/", 1)[0] + "/999",
        "other-host": ours["html_url"].replace("https://github.com", "https://github.evil.example"),
        "not-a-pull-request-url": "https://evil.example/phish",
    }

    answer, tokens = await report(results, store, kube, namespace, clock, urls[case])

    assert answer.status == 422, await answer.text()
    error = (await answer.json())["error"]
    assert (error["code"], said in error["message"]) == ("foreign_pull_request", True), error
    assert "result" not in await status_of(kube, namespace)
    retried = await results.client.post(
        "/runner/result", json={"outcome": "succeeded"}, headers=bearer(tokens.result.token)
    )
    assert retried.status == 200, "a refused result does not spend the token"


@pytest.mark.parametrize(
    ("url", "number"),
    [
        ("https://github.com/acme/web/pull/7", 7),
        ("https://github.com/Acme/Web/pull/7", 7),
        ("https://github.com/acme/web/pull/7/files", None),
        ("https://github.com/acme/webx/pull/7", None),
        ("https://github.com/acme/web/issues/7", None),
        ("https://github.com/acme/web/pull/x", None),
    ],
)
def test_the_number_of_a_pull_request_url(url: str, number: int | None) -> None:
    assert pull_request_number_in(url, "acme/web") == number
