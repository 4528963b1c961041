"""The `ai-implement` command: one entry point, one subcommand per process or chore."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from controller.config import ConfigProblem, Settings
    from controller.kube import KubeConnection


class _BadConfiguration(Exception):
    """Raised after the configuration problems were printed; the command exits with 1."""


def _settings(args: argparse.Namespace) -> Settings:
    from controller.config import ConfigurationError, load_settings

    try:
        return load_settings(env_file=args.env_file)
    except ConfigurationError as error:
        sys.stderr.write("".join(f"error: {problem.message}\n" for problem in error.problems))
        raise _BadConfiguration from None


def _kubernetes_connection() -> KubeConnection | ConfigProblem:
    """The API server's credentials, found without calling it (KUBECONFIG is read as kubectl does), or why not."""
    from controller.config import ConfigProblem
    from controller.kube import KubeConfigError, load_connection

    try:
        return load_connection()
    except KubeConfigError as error:
        return ConfigProblem("KUBECONFIG", str(error))


def _kubernetes_or_refuse() -> KubeConnection:
    """The connection a process that needs the API server starts with; one error line and exit 1 without it."""
    from controller.config import ConfigProblem

    found = _kubernetes_connection()
    if isinstance(found, ConfigProblem):
        sys.stderr.write(f"error: {found.message}\n")
        raise _BadConfiguration
    return found


def _check_config(args: argparse.Namespace) -> int:
    from controller.config import ConfigProblem, ConfigurationError, load_settings, render_config_check

    found = _kubernetes_connection()
    kubernetes = [found] if isinstance(found, ConfigProblem) else []
    try:
        settings = load_settings(env_file=args.env_file)
    except ConfigurationError as error:
        text, code = render_config_check(error, more_errors=kubernetes)
    else:
        more_errors = [*kubernetes, *_custom_file_problems(settings.custom_dir)]
        text, code = render_config_check(settings, more_errors=more_errors)
    sys.stdout.write(text)
    return code


def _custom_file_problems(custom_dir: Path) -> list[ConfigProblem]:
    """What is wrong under CUSTOM_DIR, one problem per bad file, each naming the file and its fault."""
    from controller.config import ConfigProblem
    from controller.pipelines import load_catalog

    try:
        catalog = load_catalog(custom_dir)
    except OSError as error:
        return [ConfigProblem("CUSTOM_DIR", f"CUSTOM_DIR={custom_dir} cannot be read: {error}")]
    return [ConfigProblem("CUSTOM_DIR", problem) for problem in catalog.problems()]


def _upgrade_database(args: argparse.Namespace) -> int:
    from controller.store import database_url_from_settings, redact_database_url, upgrade_database

    url = database_url_from_settings(_settings(args))
    asyncio.run(upgrade_database(url))
    sys.stdout.write(f"store at {redact_database_url(url)} is at the newest schema\n")
    return 0


def _back_up_database(args: argparse.Namespace) -> int:
    from controller.store import database_url_from_settings
    from controller.store.backup import BackupError, back_up_sqlite, sqlite_path_of

    url = database_url_from_settings(_settings(args))
    destination = Path(args.destination)
    try:
        size = back_up_sqlite(sqlite_path_of(url), destination)
    except BackupError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(f"backed up the store to {destination} ({size} bytes)\n")
    return 0


def _print_gap_fill_secret(args: argparse.Namespace) -> int:
    from controller.github.trigger_secrets import repository_trigger_secret

    key = _settings(args).gap_fill_trigger_secret
    if key is None:
        sys.stderr.write("error: GAP_FILL_TRIGGER_SECRET is not set: the repositories' secrets derive from it\n")
        return 2
    try:
        secrets = [repository_trigger_secret(key.get_secret_value(), repository) for repository in args.repository]
    except ValueError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(
        "".join(f"{repository} {secret}\n" for repository, secret in zip(args.repository, secrets, strict=True))
    )
    return 0


def _refuse_unsafe_production(settings: Settings) -> None:
    """A serving process does not start in production with secrets or trust anchors an outsider could beat."""
    from controller.config import production_problems

    problems = production_problems(settings)
    if problems:
        sys.stderr.write("".join(f"error: {problem.message}\n" for problem in problems))
        raise _BadConfiguration


def _start_logging(settings: Settings) -> logging.Logger:
    """JSON logs naming this deployment on every line, then which client file applies and the warnings."""
    import logging

    from controller.logs import configure_logging

    configure_logging(settings.log_level.value, client=settings.client_slug, fly_app=settings.fly_app_name)
    logger = logging.getLogger("controller")
    client_file = settings.client_file
    if client_file is not None and client_file.found:
        logger.info("client %s: settings read from %s", client_file.slug, client_file.path)
    elif client_file is not None:
        logger.info("client %s: no client file at %s, so none applies", client_file.slug, client_file.path)
    for problem in settings.warnings:
        logger.warning(problem.message)
    return logger


