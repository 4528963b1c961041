"""Where each value comes from: the environment, the dotenv file, the client file, in that order.

Many clients are deployed from one repository: each sets CLIENT_SLUG, and `<CLIENTS_DIR>/<slug>.toml`
holds that client's non-secret settings, under the same names as the environment variables. The
layers are merged here, explicitly rather than inside pydantic-settings, because `config check`
shows for every variable the layer its value came from, which a merged source no longer knows.
"""

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, get_args

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, DotEnvSettingsSource

from controller.config.problems import ConfigProblem

CLIENT_SLUG_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CLIENT_SLUG_RULE: Final = (
    "use 1 to 63 lower-case letters, digits and -, starting with a letter or digit, e.g. acme; it names the "
    "client file clients/<slug>.toml"
)
FILE_CHOOSERS: Final = ("client_slug", "clients_dir")
"""The variables that choose the client file, so they cannot be set inside it."""
_TOML_SCALARS: Final = (str, int, float, bool)


class ValueSource(StrEnum):
    """Where a shown value came from."""

    ENVIRONMENT = "environment"
    """Set in the process environment (or passed explicitly to `load_settings`)."""
    DOTENV = ".env file"
    """Set in the dotenv file."""
    CLIENT_FILE = "client file"
    """Set in `<CLIENTS_DIR>/<CLIENT_SLUG>.toml`."""
    DEFAULT = "default"
    """Not set; the documented default applies."""
    DERIVED = "derived"
    """Not set; the value follows from other variables (e.g. DEDUP_DB_PATH from AI_IMPLEMENT_ENV)."""


@dataclass(frozen=True)
class ValueOrigin:
    """The layer one value came from, with the file for the two layers that are files."""

    source: ValueSource
    path: Path | None = None

    def __str__(self) -> str:
        """`environment`, `.env file (.env)` or the client file's path, as `config check` shows it."""
        if self.source is ValueSource.DOTENV:
            return f"{self.source} ({self.path})"
        if self.source is ValueSource.CLIENT_FILE:
            return str(self.path)
        return str(self.source)


@dataclass(frozen=True)
class ClientFile:
    """The client file CLIENT_SLUG names, and whether it was there to be read."""

    slug: str
    path: Path
    found: bool


@dataclass(frozen=True)
class Layers:
    """The values of every layer merged by precedence, each with its origin, and the client file's faults."""

    values: dict[str, Any]
    origins: dict[str, ValueOrigin]
    client_file: ClientFile | None = None
    problems: list[ConfigProblem] = field(default_factory=list)


def is_secret(field_info: FieldInfo) -> bool:
    return field_info.annotation is SecretStr or SecretStr in get_args(field_info.annotation)


def is_client_slug(text: str) -> bool:
    return CLIENT_SLUG_PATTERN.fullmatch(text) is not None


def read_layers(settings_cls: type[BaseSettings], environ: Mapping[str, str], env_file: str | Path | None) -> Layers:
    """Merge the environment over the dotenv file over the client file, keeping where each value came from.

    Names match in any letter case, empty values count as unset and names that are no setting are
    ignored, in the environment and the dotenv file alike. The client file is read when CLIENT_SLUG
    (from either) is a valid slug; a missing file is no error, since a deployment may set CLIENT_SLUG
    only to label its logs and notifications. An invalid slug is left for the field's own check.
    """
    fields = settings_cls.model_fields
    environment = {name.lower(): value for name, value in environ.items() if value and name.lower() in fields}
    dotenv_values = DotEnvSettingsSource(settings_cls, env_file=env_file)()
    dotenv = {name: value for name, value in dotenv_values.items() if name in fields}
    above = {**dotenv, **environment}
    origins = {name: ValueOrigin(ValueSource.DOTENV, Path(str(env_file))) for name in dotenv}
    origins.update({name: ValueOrigin(ValueSource.ENVIRONMENT) for name in environment})

    slug = str(above.get("client_slug", "")).strip()
    if not is_client_slug(slug):
        return Layers(above, origins)
    clients_dir = Path(str(above.get("clients_dir", fields["clients_dir"].default)).strip())
    path = clients_dir / f"{slug}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Layers(above, origins, ClientFile(slug, path, found=False))
    except (OSError, UnicodeDecodeError) as error:
        problem = ConfigProblem("CLIENT_SLUG", f"{path}: the client file cannot be read: {error}.")
        return Layers(above, origins, ClientFile(slug, path, found=True), [problem])
    from_file, problems = parse_client_file(path, text, fields)
    origin = ValueOrigin(ValueSource.CLIENT_FILE, path)
    origins.update({name: origin for name in from_file if name not in above})
    return Layers({**from_file, **above}, origins, ClientFile(slug, path, found=True), problems)


def parse_client_file(
    path: Path, text: str, fields: Mapping[str, FieldInfo]
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """The settings the client file at `path` gives, by field name, and every fault of it, each naming it.

    A faulty entry is left out and reported; the others still apply, so that one `config check`
    lists the faults of the file and of the other variables at once. No message quotes a value: a
    secret may sit under a misspelt or forbidden name.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return {}, [
            ConfigProblem(
                "CLIENT_SLUG",
                f"{path}: not valid TOML: {error}. Write one `NAME = value` line per variable, e.g. "
                'POLL_INTERVAL_MS = 30000 or AI_IMPLEMENT_LABEL = "AI-Implement".',
            )
        ]
    values: dict[str, Any] = {}
    problems = []
    for key, value in document.items():
        name = key.lower()
        problem = _entry_problem(path, key, value, fields)
        if problem is None and name in values:
            problem = f"{path}: {key.upper()} is set twice (names match in any letter case): keep one of them."
        if problem is None:
            values[name] = value
        else:
            problems.append(ConfigProblem(key.upper(), problem))
    return values, problems


def _entry_problem(path: Path, key: str, value: object, fields: Mapping[str, FieldInfo]) -> str | None:
    variable = key.upper()
    if isinstance(value, dict):
        return (
            f"{path}: [{key}] is a table, but a client file is flat: write `NAME = value` lines at the top, "
            "without [sections]."
        )
    if key.lower() in FILE_CHOOSERS:
        return (
            f"{path}: {variable} may not be set in a client file, because it chooses the file: set it in the "
            "environment (on Kubernetes, in the client's overlay)."
        )
    field_info = fields.get(key.lower())
    if field_info is None:
        close = difflib.get_close_matches(variable, [name.upper() for name in fields], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return (
            f"{path}: {key} is not a variable the controller reads{hint}: a client file sets the variables of "
            "the reference in docs/configuration.md, under the same names."
        )
    if is_secret(field_info):
        return (
            f"{path}: {variable} is a secret and may not be set in a client file, which is committed to the "
            "repository (value not shown): remove it, set it in the environment from a Kubernetes Secret (or "
            "`fly secrets set`), and rotate it if the file was ever pushed."
        )
    if not isinstance(value, _TOML_SCALARS):
        return (
            f"{path}: {variable} is a TOML {type(value).__name__}, but every variable takes a single value: "
            'write a string, a number or true/false, e.g. FLY_SESSIONS_REGION = "iad".'
        )
    return None
