"""GET /api/pipelines-steps, GET /api/customizations and `config check` over what CUSTOM_DIR holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.api_fixtures import Api, ApiFactory
from tests.unit.test_cli import _run, working_environment

STEP = "async def run(context):\n    return None\n"
BUILTIN_PIPELINES = ["gap-fill", "implementation", "planning", "review"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def started(start_api: ApiFactory, custom: Path) -> tuple[Api, dict[str, str]]:
    api = await start_api(env={"CUSTOM_DIR": str(custom)})
    return api, await api.login()


async def get(api: Api, headers: dict[str, str], path: str) -> dict[str, object]:
    response = await api.client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, object] = await response.json()
    return body


def by_key(rows: object, key: str) -> dict[str, dict[str, object]]:
    assert isinstance(rows, list)
    return {row[key]: row for row in rows}


async def test_without_a_custom_directory_everything_is_built_in(start_api: ApiFactory, tmp_path: Path) -> None:
    api, headers = await started(start_api, tmp_path / "custom")

    listing = await get(api, headers, "/api/pipelines-steps")
    files = await get(api, headers, "/api/customizations")

    pipelines = by_key(listing["pipelines"], "name")
    assert sorted(pipelines) == BUILTIN_PIPELINES
    assert {row["status"] for row in pipelines.values()} == {"builtin"}
    implementation = pipelines["implementation"]
    assert implementation["builtinPath"] == "controller/pipelines/implementation.yml"
    assert (implementation["customPath"], implementation["problem"]) == (None, None)
    assert implementation["description"]
    assert implementation["steps"][0] == {"id": "checkout", "module": "controller/runner/steps/checkout.py"}
    assert implementation["steps"][-1] == {
        "id": "open-pull-request",
        "module": "controller/runner/steps/open_pull_request.py",
    }
    steps = by_key(listing["steps"], "id")
    assert steps["checkout"] == {
        "id": "checkout",
        "builtinPath": "controller/runner/steps/checkout.py",
        "customPath": None,
        "status": "builtin",
        "problem": None,
        "usedBy": BUILTIN_PIPELINES,
    }
    assert steps["plan"]["usedBy"] == ["planning"]
    assert "work" not in steps, "a module starting with _ is a helper, not a step"
    providers = by_key(listing["providers"], "id")
    assert providers["claude-code"] == {
        "id": "claude-code",
        "builtinPath": "controller/runner/providers/claude_code.py",
        "customPath": None,
        "status": "builtin",
        "problem": None,
    }
    assert listing["customDir"] == str(tmp_path / "custom")
    assert listing["problems"] == []
    assert files == {"customDir": str(tmp_path / "custom"), "exists": False, "files": [], "problems": []}


async def test_overrides_and_additions_show_what_they_replace(start_api: ApiFactory, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    write(custom / "README.md", "what this directory is for\n")
    write(custom / "steps" / ".gitkeep", "")
    write(custom / "steps" / "run_checks.py", STEP)
    write(custom / "steps" / "lint.py", STEP)
    write(custom / "pipelines" / "review.yml", "description: Ours.\nsteps: [checkout, address-review, lint, push]\n")
    write(custom / "pipelines" / "hotfix.yml", "description: A quick fix.\nsteps: [checkout, implement, lint]\n")
    write(custom / "prompts" / "house-style.md", "Be brief.\n")
    api, headers = await started(start_api, custom)

    listing = await get(api, headers, "/api/pipelines-steps")
    files = await get(api, headers, "/api/customizations")

    pipelines = by_key(listing["pipelines"], "name")
    assert sorted(pipelines) == ["gap-fill", "hotfix", "implementation", "planning", "review"]
    review = pipelines["review"]
    assert (review["status"], review["description"]) == ("override", "Ours.")
    assert (review["builtinPath"], review["customPath"]) == (
        "controller/pipelines/review.yml",
        "custom/pipelines/review.yml",
    )
    assert review["steps"] == [
        {"id": "checkout", "module": "controller/runner/steps/checkout.py"},
        {"id": "address-review", "module": "controller/runner/steps/address_review.py"},
        {"id": "lint", "module": "custom/steps/lint.py"},
        {"id": "push", "module": "controller/runner/steps/push.py"},
    ]
    hotfix = pipelines["hotfix"]
    assert (hotfix["status"], hotfix["builtinPath"], hotfix["customPath"]) == (
        "additive",
        None,
        "custom/pipelines/hotfix.yml",
    )
    steps = by_key(listing["steps"], "id")
    assert steps["lint"] == {
        "id": "lint",
        "builtinPath": None,
        "customPath": "custom/steps/lint.py",
        "status": "additive",
        "problem": None,
        "usedBy": ["hotfix", "review"],
    }
    assert (steps["run-checks"]["status"], steps["run-checks"]["customPath"]) == (
        "override",
        "custom/steps/run_checks.py",
    )
    assert pipelines["implementation"]["steps"][3] == {"id": "run-checks", "module": "custom/steps/run_checks.py"}
    assert steps["run-checks"]["usedBy"] == ["gap-fill", "implementation"], "the custom review drops it"
    assert listing["problems"] == []

    assert (files["customDir"], files["exists"], files["problems"]) == (str(custom), True, [])
    rows = by_key(files["files"], "path")
    assert list(rows) == [
        "custom/pipelines/hotfix.yml",
        "custom/pipelines/review.yml",
        "custom/prompts/house-style.md",
        "custom/steps/lint.py",
        "custom/steps/run_checks.py",
    ]
    shadowing = rows["custom/steps/run_checks.py"]
    assert (shadowing["category"], shadowing["status"], shadowing["upstream"]) == (
        "step",
        "override",
        "controller/runner/steps/run_checks.py",
    )
    assert (shadowing["size"], shadowing["problem"]) == (len(STEP), None)
    assert str(shadowing["modifiedAt"]).endswith("Z")
    assert rows["custom/pipelines/review.yml"]["upstream"] == "controller/pipelines/review.yml"
    assert (rows["custom/pipelines/hotfix.yml"]["status"], rows["custom/pipelines/hotfix.yml"]["upstream"]) == (
        "additive",
        None,
    )
    assert (rows["custom/prompts/house-style.md"]["category"], rows["custom/prompts/house-style.md"]["status"]) == (
        "other",
        "other",
    )


async def test_bad_custom_files_are_listed_with_their_fault_not_a_server_error(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    custom = tmp_path / "custom"
    write(custom / "pipelines" / "implementation.yml", "steps: [checkout\n")
    write(custom / "steps" / "lint.py", "def run(context):\n    pass\n")
    api, headers = await started(start_api, custom)

    listing = await get(api, headers, "/api/pipelines-steps")
    files = await get(api, headers, "/api/customizations")

    implementation = by_key(listing["pipelines"], "name")["implementation"]
    assert implementation["status"] == "override"
    assert str(implementation["problem"]).startswith("is not valid YAML")
    lint = by_key(listing["steps"], "id")["lint"]
    assert str(lint["problem"]).startswith("does not implement the step interface")
    assert lint["usedBy"] == []
    problems = listing["problems"]
    assert isinstance(problems, list)
    assert sorted(problem.split(": ", 2)[:2] for problem in problems) == [
        ["custom/pipelines/implementation.yml", "is not valid YAML"],
        ["custom/steps/lint.py", "does not implement the step interface"],
    ]
    assert files["problems"] == problems
    rows = by_key(files["files"], "path")
    assert rows["custom/pipelines/implementation.yml"]["problem"] == implementation["problem"]
    assert rows["custom/steps/lint.py"]["problem"] == lint["problem"]


async def test_a_custom_dir_that_is_a_file_is_one_problem(start_api: ApiFactory, tmp_path: Path) -> None:
    not_a_directory = write(tmp_path / "custom", "oops\n")
    api, headers = await started(start_api, not_a_directory)

    files = await get(api, headers, "/api/customizations")

    assert (files["exists"], files["files"]) == (False, [])
    assert files["problems"] == [f"{not_a_directory} is not a directory: no customizations are used"]


@pytest.mark.parametrize("path", ["/api/pipelines-steps", "/api/customizations"])
async def test_both_are_admin_only(start_api: ApiFactory, api: Api, path: str) -> None:
    assert (await api.client.get(path)).status == 401
    disabled = await start_api(env={"ADMIN_ACCESS_CODE": None})
    assert (await disabled.client.get(path)).status == 404


def test_config_check_names_each_bad_custom_file_and_fails(tmp_path: Path, rsa_key_pem: str) -> None:
    env = working_environment(tmp_path, rsa_key_pem)
    write(tmp_path / "custom" / "steps" / "lint.py", "async def run():\n    pass\n")
    write(tmp_path / "custom" / "pipelines" / "review.yml", "steps: [checkout, deploy]\n")

    result = _run("config", "check", env=env, cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == [
        "custom/pipelines/review.yml: names unknown steps: deploy",
        "custom/steps/lint.py: does not implement the step interface: it needs `async def run(context)` at the "
        "top level, taking the step context",
    ]
    assert "Configuration is invalid (2 errors" in result.stdout


def test_config_check_is_quiet_about_good_custom_files(tmp_path: Path, rsa_key_pem: str) -> None:
    env = {**working_environment(tmp_path, rsa_key_pem), "CUSTOM_DIR": str(tmp_path / "ours")}
    write(tmp_path / "ours" / "steps" / "lint.py", STEP)

    result = _run("config", "check", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "error:" not in result.stdout
    [shown] = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("CUSTOM_DIR ")]
    assert shown == ["CUSTOM_DIR", str(tmp_path / "ours"), "environment"]
