"""Database URLs: which one to use, in the form the async drivers need, and how to log it.

Hosting platforms hand out `postgres://` URLs with `sslmode`; SQLAlchemy's async engine needs
`postgresql+asyncpg://` and asyncpg calls that option `ssl`. Normalising here lets operators paste
the URL they were given into DATABASE_URL.
"""

from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from controller.config import Settings

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
_POSTGRES_ALIASES: Final = frozenset({"postgres", "postgresql", POSTGRES_DRIVER})
_ACCEPTED_SCHEMES: Final = "postgres://, postgresql://, postgresql+asyncpg:// or sqlite+aiosqlite://"


def database_url(explicit_url: str | None, sqlite_path: str) -> str:
    """Choose the explicit URL when one is configured, else the SQLite file shared by both processes."""
    if explicit_url:
        return normalise_database_url(explicit_url)
    absolute_path = Path(sqlite_path).expanduser().resolve()
    return URL.create(SQLITE_DRIVER, database=str(absolute_path)).render_as_string(hide_password=False)


def normalise_database_url(url: str) -> str:
    """Rewrite a PostgreSQL URL for asyncpg; refuse drivers the store cannot run on."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(
            f"DATABASE_URL is not a database URL ({redact_database_url(url)}); "
            f"expected one starting with {_ACCEPTED_SCHEMES}"
        ) from error
    if parsed.drivername == SQLITE_DRIVER:
        return url
    if parsed.drivername not in _POSTGRES_ALIASES:
        raise ValueError(
            f"DATABASE_URL uses the unsupported scheme {parsed.drivername}://; expected {_ACCEPTED_SCHEMES}"
        )
    if parsed.drivername == POSTGRES_DRIVER and "sslmode" not in parsed.query:
        return url
    query = dict(parsed.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    return parsed.set(drivername=POSTGRES_DRIVER, query=query).render_as_string(hide_password=False)


def redact_database_url(url: str) -> str:
    """Make a URL safe for logs and error messages: the password is replaced, never echoed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def database_url_from_settings(settings: Settings) -> str:
    """DATABASE_URL when set, else the SQLite file at DEDUP_DB_PATH (or its default)."""
    explicit = settings.database_url.get_secret_value() if settings.database_url else None
    return database_url(explicit, str(settings.effective_dedup_db_path))
