"""The informer: a watched cache that follows a real API server, and recovers from what goes wrong.

Following the cluster is tested against the real API server. The recovery paths (410 Gone, broken
connections, failing callbacks) are tested with a fake at the informer's own seam, the
`WatchingClient` protocol, because a real server cannot be made to fail on cue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest

from controller import constants
from controller.kube import (
    PROJECT_MAPPINGS,
    ApiResource,
    ChangeType,
    GoneError,
    Informer,
    KubeClient,
    KubeObject,
    KubeUnavailableError,
    ObjectList,
    WatchEvent,
    connection_from_kubeconfig,
)
from tests.support.cluster import Cluster

DEADLINE_SECONDS = 10.0


def mapping(team_key: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.PROJECT_MAPPING_KIND,
        "metadata": {"name": team_key.lower(), "labels": labels or {}},
        "spec": {
            "teamKey": team_key,
            "ticketing": {"provider": "linear"},
            "source": {"owner": "acme", "repo": team_key.lower(), "defaultBranch": "main"},
        },
    }


def stored(name: str, version: str, namespace: str = "ns") -> KubeObject:
    """An object as the fake server holds it: only what the informer looks at."""
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": version}}


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds; a deadline, not a speed requirement."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE_SECONDS:.0f}s: {what}"
        await asyncio.sleep(0.02)


def names(informer: Informer) -> list[str]:
    return [obj["metadata"]["name"] for obj in informer.items()]


class Recorder:
    """A change callback that remembers (change, name, resourceVersion)."""

    def __init__(self) -> None:
        self.changes: list[tuple[ChangeType, str, str]] = []

    def __call__(self, change: ChangeType, obj: KubeObject) -> None:
        self.changes.append((change, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))

    def of(self, name: str) -> list[ChangeType]:
        return [change for change, changed, _ in self.changes if changed == name]


class ScriptedClient:
    """A `WatchingClient` that plays lists and watches from a script, one entry per call.

    An exception in a script is raised. A scripted watch ends after its events, as a real one
    does at its timeout; once the script is used up, watches stay open and quiet.
    """

    def __init__(self, lists: list[ObjectList | Exception], watches: list[list[WatchEvent | Exception]]) -> None:
        self.lists = lists
        self.watches = watches
        self.watched_from: list[str | None] = []
        self.list_calls = 0

    async def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> ObjectList:
        self.list_calls += 1
        entry = self.lists.pop(0)
        if isinstance(entry, Exception):
            raise entry
        return entry

    async def watch(
        self,
        resource: ApiResource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        self.watched_from.append(resource_version)
        if not self.watches:
            await asyncio.Event().wait()
        for entry in self.watches.pop(0):
            if isinstance(entry, Exception):
                raise entry
            yield entry


class RecordingSleep:
    """Backoff without waiting: records each delay and yields to the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    async with KubeClient(connection_from_kubeconfig(cluster.kubeconfig)) as client:
        yield client


@pytest.mark.controlplane
async def test_syncs_the_objects_that_already_exist(kube: KubeClient, namespace: str) -> None:
    for team_key in ("WEB", "API"):
        await kube.create(PROJECT_MAPPINGS, namespace, mapping(team_key))

    async with Informer(kube, PROJECT_MAPPINGS, namespace) as informer:
        assert await informer.wait_synced(DEADLINE_SECONDS)

        assert informer.synced
        assert names(informer) == ["api", "web"]
        found = informer.get("web")
        assert found is not None
        assert found["spec"]["source"]["repo"] == "web"
        assert informer.get("absent") is None


@pytest.mark.controlplane
async def test_caches_objects_without_their_managed_fields(kube: KubeClient, namespace: str) -> None:
    """Server-side apply's bookkeeping is dropped from listed and watched objects alike (memory)."""
    await kube.create(PROJECT_MAPPINGS, namespace, mapping("WEB"))
    assert (await kube.get(PROJECT_MAPPINGS, namespace, "web"))["metadata"].get("managedFields")

    async with Informer(kube, PROJECT_MAPPINGS, namespace) as informer:
        assert await informer.wait_synced(DEADLINE_SECONDS)
        await kube.create(PROJECT_MAPPINGS, namespace, mapping("API"))
        await eventually(lambda: informer.get("api") is not None, "the created mapping is cached")

        for name in ("web", "api"):
            cached = informer.get(name)
            assert cached is not None, name
            assert "managedFields" not in cached["metadata"], name
            assert cached["metadata"]["resourceVersion"]


