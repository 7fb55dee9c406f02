"""The recovery simulator: reproducible, identical customers for both policies, the documented JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aboguard.cli import main

KEYS = {"invoices", "failed_count", "failed_amount_minor", "recovered_amount_minor", "recovery_rate", "attempts",
        "median_days_to_recover", "involuntary_churn", "by_decline_code"}


def simulate(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> dict:
    code = main(["simulate", "--customers", "60", "--months", "3", "--seed", "7", "--json",
                 "--workdir", str(tmp_path), *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_both_policies_meet_the_same_customers_and_report_the_documented_figures(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = simulate(capsys, tmp_path / "a", "--policy", "both")
    assert set(result) == {"smart", "fixed"}
    smart, fixed = result["smart"], result["fixed"]
    for figures in (smart, fixed):
        assert set(figures) >= KEYS
        assert 0 <= figures["recovery_rate"] <= 1
        assert figures["recovered_amount_minor"] <= figures["failed_amount_minor"]
        assert sum(c["count"] for c in figures["by_decline_code"].values()) == figures["failed_count"]
    # the same customers fail their first charges whatever the policy does afterwards
    assert smart["invoices"] >= 180 and abs(smart["invoices"] - fixed["invoices"]) <= 3
    assert smart["failed_count"] > 0
    assert smart["recovered_amount_minor"] >= fixed["recovered_amount_minor"]


def test_the_same_seed_gives_the_same_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first = simulate(capsys, tmp_path / "a", "--policy", "smart")["smart"]
    again = simulate(capsys, tmp_path / "b", "--policy", "smart")["smart"]
    first.pop("seconds"), again.pop("seconds")
    assert first == again


def test_a_bad_policy_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["simulate", "--policy", "clever", "--workdir", str(tmp_path)]) == 2
    assert "unknown policy 'clever'" in capsys.readouterr().err
