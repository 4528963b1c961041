"""Atlassian Document Format both ways, simply: plain text with links into ADF, and any ADF back to text.

REST v3 takes and returns rich text as ADF documents (EXTERNAL_APIS.md §2.5); the controller writes
short status comments and reads descriptions to hand to an agent, so neither direction needs more
than paragraphs, line breaks, links and lists. Text nodes must not be empty, so none is emitted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

COMMENT_MAX_CHARS: Final = 32_767
"""Jira's limit on a comment's text [U: commonly reported]; longer text is cut, with a note."""
TRUNCATION_NOTE: Final = "… (truncated)"

_LINK = re.compile(r"\[(?P<label>[^\]\n]+)\]\((?P<target>https?://[^\s)]+)\)|(?P<url>https?://[^\s<>\"]+)")
_TRAILING_PUNCTUATION: Final = ".,;:!?'\""
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_INLINE_NODES: Final = frozenset(
    {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "mediaInline", "placeholder"}
)


def adf_document(text: str) -> dict[str, Any]:
    """An ADF doc: blank lines separate paragraphs, single newlines break lines, URLs and `[label](url)` link."""
    if not text.strip():
        raise ValueError("a Jira comment needs some text: ADF text nodes must not be empty")
    if len(text) > COMMENT_MAX_CHARS:
        text = text[: COMMENT_MAX_CHARS - len(TRUNCATION_NOTE)] + TRUNCATION_NOTE
    paragraphs = [part for part in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").strip()) if part.strip()]
    return {"type": "doc", "version": 1, "content": [_paragraph(part) for part in paragraphs]}


def adf_text(document: Any) -> str:
    """The readable text of an ADF document (or of None, a plain string, or anything unexpected)."""
    if document is None:
        return ""
    if isinstance(document, str):
        return document
    return _render(document).strip()


def _paragraph(text: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n")):
        if number:
            content.append({"type": "hardBreak"})
        content.extend(_inline(line))
    return {"type": "paragraph", "content": content}


def _inline(line: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    position = 0
    for match in _LINK.finditer(line):
        label, target = match["label"], match["target"]
        end = match.end()
        if target is None:
            target = match["url"].rstrip(_TRAILING_PUNCTUATION)
            label = target
            end = match.start() + len(target)
        if match.start() > position:
            nodes.append({"type": "text", "text": line[position : match.start()]})
        nodes.append({"type": "text", "text": label, "marks": [{"type": "link", "attrs": {"href": target}}]})
        position = end
    if position < len(line):
        nodes.append({"type": "text", "text": line[position:]})
    return nodes


def _render(node: Any) -> str:
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    raw_attrs, raw_content = node.get("attrs"), node.get("content")
    attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    content: list[Any] = raw_content if isinstance(raw_content, list) else []
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind == "rule":
        return "---"
    if kind in ("bulletList", "orderedList"):
        order = attrs.get("order")
        start = order if isinstance(order, int) else 1
        lines = []
        for offset, item in enumerate(content):
            marker = "-" if kind == "bulletList" else f"{start + offset}."
            lines.append(f"{marker} " + _render(item).replace("\n", "\n  "))
        return "\n".join(lines)
    parts = [_render(child) for child in content]
    if all(isinstance(child, Mapping) and child.get("type") in _INLINE_NODES for child in content):
        return "".join(parts)
    separator = {"listItem": "\n", "tableRow": " | ", "table": "\n"}.get(str(kind), "\n\n")
    return separator.join(part for part in parts if part)
