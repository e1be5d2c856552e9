"""What every page of the report shares: the jinja2 environment, number format, page writes."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import jinja2

from suite.env import TEMPLATES_DIR

TEMPLATES = TEMPLATES_DIR  # the checkout's templates/, or the installed package data


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; '–' for missing or non-finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def jinja_env() -> jinja2.Environment:
    """The templates' environment: autoescaping on, undefined names are errors, ``num`` filter."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: fmt_num(v, 5)
    return env


def write_page(path: Path, text: str) -> None:
    """Writes a derived page via a temporary file and a rename (no fsync: ``report`` rebuilds it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
