"""Print the settings reference, or regenerate it inside a Markdown document.

`python -m controller.config --write-docs README.md docs/configuration.md` is how both documents are
kept in step with the `Settings` fields.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from controller.config.docs import TABLE_END, TABLE_START, settings_reference_markdown, with_settings_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m controller.config",
        description="Print the Markdown reference of every environment variable the controller reads.",
    )
    parser.add_argument(
        "--write-docs",
        metavar="PATH",
        type=Path,
        nargs="+",
        help=f"instead of printing, replace the reference between {TABLE_START} and {TABLE_END} in each PATH",
    )
    arguments = parser.parse_args(argv)
    document_paths: list[Path] | None = arguments.write_docs
    if document_paths is None:
        sys.stdout.write(settings_reference_markdown())
        return 0
    for document_path in document_paths:
        try:
            updated = with_settings_table(document_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            parser.error(f"cannot update {document_path}: {error}")
        document_path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
