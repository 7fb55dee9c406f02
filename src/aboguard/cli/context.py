"""How commands get their service context, and the guarantee that its connections are closed.

Every context a command opens is remembered and closed by :func:`close_all`, which ``main`` calls
when the command ends, whether it succeeded or failed.
"""

from __future__ import annotations

from datetime import datetime

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.services.context import ServiceContext
from aboguard.services.installation import ClockState

_open: list[ServiceContext] = []


def _remember(ctx: ServiceContext) -> ServiceContext:
    _open.append(ctx)
    return ctx


def context() -> ServiceContext:
    """The context of the initialised installation named by the environment."""
    return _remember(bootstrap.build(Settings.from_env()))


def initialise(settings: Settings, *, test_clock: bool = False, at: datetime | None = None
               ) -> tuple[ServiceContext, ClockState]:
    ctx, state = bootstrap.initialise(settings, test_clock=test_clock, at=at)
    return _remember(ctx), state


def close_all() -> None:
    while _open:
        _open.pop().close()
