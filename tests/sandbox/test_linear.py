"""LinearClient against the Linear sandbox: viewer, auth, GraphQL errors, RATELIMITED in milliseconds."""

from __future__ import annotations

import logging

import httpx
import pytest
from graphql import parse, validate
from graphql.utilities import get_operation_ast

from controller.httpclient import RetryPolicy
from controller.sandbox import Fault, LinearSandbox, linear_schema
from controller.sandbox.linear import estimate_complexity
from controller.ticketing.linear import (
    VIEWER_QUERY,
    LinearAuthError,
    LinearClient,
    LinearError,
    LinearInvalidInput,
    LinearQueryError,
    LinearRateLimited,
    LinearUnavailable,
)
from tests.sandbox.conftest import LINEAR_KEY, LINEAR_OAUTH_TOKEN, SECRETS
from tests.sandbox.support import START, FakeTime, assert_no_secrets


def test_the_clients_documents_are_valid_against_linears_schema() -> None:
    assert validate(linear_schema(), parse(VIEWER_QUERY)) == []


async def test_viewer_answers_who_the_key_belongs_to(linear: LinearClient, linear_sandbox: LinearSandbox) -> None:
    viewer = await linear.viewer()

    [user] = linear_sandbox.users.values()
    assert (viewer.id, viewer.name, viewer.email) == (user.id, "Ada Lovelace", "ada@example.com")
    [request] = linear_sandbox.requests
    assert request.authorization == LINEAR_KEY, "a personal key goes raw, without Bearer"
    assert request.json() == {"query": VIEWER_QUERY, "operationName": "Viewer"}
    assert request.headers["Content-Type"] == "application/json"


async def test_an_oauth_token_is_sent_as_bearer(linear_sandbox: LinearSandbox) -> None:
    async with LinearClient(f"Bearer {LINEAR_OAUTH_TOKEN}", endpoint=f"{linear_sandbox.url}/graphql") as client:
        viewer = await client.viewer()

    assert viewer.name == "Ada Lovelace"
    assert linear_sandbox.requests[-1].authorization == f"Bearer {LINEAR_OAUTH_TOKEN}"


def test_a_personal_key_with_a_bearer_prefix_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="remove the 'Bearer ' prefix") as caught:
        LinearClient(f"Bearer {LINEAR_KEY}")

    assert LINEAR_KEY not in str(caught.value)


