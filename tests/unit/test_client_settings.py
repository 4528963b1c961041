"""Many clients from one repository: `clients/<CLIENT_SLUG>.toml` read under the environment and `.env`,
every fault of the file named with the file, and `config check` showing where each value came from."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from controller.config import (
    ClientFile,
    ConfigProblem,
    ConfigurationError,
    Settings,
    ValueOrigin,
    ValueSource,
    effective_configuration,
    load_settings,
    operational_problems,
    render_config_check,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "clients" / "example.toml"
SECRET_VARIABLES = sorted(
    name.upper() for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
)


def client_file(tmp_path: Path, text: str, slug: str = "acme") -> Path:
    path = tmp_path / "clients" / f"{slug}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def client_environ(tmp_path: Path, text: str, environ: dict[str, str]) -> dict[str, str]:
    """`environ` choosing the client file `acme`, written with `text` under tmp_path/clients."""
    client_file(tmp_path, text)
    return {"CLIENT_SLUG": "acme", "CLIENTS_DIR": str(tmp_path / "clients"), **environ}


def load_client(tmp_path: Path, text: str, *, env_file: Path | None = None, **environ: str) -> Settings:
    return load_settings(client_environ(tmp_path, text, environ), env_file=env_file)


def client_problems(tmp_path: Path, text: str, **environ: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(client_environ(tmp_path, text, environ), env_file=None)
    return caught.value.problems


# Precedence


def test_the_client_file_sets_its_variables_in_their_types(tmp_path: Path) -> None:
    settings = load_client(
        tmp_path,
        'POLL_INTERVAL_MS = 30000\nAI_IMPLEMENT_LABEL = "AI-Acme"\nREAPER_DRY_RUN = true\nNOTIFY_TYPE = "Teams"\n'
        'custom_dir = "acme-custom"\n',
    )

    assert settings.poll_interval_ms == 30000
    assert settings.ai_implement_label == "AI-Acme"
    assert settings.reaper_dry_run is True
    assert settings.notify_type == "teams"
    assert settings.custom_dir == Path("acme-custom")
    assert settings.client_file == ClientFile("acme", tmp_path / "clients" / "acme.toml", found=True)


def test_the_environment_beats_the_client_file_which_beats_the_default(tmp_path: Path) -> None:
    settings = load_client(tmp_path, "PORT = 9000\nPOLL_INTERVAL_MS = 30000\n", PORT="9100")

    assert (settings.port, settings.poll_interval_ms, settings.operator_port) == (9100, 30000, 8081)
    assert settings.origin_of("PORT") == ValueOrigin(ValueSource.ENVIRONMENT)
    assert settings.origin_of("POLL_INTERVAL_MS") == ValueOrigin(
        ValueSource.CLIENT_FILE, tmp_path / "clients" / "acme.toml"
    )
    assert settings.origin_of("OPERATOR_PORT") is None


def test_the_dotenv_file_beats_the_client_file_and_may_choose_it(tmp_path: Path) -> None:
    client_file(tmp_path, "PORT = 9000\nPOLL_INTERVAL_MS = 30000\nLOG_LEVEL = 'ERROR'\n")
    env_file = tmp_path / ".env"
    env_file.write_text(f"CLIENT_SLUG=acme\nCLIENTS_DIR={tmp_path / 'clients'}\nPORT=9200\nLOG_LEVEL=WARNING\n")

    settings = load_settings({"LOG_LEVEL": "DEBUG"}, env_file=env_file)

    assert (settings.port, settings.poll_interval_ms, settings.log_level) == (9200, 30000, "DEBUG")
    assert settings.origin_of("PORT") == ValueOrigin(ValueSource.DOTENV, env_file)
    assert settings.origin_of("CLIENT_SLUG") == ValueOrigin(ValueSource.DOTENV, env_file)
    assert settings.origin_of("LOG_LEVEL") == ValueOrigin(ValueSource.ENVIRONMENT)


def test_an_empty_environment_value_does_not_hide_the_client_files(tmp_path: Path) -> None:
    assert load_client(tmp_path, "PORT = 9000\n", PORT="").port == 9000


def test_clients_dir_defaults_to_clients_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_file(tmp_path, "POLL_INTERVAL_MS = 30000\n")
    monkeypatch.chdir(tmp_path)

    settings = load_settings({"CLIENT_SLUG": "acme"}, env_file=None)

    assert settings.poll_interval_ms == 30000
    assert settings.origin_of("POLL_INTERVAL_MS") == ValueOrigin(ValueSource.CLIENT_FILE, Path("clients/acme.toml"))


def test_without_client_slug_no_client_file_is_read(tmp_path: Path) -> None:
    client_file(tmp_path, "POLL_INTERVAL_MS = 30000\n")

    settings = load_settings({"CLIENTS_DIR": str(tmp_path / "clients")}, env_file=None)

    assert (settings.poll_interval_ms, settings.client_file) == (60000, None)


def test_a_missing_client_file_is_no_error_because_the_slug_may_only_label_logs(tmp_path: Path) -> None:
    settings = load_settings({"CLIENT_SLUG": "globex", "CLIENTS_DIR": str(tmp_path / "clients")}, env_file=None)

    assert settings.client_slug == "globex"
    assert settings.client_file == ClientFile("globex", tmp_path / "clients" / "globex.toml", found=False)
    assert settings.poll_interval_ms == 60000


def test_a_value_from_the_client_file_counts_as_set_by_the_deployment(tmp_path: Path) -> None:
    """Like the environment, it locks what the admin API could otherwise override (RUNNER_MODE, Fly settings)."""
    settings = load_client(tmp_path, 'FLY_SESSIONS_REGION = "ams"\n')

    assert settings.explicitly_set("FLY_SESSIONS_REGION")
    assert not settings.explicitly_set("RUNNER_MODE")


# Faults, each naming the file


@pytest.mark.parametrize("slug", ["../acme", "Acme", "acme/x", "-acme", "acme.toml", "acme corp", "a" * 64])
def test_a_client_slug_that_is_not_a_slug_is_refused_before_any_file_is_read(tmp_path: Path, slug: str) -> None:
    (tmp_path / "acme.toml").write_text("NOT_A_VARIABLE = 1\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings({"CLIENT_SLUG": slug, "CLIENTS_DIR": str(tmp_path / "clients")}, env_file=None)

    [problem] = caught.value.problems
    assert problem.variable == "CLIENT_SLUG"
    assert problem.message.startswith(f"CLIENT_SLUG={slug.strip()!r} is not a client slug: use 1 to 63 lower-case")


@pytest.mark.parametrize("slug", ["acme", "acme-prod", "0", "a" * 63])
def test_slugs_of_lower_case_letters_digits_and_dashes_are_accepted(slug: str) -> None:
    assert load_settings({"CLIENT_SLUG": slug, "CLIENTS_DIR": "/nonexistent"}, env_file=None).client_slug == slug


def test_invalid_toml_is_reported_with_the_file_and_the_line(tmp_path: Path) -> None:
    [problem] = client_problems(tmp_path, 'AI_IMPLEMENT_LABEL = "AI-Acme"\nPOLL_INTERVAL_MS 30000\n')

    assert problem.variable == "CLIENT_SLUG"
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: not valid TOML: ")
    assert "line 2" in problem.message


def test_an_unknown_variable_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    [problem] = client_problems(tmp_path, "POLL_INTERVALMS = 30000\n")

    assert problem.variable == "POLL_INTERVALMS"
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: POLL_INTERVALMS is not a variable")
    assert "did you mean POLL_INTERVAL_MS?" in problem.message


@pytest.mark.parametrize("variable", SECRET_VARIABLES)
def test_a_secret_in_the_client_file_is_refused_without_quoting_it(tmp_path: Path, variable: str) -> None:
    [problem] = client_problems(tmp_path, f'{variable} = "the-secret-value-0123456789"\n')

    assert problem.variable == variable
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: {variable} is a secret and may not")
    assert "the-secret-value" not in problem.message


def test_a_secret_under_a_misspelt_name_is_not_quoted_either(tmp_path: Path) -> None:
    [problem] = client_problems(tmp_path, 'LINEAR_API_KY = "lin_api_the-secret-value"\n')

    assert "did you mean LINEAR_API_KEY?" in problem.message
    assert "the-secret-value" not in problem.message


@pytest.mark.parametrize("line", ['CLIENT_SLUG = "globex"', 'CLIENTS_DIR = "/elsewhere"', 'client_slug = "acme"'])
def test_the_variables_that_choose_the_file_cannot_be_set_in_it(tmp_path: Path, line: str) -> None:
    [problem] = client_problems(tmp_path, f"{line}\n")

    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: CLIENT")
    assert "may not be set in a client file, because it chooses the file" in problem.message


@pytest.mark.parametrize(
    ("text", "variable", "fragment"),
    [
        ("[service]\nPORT = 9000\n", "SERVICE", "[service] is a table, but a client file is flat"),
        ('NOTIFY_TYPE = ["slack", "teams"]\n', "NOTIFY_TYPE", "NOTIFY_TYPE is a TOML list"),
        ("AI_IMPLEMENT_ENV = 2024-01-01\n", "AI_IMPLEMENT_ENV", "AI_IMPLEMENT_ENV is a TOML date"),
        ("PORT = 9000\nport = 9001\n", "PORT", "PORT is set twice"),
    ],
)
def test_entries_that_are_not_one_variable_with_one_value_are_refused(
    tmp_path: Path, text: str, variable: str, fragment: str
) -> None:
    [problem] = client_problems(tmp_path, text)

    assert problem.variable == variable
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: {fragment}")


@pytest.mark.parametrize(
    ("text", "variable", "fragment"),
    [
        ('POLL_INTERVAL_MS = "soon"\n', "POLL_INTERVAL_MS", "POLL_INTERVAL_MS='soon' is not a whole number"),
        ("PORT = 70000\n", "PORT", "PORT=70000 is out of range"),
        ("REAPER_DRY_RUN = 2\n", "REAPER_DRY_RUN", "REAPER_DRY_RUN='2' is not a boolean"),
        ("AI_IMPLEMENT_LABEL = true\n", "AI_IMPLEMENT_LABEL", "AI_IMPLEMENT_LABEL is not valid"),
        ('RUNNER_MODE = "docker"\n', "RUNNER_MODE", "RUNNER_MODE='docker' is not an accepted value"),
    ],
)
def test_a_bad_value_gets_the_usual_message_prefixed_with_the_file(
    tmp_path: Path, text: str, variable: str, fragment: str
) -> None:
    [problem] = client_problems(tmp_path, text)

    assert problem.variable == variable
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: {fragment}")


def test_a_bad_value_from_the_environment_names_no_file(tmp_path: Path) -> None:
    [problem] = client_problems(tmp_path, "POLL_INTERVAL_MS = 30000\n", PORT="70000")

    assert problem.message.startswith("PORT=70000 is out of range")


def test_every_fault_of_the_file_and_of_the_environment_is_reported_at_once(tmp_path: Path) -> None:
    problems = client_problems(
        tmp_path,
        'LINEAR_API_KEY = "k"\nPOLL_INTERVALMS = 1\nPOLL_INTERVAL_MS = "soon"\nAI_WORKING_LABEL = "AI-Busy"\n',
        PORT="0",
    )

    assert [problem.variable for problem in problems] == [
        "LINEAR_API_KEY",
        "POLL_INTERVALMS",
        "PORT",
        "POLL_INTERVAL_MS",
    ]


def test_a_client_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "clients" / "acme.toml").mkdir(parents=True)

    with pytest.raises(ConfigurationError) as caught:
        load_settings({"CLIENT_SLUG": "acme", "CLIENTS_DIR": str(tmp_path / "clients")}, env_file=None)

    [problem] = caught.value.problems
    assert problem.message.startswith(f"{tmp_path / 'clients' / 'acme.toml'}: the client file cannot be read")


# The example


def test_the_example_client_file_loads_cleanly_beside_its_deployments_secrets(rsa_key_pem: str) -> None:
    secrets = {
        "GITHUB_APP_ID": "123456",
        "GITHUB_APP_PRIVATE_KEY": rsa_key_pem,
        "LINEAR_API_KEY": "lin_api_example",
        "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/example",
    }

    settings = load_settings({"CLIENT_SLUG": "example", "CLIENTS_DIR": str(EXAMPLE.parent), **secrets}, env_file=None)

    assert settings.client_file == ClientFile("example", EXAMPLE, found=True)
    assert settings.warnings == []
    assert operational_problems(settings) == []
    example = tomllib.loads(EXAMPLE.read_text())
    assert example, "the example sets nothing"
    for variable in example:
        assert settings.origin_of(variable) == ValueOrigin(ValueSource.CLIENT_FILE, EXAMPLE), variable


# What `config check` shows


def test_each_entry_shows_the_layer_its_value_came_from(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=debug\n")
    settings = load_client(
        tmp_path, "POLL_INTERVAL_MS = 30000\nAI_IMPLEMENT_ENV = 'production'\n", env_file=env_file, PORT="9100"
    )

    entries = {entry.variable: entry for entry in effective_configuration(settings)}

    shown = {
        variable: (entries[variable].value, entries[variable].source, entries[variable].origin)
        for variable in ("PORT", "LOG_LEVEL", "POLL_INTERVAL_MS", "AI_IMPLEMENT_ENV", "DEDUP_DB_PATH", "OPERATOR_PORT")
    }
    assert shown == {
        "PORT": ("9100", ValueSource.ENVIRONMENT, "environment"),
        "LOG_LEVEL": ("DEBUG", ValueSource.DOTENV, f".env file ({env_file})"),
        "POLL_INTERVAL_MS": ("30000", ValueSource.CLIENT_FILE, str(tmp_path / "clients" / "acme.toml")),
        "AI_IMPLEMENT_ENV": ("production", ValueSource.CLIENT_FILE, str(tmp_path / "clients" / "acme.toml")),
        "DEDUP_DB_PATH": ("/data/dedup.sqlite", ValueSource.DERIVED, "derived"),
        "OPERATOR_PORT": ("8081", ValueSource.DEFAULT, "default"),
    }


def test_config_check_names_the_client_file_and_each_values_source(tmp_path: Path) -> None:
    text, _ = render_config_check(load_client(tmp_path, "POLL_INTERVAL_MS = 30000\n"))

    lines = text.splitlines()
    path = tmp_path / "clients" / "acme.toml"
    assert lines[1] == f"Client acme: settings read from {path}"
    [poll] = [line for line in lines if line.lstrip().startswith("POLL_INTERVAL_MS ")]
    assert poll.split() == ["POLL_INTERVAL_MS", "30000", str(path)]
    [slug] = [line for line in lines if line.lstrip().startswith("CLIENT_SLUG ")]
    assert slug.split() == ["CLIENT_SLUG", "acme", "environment"]


def test_config_check_says_when_client_slug_names_no_file(tmp_path: Path) -> None:
    settings = load_settings({"CLIENT_SLUG": "globex", "CLIENTS_DIR": str(tmp_path)}, env_file=None)

    text, _ = render_config_check(settings)

    assert text.splitlines()[1] == (
        f"Client globex: no client file at {tmp_path / 'globex.toml'}, so only the environment, the .env file "
        "and the defaults apply"
    )


def test_config_check_without_client_slug_says_nothing_of_client_files() -> None:
    text, _ = render_config_check(load_settings({}, env_file=None))

    assert text.splitlines()[1] == ""
    assert "Client " not in text


def test_the_command_reads_the_client_file_from_its_working_directory(tmp_path: Path) -> None:
    """As the image runs it: CLIENTS_DIR left at `clients`, CLIENT_SLUG in the environment, a .env beside."""
    client_file(tmp_path, "POLL_INTERVAL_MS = 30000\nREAPER_DRY_RUN = true\n")
    (tmp_path / ".env").write_text("REAPER_DRY_RUN=false\n")
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CLIENT_SLUG": "acme",
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }

    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "config", "check"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert rows["POLL_INTERVAL_MS"] == ["30000", "clients/acme.toml"], result.stdout + result.stderr
    assert rows["REAPER_DRY_RUN"] == ["false", ".env", "file", "(.env)"]
    assert rows["CLIENT_SLUG"] == ["acme", "environment"]
    assert rows["PORT"] == ["8080", "default"]
