"""The `ai-implement` command as a user runs it: a real process with a real environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.dev.main import dev_metrics_port, dev_port
from controller.github.trigger_secrets import repository_trigger_secret
from controller.resources import ALL_KINDS

SECRET = "lin_api_do-not-print-me-0123456789"


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


KUBECONFIG_TEXT = """
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: local, user: {token: not-used}}]
contexts: [{name: local, context: {cluster: local, user: local}}]
current-context: local
"""


def working_environment(tmp_path: Path, rsa_key_pem: str) -> dict[str, str]:
    """What an operator sets: the GitHub App, Linear, an access code and a kubeconfig (never dialled here)."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG_TEXT)
    return {
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_PRIVATE_KEY": rsa_key_pem.replace("\n", "\\n"),
        "LINEAR_API_KEY": SECRET,
        "ADMIN_ACCESS_CODE": "hunter2-hunter2",
        "KUBECONFIG": str(kubeconfig),
        "DEDUP_DB_PATH": str(tmp_path / "dedup.sqlite"),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }


def test_config_check_redacts_secrets_and_passes_with_a_working_set(tmp_path: Path, rsa_key_pem: str) -> None:
    env = working_environment(tmp_path, rsa_key_pem)
    result = _run("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration is valid" in result.stdout
    assert "LINEAR_API_KEY" in result.stdout
    for secret in (SECRET, "hunter2-hunter2", "PRIVATE KEY"):
        assert secret not in result.stdout + result.stderr


def test_config_check_names_each_bad_variable_and_fails(tmp_path: Path) -> None:
    env = {
        "RUNNER_MODE": "turbo",
        "NOTIFY_TYPE": "pager",
        "PORT": "http",
        "RUNNER_CALLBACK_BASE_URL": "https://ai.example.com",
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    result = _run("config", "check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    for variable in ("RUNNER_MODE", "NOTIFY_TYPE", "PORT", "RUNNER_TOKEN_SECRET"):
        assert any(line.startswith("error:") and variable in line for line in result.stdout.splitlines()), variable


@pytest.mark.parametrize("command", [("api",), ("operator",), ("config", "check")])
def test_a_kubeconfig_that_is_not_there_is_one_line_naming_kubeconfig_and_its_path(
    tmp_path: Path, rsa_key_pem: str, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "nowhere" / "config"
    env = {**working_environment(tmp_path, rsa_key_pem), "KUBECONFIG": str(missing)}
    result = _run(*command, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [
        line.split(None, 1)[1] for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")
    ]
    assert errors == [
        f"KUBECONFIG={missing} names a file that does not exist: point KUBECONFIG at your cluster's "
        "kubeconfig, or unset it to use the pod's service account or ~/.kube/config"
    ]


def test_a_kubeconfig_that_is_not_a_kubeconfig_is_named_with_its_path(tmp_path: Path, rsa_key_pem: str) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    env = {**working_environment(tmp_path, rsa_key_pem), "KUBECONFIG": str(broken)}
    result = _run("api", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: KUBECONFIG={broken}: kubeconfig {broken} is not usable")


def test_crds_prints_every_definition() -> None:
    result = _run("crds", env={"PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["spec"]["names"]["kind"] for d in documents} == {k.kind for k in ALL_KINDS}


def test_db_upgrade_creates_the_sqlite_store_where_dedup_db_path_says(tmp_path: Path) -> None:
    target = tmp_path / "data" / "dedup.sqlite"
    env = {"DEDUP_DB_PATH": str(target), "PYTHONPATH": str(Path(__file__).parents[2])}
    first = _run("db", "upgrade", env=env, cwd=tmp_path)
    second = _run("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert target.exists()
    assert "newest schema" in second.stdout


def test_db_upgrade_refuses_a_bad_database_url_without_echoing_it(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "mysql://root:s3cret@db/x", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = _run("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_dev_listens_on_port_unless_told_otherwise() -> None:
    assert dev_port(None, {}) == 8080
    assert dev_port(None, {"PORT": "9123"}) == 9123
    assert dev_port(9200, {"PORT": "9123"}) == 9200, "--port wins over PORT"
    assert dev_metrics_port({}) == 9090
    assert dev_metrics_port({"METRICS_PORT": "9124"}) == 9124


def test_dev_refuses_a_bad_port_in_one_line_before_starting_anything(tmp_path: Path) -> None:
    result = _run(
        "dev", "--work-dir", str(tmp_path / "work"), env={"PORT": "http", "PYTHONPATH": str(Path(__file__).parents[2])}
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: PORT='http' is not a whole number: use a port number from 1 to 65535 (the default is 8080)."
    ]
    assert not (tmp_path / "work").exists()


def test_what_make_dev_leaves_in_the_work_tree_is_ignored_by_git() -> None:
    root = Path(__file__).parents[2]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", ".ai-implement-dev/dev.sqlite"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git does not ignore .ai-implement-dev/: {result.stdout}{result.stderr}"


def test_an_operator_port_in_use_is_one_error_line_and_exit_1(tmp_path: Path, rsa_key_pem: str) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the operator binds every interface; so must the squatter
        taken.listen()
        port = taken.getsockname()[1]
        env = {**working_environment(tmp_path, rsa_key_pem), "OPERATOR_PORT": str(port), "LOG_LEVEL": "ERROR"}
        result = _run("operator", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: cannot serve /metrics on OPERATOR_PORT={port}: ")


def test_the_runner_subcommand_names_every_missing_variable_and_exits_2() -> None:
    result = _run("runner", env={"PYTHONPATH": str(Path(__file__).parents[2])})

    assert result.returncode == 2
    for variable in ("AI_IMPLEMENT_DISPATCH", "AI_IMPLEMENT_KIND", "AI_IMPLEMENT_REPO", "AI_IMPLEMENT_CALLBACK_URL"):
        assert f"{variable} is not set" in result.stderr


def test_gap_fill_secret_prints_each_repositorys_own(tmp_path: Path) -> None:
    env = {"GAP_FILL_TRIGGER_SECRET": "the-controllers-key", "PYTHONPATH": str(Path(__file__).parents[2])}

    result = _run("gap-fill-secret", "acme/web", "acme/api", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"acme/web {repository_trigger_secret('the-controllers-key', 'acme/web')}",
        f"acme/api {repository_trigger_secret('the-controllers-key', 'acme/api')}",
    ]


def test_gap_fill_secret_names_what_is_missing_or_wrong(tmp_path: Path) -> None:
    path = {"PYTHONPATH": str(Path(__file__).parents[2])}

    unset = _run("gap-fill-secret", "acme/web", env=path, cwd=tmp_path)
    malformed = _run("gap-fill-secret", "acme", env={**path, "GAP_FILL_TRIGGER_SECRET": "k"}, cwd=tmp_path)

    assert (unset.returncode, malformed.returncode) == (2, 2)
    assert "GAP_FILL_TRIGGER_SECRET is not set" in unset.stderr
    assert "OWNER/NAME" in malformed.stderr
    assert unset.stdout == malformed.stdout == ""


def test_in_production_short_secrets_and_plain_http_trust_anchors_refuse_to_start(
    tmp_path: Path, rsa_key_pem: str
) -> None:
    env = working_environment(tmp_path, rsa_key_pem) | {
        "AI_IMPLEMENT_ENV": "production",
        "ADMIN_ACCESS_CODE": "short-code",
        "RUNNER_TOKEN_SECRET": "also-short",
        "GITHUB_WEBHOOK_SECRET": "a-webhook-secret-long-enough",
        "RUNNER_CALLBACK_BASE_URL": "http://ai.example.com",
        "GITHUB_OIDC_ISSUER": "http://127.0.0.1:9000/oidc",
    }

    check = _run("config", "check", env=env, cwd=tmp_path)
    api = _run("api", env=env, cwd=tmp_path)
    operator = _run("operator", env=env, cwd=tmp_path)

    assert check.returncode == 1
    errors = [line for line in check.stdout.splitlines() if line.startswith("error:")]
    for variable in ("ADMIN_ACCESS_CODE", "RUNNER_TOKEN_SECRET", "RUNNER_CALLBACK_BASE_URL"):
        assert any(variable in line for line in errors), variable
    assert not any("GITHUB_WEBHOOK_SECRET" in line or "GITHUB_OIDC_ISSUER" in line for line in errors), (
        "long enough, and http on loopback"
    )
    for refused in (api, operator):
        assert refused.returncode == 1
        assert "ADMIN_ACCESS_CODE is shorter than 16 characters" in refused.stderr
        assert "short-code" not in refused.stderr + refused.stdout
    development = _run("config", "check", env=env | {"AI_IMPLEMENT_ENV": "development"}, cwd=tmp_path)
    assert development.returncode == 0, development.stdout
