"""Rendering messages from Jinja2 templates (German and English) with babel formatting.

A template ``<locale>/<name>.txt`` starts with a ``Subject:`` line, then the text body. The HTML part is
``<locale>/<name>.html`` when there is one, else the text wrapped in ``<locale>/_layout.html`` (paragraphs,
links). ``<locale>/_footer.txt`` (merchant name, address, legal footer) ends every message. The shipped
templates live in this package; a merchant directory (ABOGUARD_TEMPLATES_DIR) with the same layout
overrides any of them, file by file.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from aboguard.money import Money

from .ports import RenderedMessage, TemplateProblem

LOCALES = {"de": "de_DE", "en": "en_GB"}
_URL = re.compile(r"(https?://[^\s<>\"]+)")


def language(locale: str) -> str:
    """``de``, ``de_AT``, ``de-CH`` -> de; anything else -> en."""
    return "de" if locale.lower().startswith("de") else "en"


@pass_context
def _money(context: Context, value: Money | None) -> str:
    return "" if value is None else value.format(LOCALES[context["lang"]])


@pass_context
def _date(context: Context, value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, format="medium", locale=LOCALES[context["lang"]])


def _paragraphs(text: str) -> Markup:
    """Plain text as HTML paragraphs; URLs become links."""
    parts = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [_URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', str(escape(line)))
                 for line in block.splitlines()]
        parts.append("<p>" + "<br>\n".join(lines) + "</p>")
    return Markup("\n".join(parts))


class JinjaRenderer:
    def __init__(self, override_dir: Path | None = None) -> None:
        loaders: list[Any] = [FileSystemLoader(str(override_dir))] if override_dir else []
        loaders.append(PackageLoader("aboguard.notify", "templates"))
        self._env = Environment(loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]),
                                undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                keep_trailing_newline=False)
        self._env.filters["money"] = _money
        self._env.filters["date"] = _date
        self._env.filters["paragraphs"] = _paragraphs

    def render(self, template: str, locale: str, data: dict[str, Any]) -> RenderedMessage:
        lang = language(locale)
        values = {**data, "lang": lang}
        try:
            first, _, body = self._env.get_template(f"{lang}/{template}.txt").render(values).strip().partition("\n")
            if not first.startswith("Subject:"):
                raise TemplateProblem(f"template {lang}/{template}.txt must start with a 'Subject:' line")
            subject = first.removeprefix("Subject:").strip()
            body = body.strip()
            footer = self._env.get_template(f"{lang}/_footer.txt").render(values).strip()
            text = f"{body}\n\n-- \n{footer}\n"
            try:
                html_template = self._env.get_template(f"{lang}/{template}.html")
                html = html_template.render({**values, "body": _paragraphs(body), "footer": footer})
            except TemplateNotFound:
                html = self._env.get_template(f"{lang}/_layout.html").render(
                    {**values, "subject": subject, "body": _paragraphs(body), "footer": _paragraphs(footer)})
        except TemplateNotFound as exc:
            raise TemplateProblem(f"no template {exc.name}: ship it or add it to the templates directory") from None
        except TemplateError as exc:
            raise TemplateProblem(f"template {lang}/{template} cannot be rendered: {exc}") from None
        return RenderedMessage(subject, text, html)


__all__ = ["LOCALES", "JinjaRenderer", "language"]