@pytest.mark.controlplane
async def test_follows_create_update_and_delete(kube: KubeClient, namespace: str) -> None:
    recorder = Recorder()
    async_changes: list[ChangeType] = []

    async def remember(change: ChangeType, obj: KubeObject) -> None:
        async_changes.append(change)

    async with Informer(kube, PROJECT_MAPPINGS, namespace) as informer:
        informer.on_change(recorder)
        informer.on_change(remember)
        assert await informer.wait_synced(DEADLINE_SECONDS)

        await kube.create(PROJECT_MAPPINGS, namespace, mapping("ENG"))
        await eventually(lambda: informer.get("eng") is not None, "the created mapping is cached")
        await kube.merge_patch(PROJECT_MAPPINGS, namespace, "eng", {"spec": {"paused": True}})
        await eventually(lambda: (informer.get("eng") or {})["spec"]["paused"] is True, "the patch is cached")
        await kube.delete(PROJECT_MAPPINGS, namespace, "eng")
        await eventually(lambda: informer.get("eng") is None, "the deleted mapping is gone")

    assert recorder.of("eng") == ["ADDED", "MODIFIED", "DELETED"]
    assert async_changes == ["ADDED", "MODIFIED", "DELETED"]


@pytest.mark.controlplane
async def test_parsed_views_are_made_once_per_object_version(kube: KubeClient, namespace: str) -> None:
    parsed: list[tuple[str, bool]] = []

    def parse(obj: KubeObject) -> tuple[str, bool]:
        view = (obj["metadata"]["name"], bool(obj["spec"].get("paused")))
        parsed.append(view)
        return view

    for team_key in ("ENG", "OPS"):
        await kube.create(PROJECT_MAPPINGS, namespace, mapping(team_key))
    async with Informer(kube, PROJECT_MAPPINGS, namespace) as informer:
        assert await informer.wait_synced(DEADLINE_SECONDS)
        assert informer.parsed(parse) == [("eng", False), ("ops", False)]
        assert informer.parsed(parse) == [("eng", False), ("ops", False)]
        assert len(parsed) == 2, "nothing changed: nothing parsed again"

        await kube.merge_patch(PROJECT_MAPPINGS, namespace, "eng", {"spec": {"paused": True}})
        await eventually(lambda: (informer.get("eng") or {})["spec"].get("paused") is True, "the patch is cached")
        await kube.delete(PROJECT_MAPPINGS, namespace, "ops")
        await eventually(lambda: informer.get("ops") is None, "the deleted mapping is gone")

        assert informer.parsed(parse) == [("eng", True)]
        assert parsed[2:] == [("eng", True)], "only the changed object is parsed again"


@pytest.mark.controlplane
async def test_watches_every_namespace_with_a_label_selector(
    kube: KubeClient, cluster: Cluster, namespace: str
) -> None:
    other = cluster.new_namespace()
    label = {"informer-test": namespace}
    await kube.create(PROJECT_MAPPINGS, namespace, mapping("ENG", label))
    await kube.create(PROJECT_MAPPINGS, other, mapping("ENG", label))
    await kube.create(PROJECT_MAPPINGS, other, mapping("OPS"))

    informer = Informer(kube, PROJECT_MAPPINGS, None, label_selector=f"informer-test={namespace}")
    async with informer:
        assert await informer.wait_synced(DEADLINE_SECONDS)
        await kube.create(PROJECT_MAPPINGS, namespace, mapping("WEB", label))
        await eventually(lambda: informer.get("web", namespace) is not None, "the new mapping is cached")

        cached = [(obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in informer.items()]
        assert cached == sorted([(namespace, "eng"), (namespace, "web"), (other, "eng")])


@pytest.mark.controlplane
async def test_stop_leaves_no_task_behind(kube: KubeClient, namespace: str) -> None:
    informer = Informer(kube, PROJECT_MAPPINGS, namespace)
    informer.start()
    assert await informer.wait_synced(DEADLINE_SECONDS)

    await informer.stop()

    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("informer ")]
    await informer.stop()


async def test_a_derived_index_is_built_once_per_change_of_the_cache() -> None:
    client = ScriptedClient(
        lists=[ObjectList([stored("b", "1"), stored("a", "1")], "10")],
        watches=[[WatchEvent("ADDED", stored("c", "11"))]],
    )
    built: list[list[str]] = []

    def index(informer: Informer) -> list[str]:
        names = [obj["metadata"]["name"] for obj in informer.project(lambda obj: obj)]
        built.append(names)
        return names

    informer = Informer(client, PROJECT_MAPPINGS, "ns")
    assert informer.derived(index) == [], "before the first list: the empty cache"
    async with informer:
        await eventually(lambda: len(names(informer)) == 3, "the watched object is cached")

        assert informer.derived(index) == ["a", "b", "c"]
        assert informer.derived(index) == ["a", "b", "c"]
        assert built == [[], ["a", "b", "c"]], "nothing changed between the last two reads: built once"
        assert informer.revision == 2, "one list and one event"


