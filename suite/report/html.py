"""What every page of the report shares: the jinja2 environment, number format, page writes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from suite import safeio
from suite.env import TEMPLATES_DIR
from suite.runs import fmt

TEMPLATES = TEMPLATES_DIR  # the checkout's templates/, or the installed package data


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; '–' for missing or non-finite
    (:func:`suite.runs.fmt`, the one number format)."""
    return fmt(value, digits, missing="–")


def jinja_env() -> jinja2.Environment:
    """The templates' environment: autoescaping on, undefined names are errors, ``num`` filter."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: fmt_num(v, 5)
    return env


def write_page(path: Path, text: str) -> None:
    """Writes a derived page via a uniquely named temporary file and a rename, never through a
    symlink (:func:`suite.safeio.write_text`; no fsync: ``report`` rebuilds it)."""
    safeio.write_text(path, text, durable=False)
