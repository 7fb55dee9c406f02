"""``aboguard simulate``: compare recovery policies on identical simulated customers."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from datetime import time as clock_time
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import typer

from aboguard import bootstrap
from aboguard.domain.periods import parse_date
from aboguard.errors import InvalidInput
from aboguard.money import Money
from aboguard.services import simulation
from aboguard.services.simulation import SimulationConfig

from .render import emit_json, table


def simulate(
    customers: int = typer.Option(500, "--customers", help="Simulated customers."),
    months: int = typer.Option(12, "--months", help="Months to simulate."),
    seed: int = typer.Option(1, "--seed", help="Decides every customer's behaviour: same seed, same customers."),
    policy: str = typer.Option("both", "--policy", help="smart, fixed or both (side by side)"),
    start: str = typer.Option("2026-01-01", "--start", help="First simulated day."),
    workdir: Path | None = typer.Option(None, "--workdir", help="Keep the simulated installations here "
                                        "(default: a temporary directory, removed afterwards)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object keyed by policy name."),
    loyalty: bool = typer.Option(False, "--loyalty", help="Reward punctual payers (10 % off after 6 invoices paid "
                                 "on time) and report what the rewards cost."),
) -> None:
    """Run billing, collection, retries and dunning for simulated customers and report what was recovered."""
    policies = simulation.POLICIES if policy == "both" else (policy,)
    if any(p not in simulation.POLICIES for p in policies):
        raise InvalidInput(f"unknown policy {policy!r}: use smart, fixed or both")
    config = SimulationConfig(customers=customers, months=months, seed=seed, start=parse_date(start, "--start"),
                              loyalty=loyalty)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aboguard-sim-") as tmp:
        base = workdir or Path(tmp)
        if len(policies) > 1 and (os.cpu_count() or 1) > 1:  # the policies are independent: one process each
            if sys.stderr.isatty():
                sys.stderr.write(f"simulating {', '.join(policies)} side by side ...")
                sys.stderr.flush()
            with ProcessPoolExecutor(max_workers=len(policies), mp_context=get_context("spawn")) as pool:
                futures = {name: pool.submit(_run, config, name, base) for name in policies}
                results = {name: future.result() for name, future in futures.items()}
        else:
            results = {name: _run(config, name, base, on_progress=_progress) for name in policies}
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 60 + "\r")
    if json_out:
        emit_json(results)
    else:
        typer.echo(report(results, config))


def _run(config: SimulationConfig, name: str, base: Path, on_progress: Any = None) -> dict[str, Any]:
    """One policy's simulation (also in a worker process); its wall time is part of the result."""
    started = time.monotonic()
    at = datetime.combine(config.start, clock_time(6, 0), tzinfo=UTC)
    result = simulation.simulate(config, name, partial(_context, seed=config.seed, start=at), base,
                                 on_progress=on_progress)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _context(name: str, directory: Path, *, seed: int, start: datetime) -> Any:
    return bootstrap.simulation_context(name, directory, seed=seed, start=start)


_last = [0.0]


def _progress(policy: str, day: int, days: int) -> None:
    if not sys.stderr.isatty() or (time.monotonic() - _last[0] < 0.2 and day != days):
        return
    _last[0] = time.monotonic()
    sys.stderr.write(f"\rsimulating {policy}: day {day}/{days}")
    sys.stderr.flush()


def report(results: dict[str, Any], config: SimulationConfig) -> str:
    names = list(results)
    rows: list[list[Any]] = []

    def money(minor: int) -> str:
        return Money(minor, "EUR").format("en")

    def add(label: str, fn) -> None:
        rows.append([label, *[fn(results[n]) for n in names]])

    add("invoices", lambda r: f"{r['invoices']:,}")
    add("payment attempts", lambda r: f"{r['attempts']:,}")
    add("failed payments", lambda r: f"{r['failed_count']:,} ({money(r['failed_amount_minor'])})")
    add("recovered", lambda r: f"{r['recovered_count']:,} ({money(r['recovered_amount_minor'])})")
    add("recovery rate", lambda r: f"{r['recovery_rate']:.1%}")
    add("median days to recover", lambda r: "-" if r["median_days_to_recover"] is None
        else f"{r['median_days_to_recover']:g}")
    add("involuntary churn", lambda r: f"{r['involuntary_churn']:,} subscriptions")
    add("dunning fees collected", lambda r: money(r["fees_collected_minor"]))
    add("interest collected", lambda r: money(r["interest_collected_minor"]))
    if config.loyalty:
        add("loyalty rewards granted", lambda r: f"{r['loyalty']['rewards_granted']:,}")
        add("loyalty discounts", lambda r: money(r["loyalty"]["discounts_granted_minor"]))
        add("on time: rewarded / others", lambda r: _rates(r["loyalty"]))
    add("seconds", lambda r: f"{r['seconds']:.1f}")
    text = [f"Recovery simulation: {config.customers:,} customers, {config.months} months from {config.start}, "
            f"seed {config.seed}", "", table(["", *names], rows), "", "Failed payments by first decline reason:"]
    codes = sorted({c for n in names for c in results[n]["by_decline_code"]})
    text.append(table(["REASON", *[f"{n} (count, recovered)" for n in names]],
                      [[c, *[_code(results[n]["by_decline_code"].get(c)) for n in names]] for c in codes]))
    if len(names) == 2 and results[names[1]]["recovered_amount_minor"]:
        a, b = results[names[0]], results[names[1]]
        text.append("")
        text.append(f"{names[0]} recovered {money(a['recovered_amount_minor'] - b['recovered_amount_minor'])} more "
                    f"than {names[1]} on the same customers ({a['recovery_rate']:.1%} vs {b['recovery_rate']:.1%}).")
    text.append("Customer model: told that their payment method failed, a customer gives a new one with a "
                "probability that falls with every day of delay (see `aboguard.services.simulation`).")
    return "\n".join(text)


def _rates(figures: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"
    return f"{pct(figures['on_time_rate_rewarded'])} / {pct(figures['on_time_rate_others'])}"


def _code(entry: dict[str, int] | None) -> str:
    if not entry:
        return "-"
    return f"{entry['count']}, {Money(entry['recovered_minor'], 'EUR').format('en')} of " \
           f"{Money(entry['amount_minor'], 'EUR').format('en')}"
