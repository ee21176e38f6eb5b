"""``python -m qsmon.cli``: the same as the ``qsmon`` console script."""

from qsmon.cli.main import app

app()
