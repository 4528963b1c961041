"""The specification's naming rules for runner secrets, as pure functions.

A team secret `MY_TOKEN` of team `ENG` is stored as `ENG_MY_TOKEN`; a global secret may not start
with any team's prefix, so that every stored name has exactly one reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretNameError(ValueError):
    """A secret name the rules refuse; the message says which rule and how to fix it."""


def check_secret_name(name: str) -> None:
    if not _SECRET_NAME.fullmatch(name):
        raise SecretNameError(
            f"secret name {name!r} is invalid: use only letters, digits and underscores, not starting with a "
            "digit (it becomes an environment variable), at most 128 characters"
        )


def stored_team_secret_name(team_key: str, name: str, team_keys: Iterable[str] = ()) -> str:
    """The name under which a team's secret is stored; it must read back as this team's.

    With teams ENG and ENG_OPS, ENG's `OPS_TOKEN` would be stored as `ENG_OPS_TOKEN`, which is
    ENG_OPS's `TOKEN`: refused.
    """
    check_secret_name(name)
    stored = f"{team_key}_{name}"
    owner = owning_team(stored, {*team_keys, team_key})
    if owner is not None and owner != team_key:
        raise SecretNameError(
            f"secret name {name!r} of project {team_key} would be stored as {stored}, which belongs to project "
            f"{owner}: choose a name that does not start with {owner.removeprefix(team_key + '_')}_"
        )
    return stored


def check_global_secret_name(name: str, team_keys: Iterable[str]) -> None:
    """A global name must not look like any team's secret."""
    check_secret_name(name)
    team_key = owning_team(name, team_keys)
    if team_key is not None:
        raise SecretNameError(
            f"global secret name {name!r} starts with {team_key}_, the prefix of project {team_key}'s "
            f"secrets: choose a name without a project prefix, or set it as a secret of {team_key}"
        )


def owning_team(stored_name: str, team_keys: Iterable[str]) -> str | None:
    """The team a stored name belongs to: the longest team key that prefixes it (ENG_OPS over ENG).

    Looks up each prefix that ends before an underscore, so the cost is the name's length, not the
    number of teams.
    """
    keys = team_keys if isinstance(team_keys, set | frozenset) else set(team_keys)
    position = stored_name.rfind("_")
    while position > 0:
        if stored_name[:position] in keys:
            return stored_name[:position]
        position = stored_name.rfind("_", 0, position)
    return None


def names_by_owner(stored_names: Iterable[str], team_keys: Iterable[str]) -> dict[str | None, list[str]]:
    """Every stored name under its owning team (None: global), a team's without its prefix; sorted."""
    keys = set(team_keys)
    owned: dict[str | None, list[str]] = {}
    for name in sorted(stored_names):
        owner = owning_team(name, keys)
        owned.setdefault(owner, []).append(name if owner is None else name[len(owner) + 1 :])
    return {owner: sorted(names) for owner, names in owned.items()}


def team_secret_names(stored_names: Iterable[str], team_key: str, team_keys: Iterable[str]) -> list[str]:
    """A team's secrets as the team sees them: without the prefix, sorted."""
    keys = set(team_keys) | {team_key}
    prefix = f"{team_key}_"
    return sorted(name[len(prefix) :] for name in stored_names if owning_team(name, keys) == team_key)


def global_secret_names(stored_names: Iterable[str], team_keys: Iterable[str]) -> list[str]:
    """Stored names that belong to no team, sorted."""
    keys = set(team_keys)
    return sorted(name for name in stored_names if owning_team(name, keys) is None)


def runner_environment(stored: Mapping[str, str], team_key: str, team_keys: Iterable[str]) -> dict[str, str]:
    """The secrets a team's run receives: the global ones, then the team's own under their short names.

    A team secret wins over a global secret of the same short name, as the more specific setting.
    """
    keys = set(team_keys) | {team_key}
    environment = {name: stored[name] for name in global_secret_names(stored, keys)}
    prefix = f"{team_key}_"
    for name in team_secret_names(stored, team_key, keys):
        environment[name] = stored[prefix + name]
    return environment
