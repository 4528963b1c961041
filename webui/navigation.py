"""The sidebar: the specification's four groups, in its order, with the panels this UI serves.

A panel is listed here by the view module that serves it, so the sidebar never links a page that
does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GROUPS: Final = ("Work", "Configure", "Platform", "Developer")


@dataclass(frozen=True, slots=True)
class Panel:
    group: str
    title: str
    path: str
    order: int
    """Its place within the group, as the specification lists it."""


_PANELS: list[Panel] = []


def register(panel: Panel) -> Panel:
    if panel.group not in GROUPS:
        raise ValueError(f"{panel.title}: unknown sidebar group {panel.group!r}")
    if any(existing.path == panel.path for existing in _PANELS):
        raise ValueError(f"{panel.path} is registered twice")
    _PANELS.append(panel)
    return panel


def panels_by_group() -> list[tuple[str, list[Panel]]]:
    return [
        (group, sorted((panel for panel in _PANELS if panel.group == group), key=lambda panel: panel.order))
        for group in GROUPS
        if any(panel.group == group for panel in _PANELS)
    ]
