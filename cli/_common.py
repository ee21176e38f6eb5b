"""Helpers shared by the CLI modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import orjson
import psycopg
import typer

from qsmon.exceptions import QsmonError

# The checkout the commands run from: the local stack's scripts and the demo's files live there.
CHECKOUT = Path(__file__).resolve().parents[1]
LOCAL_STACK_SCRIPT = CHECKOUT / "deploy" / "local" / "stack.sh"
# Where stack.sh keeps the services' data (deploy/local/env.sh reads the same variable).
LOCAL_STACK_DIR = Path(os.environ.get("QSMON_STACK_DIR", CHECKOUT / ".stack"))

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a QsmonError as one line on stderr and exit 1, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except QsmonError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from exc
        except psycopg.errors.UndefinedTable as exc:  # a database no `qsmon init` has been run against
            missing = exc.diag.message_primary
            typer.secho(
                f"error: the database has no qsmon schema (or an older one): run `qsmon init` ({missing})",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1) from exc
        except psycopg.OperationalError as exc:  # its message names host and user, never the password
            if exc.sqlstate is not None and not exc.sqlstate.startswith(("08", "57P0")):
                raise  # not a lost connection (a timeout, a deadlock, a full disk): the error as it is
            typer.secho(
                f"error: cannot reach the database: {str(exc).strip().splitlines()[0]}", fg=typer.colors.RED, err=True
            )
            raise typer.Exit(1) from exc

    return wrapper


def print_json(obj: object) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
