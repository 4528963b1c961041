"""Per-repository gap-fill trigger secrets: derived, distinct, case-blind, refused without a key."""

from __future__ import annotations

import pytest

from controller.github.trigger_secrets import repository_trigger_secret

KEY = "the-controllers-gap-fill-key"


def test_each_repository_has_its_own_secret_whatever_the_case() -> None:
    web = repository_trigger_secret(KEY, "acme/web")

    assert web == repository_trigger_secret(KEY, "Acme/Web")
    assert web != repository_trigger_secret(KEY, "acme/api")
    assert web != repository_trigger_secret("another-key", "acme/web")
    assert len(web) == 64
    assert KEY not in web


@pytest.mark.parametrize("repository", ["acme", "acme/", "/web", "acme/web/x", ""])
def test_a_malformed_repository_is_named(repository: str) -> None:
    with pytest.raises(ValueError, match="OWNER/NAME"):
        repository_trigger_secret(KEY, repository)


def test_no_key_no_secret() -> None:
    with pytest.raises(ValueError, match="GAP_FILL_TRIGGER_SECRET is empty"):
        repository_trigger_secret("", "acme/web")