async def test_a_bad_key_is_an_auth_error_at_once(
    linear_sandbox: LinearSandbox, retry: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_key = "lin_api_revokedKeyThatMustNotLeak"
    async with LinearClient(bad_key, endpoint=f"{linear_sandbox.url}/graphql", retry=retry) as client:
        with pytest.raises(LinearAuthError) as caught:
            await client.viewer()

    assert caught.value.status == 401
    assert caught.value.codes == {"AUTHENTICATION_ERROR"}
    assert caught.value.errors[0].type == "authentication error"
    assert len(linear_sandbox.requests) == 1
    assert_no_secrets([bad_key, *SECRETS], records=caplog.records, errors=[caught.value])


async def test_ratelimited_at_400_is_retried_after_the_reset_in_milliseconds(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    linear_sandbox.inject(Fault.rate_limited(wait=1.5))

    viewer = await linear.viewer()

    assert viewer.name == "Ada Lovelace"
    assert fake_time.sleeps == [pytest.approx(1.5)], "1.5 s: not 1500 s, not 1.5 ms"
    [retry_log] = [record for record in caplog.records if record.name == "controller.httpclient"]
    assert retry_log.__dict__["http_status"] == "400"
    assert retry_log.__dict__["http_operation"] == "Viewer"
    assert_no_secrets(SECRETS, records=caplog.records)


async def test_ratelimited_at_429_is_retried_the_same_way(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime
) -> None:
    linear_sandbox.inject(Fault.rate_limited(status=429, wait=2.25))

    await linear.viewer()

    assert fake_time.sleeps == [pytest.approx(2.25)]


async def test_a_rate_limit_that_never_ends_is_linear_rate_limited_after_max_attempts(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime
) -> None:
    linear_sandbox.inject(Fault.rate_limited(wait=2), times=None)

    with pytest.raises(LinearRateLimited) as caught:
        await linear.viewer()

    assert len(linear_sandbox.requests) == 4
    assert fake_time.sleeps == [pytest.approx(2.0)] * 3
    assert caught.value.status == 400
    assert caught.value.codes == {"RATELIMITED"}
    assert caught.value.retry_after == pytest.approx(2.0)
    assert caught.value.temporary


async def test_a_reset_beyond_max_wait_fails_at_once_with_the_wait_attached(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime
) -> None:
    linear_sandbox.inject(Fault.rate_limited(wait=1800))

    with pytest.raises(LinearRateLimited) as caught:
        await linear.viewer()

    assert fake_time.sleeps == []
    assert caught.value.retry_after == pytest.approx(1800)
    assert "max_wait" in str(caught.value)


async def test_the_request_budget_runs_out_and_refills(fake_time: FakeTime, retry: RetryPolicy) -> None:
    sandbox = LinearSandbox(clock=fake_time.clock, request_limit=2, period=10.0)
    sandbox.add_user("Ada Lovelace", "ada@example.com", api_key=LINEAR_KEY)
    async with (
        sandbox.running() as url,
        LinearClient(LINEAR_KEY, endpoint=f"{url}/graphql", retry=retry) as client,
    ):
        for _ in range(3):
            await client.viewer()

    assert len(sandbox.requests) == 4, "the third call was refused once"
    assert fake_time.sleeps == [pytest.approx(10.0)], "until the leaky bucket is empty again"


async def test_every_response_carries_budget_headers_with_resets_in_milliseconds(
    linear_sandbox: LinearSandbox,
) -> None:
    async with httpx.AsyncClient() as http:
        answers = [
            await http.post(f"{linear_sandbox.url}/graphql", json={"query": VIEWER_QUERY}, headers=headers)
            for headers in ({"Authorization": LINEAR_KEY}, {"Authorization": "lin_api_wrong"}, {})
        ]

    for answer in answers:
        for budget in ("Requests", "Complexity"):
            assert int(answer.headers[f"X-RateLimit-{budget}-Limit"]) > 0
            assert int(answer.headers[f"X-RateLimit-{budget}-Remaining"]) >= 0
            reset_ms = int(answer.headers[f"X-RateLimit-{budget}-Reset"])
            assert START * 1000 <= reset_ms < (START + 3600) * 1000
    assert answers[0].headers["X-Complexity"] == "2", "one object and three scalars, rounded up"


async def test_an_invalid_query_is_rejected_with_a_validation_error_and_not_retried(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime
) -> None:
    with pytest.raises(LinearQueryError) as caught:
        await linear._graphql("query Broken { viewer { id nickname } }", operation_name="Broken")

    assert caught.value.status == 400
    assert caught.value.codes == {"GRAPHQL_VALIDATION_FAILED"}
    assert "Cannot query field 'nickname' on type 'User'" in str(caught.value)
    assert len(linear_sandbox.requests) == 1
    assert fake_time.sleeps == []


async def test_a_syntax_error_is_a_query_error(linear: LinearClient) -> None:
    with pytest.raises(LinearQueryError) as caught:
        await linear._graphql("query { viewer { id ")

    assert caught.value.codes == {"GRAPHQL_PARSE_FAILED"}


async def test_bad_variables_are_a_query_error(linear: LinearClient) -> None:
    query = "query Issue($id: String!) { issue(id: $id) { id } }"

    with pytest.raises(LinearQueryError) as caught:
        await linear._graphql(query, {"id": 42}, "Issue")

    assert caught.value.codes == {"BAD_USER_INPUT"}


async def test_errors_at_http_200_raise_and_carry_the_partial_data(linear: LinearClient) -> None:
    query = "query Mixed { viewer { id timezone } }"

    with pytest.raises(LinearQueryError) as caught:
        await linear._graphql(query, operation_name="Mixed")

    assert caught.value.status == 200
    assert caught.value.data is not None
    assert caught.value.data["viewer"]["timezone"] is None
    assert caught.value.data["viewer"]["id"]
    assert caught.value.errors[0].path == ("viewer", "timezone")
    assert "does not implement User.timezone" in str(caught.value)


async def test_invalid_input_is_its_own_class(linear_sandbox: LinearSandbox) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        error = {
            "message": "issueId must be a valid UUID or issue identifier",
            "extensions": {"code": "INVALID_INPUT", "type": "invalid input", "userError": True},
        }
        return httpx.Response(400, json={"errors": [error]})

    async with LinearClient(LINEAR_KEY, transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(LinearInvalidInput):
            await client._graphql("mutation { x }", idempotent=False)


async def test_a_500_is_retried_for_a_query(
    linear: LinearClient, linear_sandbox: LinearSandbox, fake_time: FakeTime
) -> None:
    linear_sandbox.inject(Fault.unavailable(500))

    await linear.viewer()

    assert fake_time.sleeps == [0.25]


async def test_a_proxy_page_that_never_goes_away_is_linear_unavailable(
    linear: LinearClient, linear_sandbox: LinearSandbox
) -> None:
    linear_sandbox.inject(Fault.unavailable(502), times=None)

    with pytest.raises(LinearUnavailable) as caught:
        await linear.viewer()

    assert caught.value.status == 502
    assert "upstream unavailable" in str(caught.value)
    assert "gave up after 4 attempts" in str(caught.value)


async def test_a_server_error_on_a_mutation_is_not_retried(linear: LinearClient, linear_sandbox: LinearSandbox) -> None:
    linear_sandbox.inject(Fault.unavailable(503, after_handler=True))

    with pytest.raises(LinearUnavailable):
        await linear._graphql(VIEWER_QUERY, operation_name="Viewer", idempotent=False)

    assert len(linear_sandbox.requests) == 1


async def test_bearer_with_a_personal_key_is_400_input_error_in_the_sandbox(linear_sandbox: LinearSandbox) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{linear_sandbox.url}/graphql",
            json={"query": VIEWER_QUERY},
            headers={"Authorization": f"Bearer {LINEAR_KEY}"},
        )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INPUT_ERROR"
    assert error["extensions"]["type"] == "invalid input"
    assert "Remove the Bearer prefix" in error["message"]


async def test_the_sandbox_rate_limit_answer_has_both_code_and_type(linear_sandbox: LinearSandbox) -> None:
    linear_sandbox.inject(Fault.rate_limited())
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{linear_sandbox.url}/graphql", json={"query": VIEWER_QUERY}, headers={"Authorization": LINEAR_KEY}
        )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["extensions"]["code"], error["extensions"]["type"]) == ("RATELIMITED", "ratelimited")
    assert response.headers["X-RateLimit-Requests-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Requests-Reset"]) == int((START + 1.0) * 1000)


