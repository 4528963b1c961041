"""Webhook replay protection: the first delivery of an id is accepted, replays are not."""

from datetime import timedelta

from controller.store import Store
from tests.store.moments import T0


async def test_only_the_first_delivery_of_an_id_is_new(store: Store) -> None:
    assert await store.first_seen_delivery("github", "delivery-1", T0) is True
    assert await store.first_seen_delivery("github", "delivery-1", T0 + timedelta(seconds=5)) is False


async def test_the_same_id_from_another_source_is_a_different_delivery(store: Store) -> None:
    assert await store.first_seen_delivery("github", "42", T0) is True
    assert await store.first_seen_delivery("linear", "42", T0) is True


async def test_purging_forgets_old_deliveries_so_their_ids_are_new_again(store: Store) -> None:
    await store.first_seen_delivery("github", "old", T0 - timedelta(days=8))
    await store.first_seen_delivery("github", "recent", T0)

    assert await store.purge_webhook_deliveries(older_than=T0 - timedelta(days=7)) == 1
    assert await store.first_seen_delivery("github", "old", T0) is True
    assert await store.first_seen_delivery("github", "recent", T0) is False