def _serve_api(args: argparse.Namespace) -> int:
    from controller.config import operational_problems
    from controller.web.server import MetricsPortUnavailable, run_api

    settings = _settings(args)
    _refuse_unsafe_production(settings)
    connection = _kubernetes_or_refuse()
    logger = _start_logging(settings)
    for problem in operational_problems(settings):
        logger.error("%s (the API serves anyway; the operator will not start)", problem.message)
    try:
        run_api(settings, connection)
    except MetricsPortUnavailable as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    return 0


def _run_operator(args: argparse.Namespace) -> int:
    from controller.config import operational_problems
    from controller.operator.main import OperatorStopped, run_operator

    settings = _settings(args)
    _refuse_unsafe_production(settings)
    problems = operational_problems(settings)
    if problems:
        sys.stderr.write("".join(f"error: {problem.message}\n" for problem in problems))
        return 1
    connection = _kubernetes_or_refuse()
    _start_logging(settings)
    try:
        asyncio.run(run_operator(settings, connection=connection))
    except OperatorStopped as stopped:
        sys.stderr.write(f"error: {stopped}; see the log above for the cause\n")
        return 1
    return 0


def _run_dev(args: argparse.Namespace) -> int:
    from controller.config import ConfigurationError
    from controller.dev.main import dev_metrics_port, dev_port
    from controller.dev.main import main as run_dev

    try:
        port, metrics_port = dev_port(args.port, os.environ), dev_metrics_port(os.environ)
    except ConfigurationError as error:
        sys.stderr.write("".join(f"error: {problem.message}\n" for problem in error.problems))
        return 1
    return run_dev(
        port=port,
        metrics_port=metrics_port,
        work_dir=Path(args.work_dir),
        admin_code=os.environ.get("ADMIN_ACCESS_CODE"),
    )


def _print_crds(args: argparse.Namespace) -> int:
    from controller.resources.crd import crd_files, render_all_crds_yaml

    if args.write is None:
        sys.stdout.write(render_all_crds_yaml())
        return 0
    directory = Path(args.write)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        (directory / name).write_text(text)
    return 0


def _run_runner(args: argparse.Namespace) -> int:
    from controller.runner.main import main as run_session

    del args
    return run_session()


def _with_env_file(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--env-file", default=".env", help="dotenv file read under the environment (default .env)")
    return parser


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-implement", description="Turns tickets labelled for AI work into coding-agent runs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    api = _with_env_file(
        commands.add_parser("api", help="serve the admin UI, the JSON API, callbacks, webhooks and metrics")
    )
    api.set_defaults(handler=_serve_api)

    operator = _with_env_file(
        commands.add_parser("operator", help="reconcile resources; on the elected replica, poll tickets and dispatch")
    )
    operator.set_defaults(handler=_run_operator)

    runner = commands.add_parser(
        "runner",
        help="run one session's pipeline (inside a runner; also installed as ai-implement-runner): the run is "
        "described by AI_IMPLEMENT_* variables, see docs/runners.md",
    )
    runner.set_defaults(handler=_run_runner)

    dev = commands.add_parser(
        "dev",
        help="run everything on this machine: a local control plane, SQLite, the operator, the API and "
        "sandboxes of every external service seeded with sample tickets",
    )
    dev.add_argument("--port", type=int, default=None, help="port of the API and admin UI (default: PORT, else 8080)")
    dev.add_argument(
        "--work-dir", default=".ai-implement-dev", help="where the SQLite store is kept (default .ai-implement-dev)"
    )
    dev.set_defaults(handler=_run_dev)

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = _with_env_file(
        config_commands.add_parser(
            "check", help="validate the environment and print the effective configuration, secrets redacted"
        )
    )
    check.set_defaults(handler=_check_config)

    db = commands.add_parser("db", help="manage the store's database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = _with_env_file(
        db_commands.add_parser("upgrade", help="create or migrate the store's tables (idempotent)")
    )
    upgrade.set_defaults(handler=_upgrade_database)
    backup = _with_env_file(
        db_commands.add_parser(
            "backup", help="copy the SQLite store, consistently, to a new file while the processes run"
        )
    )
    backup.add_argument("destination", help="the new file, e.g. /data/backup-2026-01-31.sqlite")
    backup.set_defaults(handler=_back_up_database)

    gap_fill_secret = _with_env_file(
        commands.add_parser(
            "gap-fill-secret",
            help="print each repository's GAP_FILL_TRIGGER_SECRET, derived from the controller's (set it as that "
            "repository's secret)",
        )
    )
    gap_fill_secret.add_argument("repository", nargs="+", help="OWNER/NAME, e.g. acme/web")
    gap_fill_secret.set_defaults(handler=_print_gap_fill_secret)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    crds.add_argument("--write", metavar="DIR", help="write one file per CRD into DIR instead of printing")
    crds.set_defaults(handler=_print_crds)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = _build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except _BadConfiguration:
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
