"""MkDocs hook: the record schema page's field table, generated from ``RunRecord``; included files.

``docs/results.md`` holds the marker ``<!-- record-schema -->``; this hook replaces it
with one row per field of :class:`RunRecord` (name, type, required or not, and the
description from the class docstring's ``Attributes:`` section), so the page cannot
drift from the code. ``tests/test_docs.py`` checks the table against the class.
A page holding ``<!-- include: CHANGELOG.md -->`` gets that top-level file, its links
rewritten to work from ``docs/`` (the file itself links the way GitHub renders it).
"""
from __future__ import annotations

import re
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- record-schema -->"


def _record_class():
    """``RunRecord`` and ``SCHEMA_VERSION`` from the store (``suite.store``)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from suite.store import SCHEMA_VERSION, RunRecord

    return RunRecord, SCHEMA_VERSION


def _rst_to_md(text: str) -> str:
    """``:data:`X``` and friends -> ``X``; double backticks -> single."""
    text = re.sub(r":(?:data|func|mod|class|attr|meth):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a Google-style docstring: field -> one-line text."""
    doc = cls.__doc__ or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    fields: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        m = re.match(r"^\s{8}(\w+): (.*)$", line)
        if m:
            current = m.group(1)
            fields[current] = m.group(2).strip()
        elif current and line.strip():
            fields[current] += " " + line.strip()
        elif current and not line.strip() and fields:
            continue
    return {k: _rst_to_md(v) for k, v in fields.items()}


def _type_name(tp: object) -> str:
    text = typing._type_repr(tp) if hasattr(typing, "_type_repr") else repr(tp)
    text = re.sub(r"typing\.|typing_extensions\.", "", text)
    text = re.sub(r"^(Required|NotRequired)\[(.*)\]$", r"\2", text)
    return text.replace("NoneType", "None")


def schema_rows(cls: type) -> list[tuple[str, str, bool, str]]:
    """``(field, type, required, description)`` for every annotated field, in source order."""
    docs = attribute_docs(cls)
    hints = typing.get_type_hints(cls, include_extras=True)
    rows = []
    for name, tp in hints.items():
        required = typing.get_origin(tp) is typing.Required
        rows.append((name, _type_name(tp), required, docs.get(name, "")))
    return rows


def schema_table() -> str:
    """The markdown table that replaces the marker."""
    cls, version = _record_class()
    out = [f"Schema version **{version}** (`{cls.__module__}.{cls.__name__}`).", "",
           "| field | type | required | meaning |", "|---|---|---|---|"]
    for name, tp, required, text in schema_rows(cls):
        text = text.replace("|", "\\|")
        out.append(f"| `{name}` | `{tp}` | {'yes' if required else ''} | {text} |")
    return "\n".join(out) + "\n"


INCLUDE = re.compile(r"<!-- include: ([\w.-]+) -->")


def included(name: str) -> str:
    """A top-level file (CHANGELOG.md, CONTRIBUTING.md) with its links made relative to docs/."""
    text = (ROOT / name).read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)
    return re.sub(r"\]\((CHANGELOG|CONTRIBUTING)\.md", lambda m: f"]({m.group(1).lower()}.md", text)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    """Fills the record-schema marker and the include markers."""
    markdown = INCLUDE.sub(lambda m: included(m.group(1)), markdown)
    if MARKER in markdown:
        return markdown.replace(MARKER, schema_table())
    return markdown
