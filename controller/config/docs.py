"""The settings reference in Markdown, generated from the `Settings` fields so that it cannot drift."""

from typing import Final

from controller.config.settings import Section, SettingDescription, as_environment_text, describe_settings

TABLE_START: Final = "<!-- settings-table:start -->"
TABLE_END: Final = "<!-- settings-table:end -->"
REGENERATE_COMMAND: Final = "python -m controller.config --write-docs README.md docs/configuration.md"


def settings_reference_markdown() -> str:
    """One table per section: variable, default, whether it is a secret, and its description."""
    described = describe_settings()
    lines = []
    for section in Section:
        lines += [
            f"### {section}",
            "",
            "| Variable | Default | Secret | Description |",
            "| --- | --- | --- | --- |",
        ]
        lines += [_row(setting) for setting in described if setting.section is section]
        lines.append("")
    return "\n".join(lines)


def with_settings_table(document: str) -> str:
    """The document with the generated reference put between its two marker comments."""
    start = document.find(TABLE_START)
    end = document.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"the document needs a line {TABLE_START} followed later by a line {TABLE_END}")
    return f"{document[: start + len(TABLE_START)]}\n\n{settings_reference_markdown()}\n{document[end:]}"


def _row(setting: SettingDescription) -> str:
    if setting.derived_default is not None:
        default = setting.derived_default
    elif setting.default is None:
        default = "unset"
    else:
        default = f"`{as_environment_text(setting.default)}`"
    description = setting.description.replace("|", "\\|")
    return f"| `{setting.variable}` | {default} | {'yes' if setting.secret else 'no'} | {description} |"
