"""The CLI finds the checkout's files: `make test` and `make demo` start the stack through `qsmon stack up`."""

from __future__ import annotations

from pathlib import Path

from cli._common import CHECKOUT, LOCAL_STACK_SCRIPT
from cli.core import _stack_script
from cli.demo.intake import DEMO_SCENARIO


def test_the_checkout_is_the_directory_holding_pyproject() -> None:
    assert (CHECKOUT / "pyproject.toml").is_file()
    assert Path(__file__).resolve().parents[2] == CHECKOUT


def test_qsmon_stack_runs_the_checkouts_stack_script() -> None:
    assert _stack_script() == LOCAL_STACK_SCRIPT
    assert LOCAL_STACK_SCRIPT.is_file()


def test_the_demo_scenario_is_in_the_checkout() -> None:
    assert DEMO_SCENARIO.is_file()
