"""The admin audit trail: appended changes, newest first, with their JSON details."""

from datetime import timedelta

from controller.store import Store
from tests.store.moments import T0


async def test_an_audit_entry_comes_back_with_its_details(store: Store) -> None:
    appended = await store.append_audit(
        at=T0,
        actor="10.0.0.7",
        action="mapping.update",
        target="eng",
        details={"fields": ["capacity.maxTurns"], "paused": False, "maxTurns": 40},
    )

    assert await store.recent_audit(10) == [appended]
    assert appended.details == {"fields": ["capacity.maxTurns"], "paused": False, "maxTurns": 40}
    assert appended.at == T0


async def test_details_default_to_empty(store: Store) -> None:
    entry = await store.append_audit(at=T0, actor="admin", action="dedup.remove", target="issue-1")

    assert entry.details == {}


async def test_the_trail_lists_newest_first_and_only_as_many_as_asked(store: Store) -> None:
    for minute, action in ((1, "secret.set"), (3, "mapping.pause"), (2, "dedup.remove")):
        await store.append_audit(at=T0 + timedelta(minutes=minute), actor="admin", action=action, target="eng")

    recent = await store.recent_audit(2)

    assert [entry.action for entry in recent] == ["mapping.pause", "dedup.remove"]
