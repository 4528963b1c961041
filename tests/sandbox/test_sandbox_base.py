"""What every sandbox shares: loopback serving, the request log, fault matching; and the schema checker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from controller.sandbox import Fault, FaultKind, JiraSandbox
from tests.sandbox.support import schema_problems


@pytest.fixture
async def sandbox() -> AsyncIterator[JiraSandbox]:
    sandbox = JiraSandbox()
    sandbox.add_site("cloud")
    sandbox.add_user("Someone", "s@example.com", token="t")
    async with sandbox.running():
        yield sandbox


@pytest.fixture
async def http(sandbox: JiraSandbox) -> AsyncIterator[httpx.AsyncClient]:
    assert sandbox.url is not None
    async with httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": "Bearer t"}) as client:
        yield client


MYSELF = "/ex/jira/cloud/rest/api/3/myself"


async def test_two_sandboxes_run_side_by_side_on_loopback_ports() -> None:
    first, second = JiraSandbox(), JiraSandbox()
    async with first.running() as first_url, second.running() as second_url:
        assert first_url.startswith("http://127.0.0.1:")
        assert second_url.startswith("http://127.0.0.1:")
        assert first_url != second_url
        assert first.url == first_url
    assert first.url is None


async def test_the_request_log_keeps_method_path_query_headers_and_body(
    http: httpx.AsyncClient, sandbox: JiraSandbox
) -> None:
    await http.request("GET", MYSELF, params={"expand": "groups"}, content=b"{}")

    [request] = sandbox.requests
    assert (request.method, request.path, request.query["expand"]) == ("GET", MYSELF, "groups")
    assert request.authorization == "Bearer t"
    assert request.json() == {}
    assert sandbox.requests_to("get", MYSELF) == [request]


async def test_faults_match_method_and_path_and_are_used_up_in_order(
    http: httpx.AsyncClient, sandbox: JiraSandbox
) -> None:
    sandbox.inject(Fault.unavailable(502, path="/elsewhere"))
    sandbox.inject(Fault.rate_limited(method="POST"))
    sandbox.inject(Fault.unavailable(500), times=2)
    sandbox.inject(Fault.unavailable(503))

    statuses = [(await http.get(MYSELF)).status_code for _ in range(5)]

    assert statuses == [500, 500, 503, 200, 200]
    assert (await http.get("/elsewhere")).status_code == 502


async def test_a_fault_without_a_count_lasts_until_cleared(http: httpx.AsyncClient, sandbox: JiraSandbox) -> None:
    sandbox.inject(Fault.rate_limited(), times=None)

    assert [(await http.get(MYSELF)).status_code for _ in range(3)] == [429, 429, 429]
    sandbox.clear_faults()
    assert (await http.get(MYSELF)).status_code == 200


async def test_a_disconnect_answers_nothing(http: httpx.AsyncClient, sandbox: JiraSandbox) -> None:
    sandbox.inject(Fault.disconnect())

    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(MYSELF)
    assert (await http.get(MYSELF)).status_code == 200


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        JiraSandbox().inject(Fault(FaultKind.UNAVAILABLE), times=0)


async def test_an_unknown_route_answers_in_the_services_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/ex/jira/cloud/rest/api/3/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"errorMessages": ["Not Found"], "errors": {}}
    assert response.headers["atl-traceid"]


SCHEMAS = {
    "Thing": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}], "nullable": True},
        },
    },
    "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"id": 1, "kind": "a", "tags": ["x"], "owner": {"name": "n"}}, None),
        ({"id": 1, "owner": None}, None),
        ({"kind": "a"}, "$: missing id"),
        ({"id": "1"}, "$.id: str is not integer"),
        ({"id": True}, "$.id: bool is not integer"),
        ({"id": 1, "kind": "c"}, "$.kind: 'c' is not one of ['a', 'b']"),
        ({"id": 1, "extra": 1}, "$: unexpected property extra"),
        ({"id": 1, "tags": [1]}, "$.tags[0]: int is not string"),
        ({"id": 1, "owner": {"name": 2}}, "$.owner.name: int is not string"),
    ],
)
def test_the_schema_checker_finds_what_breaks_a_schema(value: object, problem: str | None) -> None:
    problems = schema_problems(value, {"$ref": "#/components/schemas/Thing"}, SCHEMAS)

    assert problems == ([] if problem is None else [problem])
