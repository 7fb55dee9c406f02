"""``aboguard clock``: the sandbox clock."""

from __future__ import annotations

from datetime import datetime

import typer

from aboguard.errors import InvalidDate
from aboguard.services import installation as service
from aboguard.services.installation import ClockState

from .context import context
from .render import JSON, clock_dict, emit_json

app = typer.Typer(help="Show or move the sandbox clock (installations made with --test-clock).",
                  no_args_is_help=True)


@app.command("show")
def show(json_out: bool = JSON) -> None:
    """Show the installation's current time."""
    _print(service.show_clock(context()), json_out)


@app.command("set")
def set_(when: str = typer.Argument(..., help="YYYY-MM-DD or an ISO timestamp."), json_out: bool = JSON) -> None:
    """Move the sandbox clock forward to a date or instant."""
    try:
        instant = datetime.fromisoformat(when.strip())
    except ValueError:
        raise InvalidDate(f"{when!r} is not a valid date or timestamp: use YYYY-MM-DD or "
                          f"YYYY-MM-DDTHH:MM") from None
    _print(service.set_clock(context(), instant), json_out)


@app.command("advance")
def advance(days: int = typer.Option(0, "--days"), hours: int = typer.Option(0, "--hours"),
            json_out: bool = JSON) -> None:
    """Move the sandbox clock forward by days and/or hours."""
    _print(service.advance_clock(context(), days=days, hours=hours), json_out)


def _print(state: ClockState, json_out: bool) -> None:
    if json_out:
        emit_json(clock_dict(state))
    else:
        typer.echo(f"{state.today_iso} ({state.now.isoformat()}, {state.mode} clock, {state.tz})")
