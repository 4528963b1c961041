"""The specification's secret naming rules, table-driven, no I/O."""

from __future__ import annotations

import pytest

from controller.secrets import (
    SecretNameError,
    check_global_secret_name,
    check_secret_name,
    global_secret_names,
    names_by_owner,
    owning_team,
    runner_environment,
    stored_team_secret_name,
    team_secret_names,
)

TEAMS = ["ENG", "ENG_OPS", "PAY"]
STORED = ["ENG_TOKEN", "ENG_OPS_PAGER", "PAY_KEY", "SHARED", "ANTHROPIC_API_KEY", "ENGINE_X"]


@pytest.mark.parametrize("name", ["A", "_A", "MY_TOKEN", "token2", "x" * 128])
def test_accepted_names(name: str) -> None:
    check_secret_name(name)


@pytest.mark.parametrize("name", ["", "2FA", "MY-TOKEN", "MY TOKEN", "ÄPFEL", "x" * 129, "A.B"])
def test_refused_names(name: str) -> None:
    with pytest.raises(SecretNameError, match="letters, digits and underscores"):
        check_secret_name(name)


def test_team_secrets_carry_the_team_prefix() -> None:
    assert stored_team_secret_name("ENG", "MY_TOKEN") == "ENG_MY_TOKEN"
    with pytest.raises(SecretNameError):
        stored_team_secret_name("ENG", "MY-TOKEN")


@pytest.mark.parametrize(
    ("stored", "owner"),
    [("ENG_TOKEN", "ENG"), ("ENG_OPS_PAGER", "ENG_OPS"), ("ENGINE_X", None), ("SHARED", None), ("PAY_KEY", "PAY")],
)
def test_the_longest_team_prefix_owns_a_name(stored: str, owner: str | None) -> None:
    assert owning_team(stored, TEAMS) == owner


def test_listings_split_by_owner() -> None:
    assert team_secret_names(STORED, "ENG", TEAMS) == ["TOKEN"]
    assert team_secret_names(STORED, "ENG_OPS", TEAMS) == ["PAGER"]
    assert global_secret_names(STORED, TEAMS) == ["ANTHROPIC_API_KEY", "ENGINE_X", "SHARED"]


def test_one_pass_splits_every_name_by_owner_as_the_listings_do() -> None:
    owned = names_by_owner(STORED, TEAMS)
    assert owned == {
        None: global_secret_names(STORED, TEAMS),
        "ENG": team_secret_names(STORED, "ENG", TEAMS),
        "ENG_OPS": team_secret_names(STORED, "ENG_OPS", TEAMS),
        "PAY": team_secret_names(STORED, "PAY", TEAMS),
    }


@pytest.mark.parametrize(("name", "team"), [("ENG_X", "ENG"), ("ENG_OPS_X", "ENG_OPS"), ("PAY_", "PAY")])
def test_global_names_may_not_start_with_a_team_prefix(name: str, team: str) -> None:
    with pytest.raises(SecretNameError, match=f"starts with {team}_"):
        check_global_secret_name(name, TEAMS)


@pytest.mark.parametrize("name", ["ENGINE_X", "SHARED", "PAYMENTS"])
def test_global_names_that_only_look_alike_are_fine(name: str) -> None:
    check_global_secret_name(name, TEAMS)


def test_a_team_secret_may_not_land_in_a_longer_teams_scope() -> None:
    with pytest.raises(SecretNameError, match="belongs to project ENG_OPS"):
        stored_team_secret_name("ENG", "OPS_TOKEN", TEAMS)
    assert stored_team_secret_name("ENG", "OPSX_TOKEN", TEAMS) == "ENG_OPSX_TOKEN"


def test_a_run_gets_the_global_secrets_and_its_teams_under_their_short_names() -> None:
    stored = {
        "SHARED": "global",
        "TOKEN": "global-token",
        "ENG_TOKEN": "eng-token",
        "ENG_OPS_TOKEN": "eng-ops-token",
        "OPS_KEY": "ops-key",
    }

    assert runner_environment(stored, "ENG", ["ENG", "ENG_OPS", "OPS"]) == {"SHARED": "global", "TOKEN": "eng-token"}
    assert runner_environment(stored, "ENG_OPS", ["ENG", "ENG_OPS", "OPS"]) == {
        "SHARED": "global",
        "TOKEN": "eng-ops-token",
    }