def test_every_field_the_sandbox_answers_for_a_user_exists_in_linears_schema(linear_sandbox: LinearSandbox) -> None:
    user_type = linear_schema().type_map["User"]
    [user] = linear_sandbox.users.values()

    assert set(user.as_graphql()) <= set(getattr(user_type, "fields", {}))


async def test_a_linear_error_for_a_body_that_is_not_graphql(linear_sandbox: LinearSandbox) -> None:
    async with LinearClient(
        LINEAR_KEY, transport=httpx.MockTransport(lambda request: httpx.Response(200, text="<html>hi</html>"))
    ) as client:
        with pytest.raises(LinearError, match="not GraphQL"):
            await client.viewer()


@pytest.mark.parametrize(
    ("query", "variables", "price"),
    [
        pytest.param(VIEWER_QUERY, {}, 2, id="one-object-three-scalars"),
        pytest.param("query { issues(first: 10) { nodes { id title } } }", {}, 13, id="first-multiplies"),
        pytest.param("query($n: Int) { issues(first: $n) { nodes { id } } }", {"n": 4}, 6, id="first-from-variable"),
        pytest.param("query { issues { nodes { id } } }", {}, 56, id="fifty-without-first"),
        pytest.param("query { viewer { ...Me } } fragment Me on User { id name }", {}, 2, id="fragments-are-followed"),
    ],
)
def test_queries_are_priced_as_linear_documents(query: str, variables: dict[str, int], price: int) -> None:
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None

    assert estimate_complexity(linear_schema(), document, operation, variables) == price


async def test_several_operations_need_an_operation_name(linear: LinearClient) -> None:
    with pytest.raises(LinearQueryError) as caught:
        await linear._graphql("query A { viewer { id } } query B { viewer { name } }")

    assert caught.value.codes == {"OPERATION_RESOLUTION_FAILURE"}
    assert await linear._graphql("query A { viewer { id } } query B { viewer { name } }", operation_name="B") == {
        "viewer": {"name": "Ada Lovelace"}
    }
