"""``aboguard terms``: publish, list and show versions of terms documents (AGB)."""

from __future__ import annotations

from pathlib import Path

import typer

from aboguard.domain.periods import parse_date
from aboguard.domain.terms import InvalidTerms
from aboguard.services import terms as service

from .context import context
from .contracts_render import terms_dict
from .render import JSON, emit_json, table

app = typer.Typer(help="Terms documents (AGB) in versions, with the hash of the exact content.", no_args_is_help=True)


@app.command("publish")
def publish(
    code: str = typer.Argument(..., help="Terms code, e.g. agb."),
    file: Path = typer.Option(..., "--file", help="The document (text, Markdown, HTML or PDF), stored byte for byte."),
    language: str = typer.Option("de", "--language", help="de or en."),
    valid_from: str | None = typer.Option(None, "--valid-from", help="First day in force (default today)."),
    json_out: bool = JSON,
) -> None:
    """Publish a new version; what customers accepted before stays unchanged."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise InvalidTerms(f"cannot read {file}: {exc.strerror}") from None
    document = service.publish_terms(context(), code, content=content, filename=file.name, language=language,
                                     valid_from=parse_date(valid_from, "--valid-from") if valid_from else None)
    if json_out:
        emit_json(terms_dict(document))
        return
    typer.echo(f"Published {document.code} version {document.version} ({document.language.value}), valid from "
               f"{document.valid_from}, sha256 {document.sha256}")


@app.command("list")
def list_(code: str | None = typer.Argument(None), json_out: bool = JSON) -> None:
    """Every published version."""
    found = service.list_terms(context(), code)
    if json_out:
        emit_json([terms_dict(d) for d in found])
        return
    typer.echo(table(["CODE", "VERSION", "LANG", "VALID FROM", "FILE", "BYTES", "SHA-256"],
                     [[d.code, d.version, d.language.value, d.valid_from, d.filename, len(d.content), d.sha256]
                      for d in found]) if found else "No terms published yet: `aboguard terms publish CODE --file F`.")


@app.command("show")
def show(
    code: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version", help="Default: the version in force today."),
    language: str | None = typer.Option(None, "--language"),
    json_out: bool = JSON,
) -> None:
    """One version with its hash (and its text, if it is text)."""
    document = service.get_terms(context(), code, version=version, language=language)
    if json_out:
        emit_json(terms_dict(document, with_text=True))
        return
    typer.echo(f"{document.code} version {document.version} ({document.language.value}), valid from "
               f"{document.valid_from}\nfile {document.filename} ({document.media_type}, {len(document.content)} "
               f"bytes)\nsha256 {document.sha256}\n")
    text = document.text()
    typer.echo(text if text is not None else "(not text; `--json` shows metadata only)")
