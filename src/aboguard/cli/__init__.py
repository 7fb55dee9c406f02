"""The ``aboguard`` command line. Each command builds the context, calls one service and renders."""

from __future__ import annotations

import click
import typer

from aboguard.errors import AboguardError

from .app import app
from .context import close_all

EXIT_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an aboguard error prints one line and exits 2."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="aboguard", standalone_mode=False)
    except AboguardError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    finally:
        close_all()
    return 0



__all__ = ["app", "main"]