async def test_lists_again_after_gone_and_reports_the_difference() -> None:
    client = ScriptedClient(
        lists=[
            ObjectList([stored("a", "1"), stored("b", "1"), stored("c", "1")], "10"),
            ObjectList([stored("a", "11"), stored("b", "7"), stored("d", "8")], "20"),
        ],
        watches=[
            [
                WatchEvent("MODIFIED", stored("a", "11")),
                GoneError("too old resource version", status_code=410),
            ]
        ],
    )
    recorder = Recorder()
    informer = Informer(client, PROJECT_MAPPINGS, "ns")
    informer.on_change(recorder)

    async with informer:
        await eventually(lambda: client.list_calls == 2 and len(client.watched_from) == 2, "a second watch")

        assert client.watched_from == ["10", "20"]
        assert names(informer) == ["a", "b", "d"]
    assert recorder.changes[3:] == [
        ("MODIFIED", "a", "11"),
        ("MODIFIED", "b", "7"),
        ("ADDED", "d", "8"),
        ("DELETED", "c", "1"),
    ]


async def test_backs_off_while_the_server_is_unreachable_and_rewatches_from_where_it_was() -> None:
    unreachable = KubeUnavailableError("connection refused")
    client = ScriptedClient(
        lists=[unreachable, unreachable, unreachable, ObjectList([stored("a", "1")], "10")],
        watches=[[WatchEvent("BOOKMARK", stored("", "15")), unreachable], [unreachable]],
    )
    sleep = RecordingSleep()
    informer = Informer(client, PROJECT_MAPPINGS, "ns", retry_delays=(0.5, 1.0), sleep=sleep)

    async with informer:
        await eventually(lambda: len(client.watched_from) == 3, "a third watch")

        assert informer.synced
        assert client.list_calls == 4
        assert client.watched_from == ["10", "15", "15"]
    assert sleep.delays == [0.5, 1.0, 1.0, 0.5, 1.0]


async def test_a_watch_that_keeps_ending_empty_is_backed_off() -> None:
    client = ScriptedClient(lists=[ObjectList([], "1")], watches=[[], [], [WatchEvent("ADDED", stored("a", "2"))], []])
    sleep = RecordingSleep()
    informer = Informer(client, PROJECT_MAPPINGS, "ns", retry_delays=(0.5, 1.0, 2.0), sleep=sleep)

    async with informer:
        await eventually(lambda: len(client.watched_from) == 5, "a fifth watch")

        assert names(informer) == ["a"]
    assert sleep.delays == [0.5, 1.0, 0.5]
    assert client.watched_from == ["1", "1", "1", "2", "2"]


async def test_a_failing_callback_does_not_stop_the_informer() -> None:
    client = ScriptedClient(
        lists=[ObjectList([], "1")],
        watches=[[WatchEvent("ADDED", stored("a", "2")), WatchEvent("ADDED", stored("b", "3"))]],
    )
    recorder = Recorder()

    def explode(change: ChangeType, obj: KubeObject) -> None:
        raise RuntimeError("a bug in a consumer")

    informer = Informer(client, PROJECT_MAPPINGS, "ns")
    informer.on_change(explode)
    informer.on_change(recorder)
    async with informer:
        await eventually(lambda: len(recorder.changes) == 2, "both changes reach the second callback")

        assert names(informer) == ["a", "b"]
        assert client.list_calls == 1


async def test_handed_out_objects_are_copies() -> None:
    client = ScriptedClient(lists=[ObjectList([stored("a", "1")], "1")], watches=[])
    async with Informer(client, PROJECT_MAPPINGS, "ns") as informer:
        assert await informer.wait_synced(DEADLINE_SECONDS)
        informer.items()[0]["metadata"]["name"] = "changed"
        found = informer.get("a")
        assert found is not None
        found["metadata"]["resourceVersion"] = "99"

        assert informer.items() == [stored("a", "1")]


async def test_not_synced_until_the_first_list_succeeds() -> None:
    client = ScriptedClient(lists=[KubeUnavailableError("down")] * 100, watches=[])
    informer = Informer(client, PROJECT_MAPPINGS, "ns", retry_delays=(0.01,))

    async with informer:
        assert not await informer.wait_synced(0.05)
        assert not informer.synced
