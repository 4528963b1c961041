"""The `ai-implement` command: one entry point, one subcommand per process or chore."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path


def _print_crds(args: argparse.Namespace) -> int:
    from controller.resources.crd import ALL_KINDS, crd_file_name, render_all_crds_yaml, render_crd_yaml

    if args.write is None:
        sys.stdout.write(render_all_crds_yaml())
        return 0
    directory = Path(args.write)
    directory.mkdir(parents=True, exist_ok=True)
    for kind in ALL_KINDS:
        (directory / crd_file_name(kind)).write_text(render_crd_yaml(kind))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from controller.config import ConfigurationError, load_settings, render_config_check

    try:
        text, code = render_config_check(load_settings(env_file=args.env_file))
    except ConfigurationError as error:
        text, code = render_config_check(error)
    sys.stdout.write(text)
    return code


def _upgrade_database(args: argparse.Namespace) -> int:
    from controller.config import ConfigurationError, load_settings
    from controller.store import database_url, redact_database_url, upgrade_database

    try:
        settings = load_settings(env_file=args.env_file)
    except ConfigurationError as error:
        sys.stderr.write("".join(f"error: {problem.message}\n" for problem in error.problems))
        return 1
    explicit = settings.database_url.get_secret_value() if settings.database_url else None
    url = database_url(explicit, str(settings.effective_dedup_db_path))
    asyncio.run(upgrade_database(url))
    sys.stdout.write(f"store at {redact_database_url(url)} is at the newest schema\n")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-implement", description="Turns tickets labelled for AI work into coding-agent runs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = config_commands.add_parser(
        "check", help="validate the environment and print the effective configuration, secrets redacted"
    )
    check.add_argument(
        "--env-file", default=".env", help="dotenv file read under the environment (default .env)"
    )
    check.set_defaults(handler=_check_config)

    db = commands.add_parser("db", help="manage the store's database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the store's tables (idempotent)")
    upgrade.add_argument(
        "--env-file", default=".env", help="dotenv file read under the environment (default .env)"
    )
    upgrade.set_defaults(handler=_upgrade_database)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    crds.add_argument("--write", metavar="DIR", help="write one file per CRD into DIR instead of printing")
    crds.set_defaults(handler=_print_crds)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = _build_parser().parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
