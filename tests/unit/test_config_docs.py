"""The settings reference is generated from the fields, and docs/configuration.md carries the current one."""

from pathlib import Path

import pytest

from controller.config import Section, Settings, settings_reference_markdown, with_settings_table
from controller.config.__main__ import main
from controller.config.docs import REGENERATE_COMMAND, TABLE_END, TABLE_START

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document_path", [ROOT / "README.md", ROOT / "docs" / "configuration.md"], ids=str)
def test_documents_carry_the_current_reference(document_path: Path) -> None:
    document = document_path.read_text(encoding="utf-8")

    assert with_settings_table(document) == document, (
        f"{document_path.name} is out of date with the Settings fields: run `{REGENERATE_COMMAND}`"
    )


def test_every_variable_appears_once_with_its_default_and_secrecy() -> None:
    reference = settings_reference_markdown()

    for name in Settings.model_fields:
        assert reference.count(f"| `{name.upper()}` |") == 1
    assert "| `PORT` | `8080` | no |" in reference
    assert "| `REAPER_DRY_RUN` | `false` | no |" in reference
    assert "| `LINEAR_API_KEY` | unset | yes |" in reference
    assert "| `DEDUP_DB_PATH` | `/data/dedup.sqlite` in production, `./dedup.sqlite` in development | no |" in reference


def test_sections_appear_in_their_documented_order() -> None:
    reference = settings_reference_markdown()

    positions = [reference.index(f"### {section}\n") for section in Section]
    assert positions == sorted(positions)


def test_writing_the_docs_replaces_only_what_lies_between_the_markers(tmp_path: Path) -> None:
    document = tmp_path / "configuration.md"
    document.write_text(f"# Prose before\n\n{TABLE_START}\nstale table\n{TABLE_END}\n\nProse after.\n")

    assert main(["--write-docs", str(document)]) == 0

    written = document.read_text()
    assert written.startswith(f"# Prose before\n\n{TABLE_START}\n\n### GitHub App (required)\n")
    assert written.endswith(f"\n{TABLE_END}\n\nProse after.\n")
    assert "stale table" not in written
    assert with_settings_table(written) == written


def test_writing_the_docs_into_a_document_without_markers_fails_clearly(tmp_path: Path) -> None:
    document = tmp_path / "configuration.md"
    document.write_text("# No markers here\n")

    with pytest.raises(SystemExit) as exited:
        main(["--write-docs", str(document)])

    assert exited.value.code == 2
    assert document.read_text() == "# No markers here\n"


def test_without_arguments_the_reference_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0

    assert capsys.readouterr().out == settings_reference_markdown()
