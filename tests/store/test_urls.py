"""Which database URL the store uses, and what of it may appear in a log."""

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from controller.store import database_url, redact_database_url


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("postgresql+asyncpg://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("postgres://u:p@db/app?sslmode=require", "postgresql+asyncpg://u:p@db/app?ssl=require"),
        ("postgresql+asyncpg://u@db/app?sslmode=disable", "postgresql+asyncpg://u@db/app?ssl=disable"),
        ("sqlite+aiosqlite:////data/dedup.sqlite", "sqlite+aiosqlite:////data/dedup.sqlite"),
    ],
)
def test_an_explicit_url_is_rewritten_for_the_async_drivers(explicit: str, expected: str) -> None:
    assert database_url(explicit, "/ignored.sqlite") == expected


def test_a_password_with_reserved_characters_survives_normalisation() -> None:
    normalised = database_url("postgres://user:p%40ss%2Fw%3Ard@db/app", "/ignored.sqlite")

    assert make_url(normalised).password == "p@ss/w:rd"


@pytest.mark.parametrize(
    "explicit",
    ["mysql://u:p@db/app", "sqlite:///plain.sqlite", "postgresql+psycopg://u@db/app", "not a url"],
)
def test_other_schemes_are_refused_naming_the_variable_and_the_accepted_schemes(explicit: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as refused:
        database_url(explicit, "/ignored.sqlite")

    assert "postgresql+asyncpg://" in str(refused.value)
    assert "sqlite+aiosqlite://" in str(refused.value)


def test_a_refused_url_does_not_echo_its_password() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as refused:
        database_url("mysql://user:hunter2@db/app", "/ignored.sqlite")

    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("explicit", [None, ""])
def test_without_an_explicit_url_the_sqlite_path_is_made_absolute(
    explicit: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    url = database_url(explicit, "./data/dedup.sqlite")

    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/dedup.sqlite"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+asyncpg://user:hunter2@db:5432/app", "postgresql+asyncpg://user:***@db:5432/app"),
        ("postgresql+asyncpg://user@db/app", "postgresql+asyncpg://user@db/app"),
        ("sqlite+aiosqlite:////data/dedup.sqlite", "sqlite+aiosqlite:////data/dedup.sqlite"),
        ("::not a url:hunter2", "<unparseable database URL>"),
    ],
)
def test_redaction_hides_only_the_password(url: str, expected: str) -> None:
    assert redact_database_url(url) == expected
