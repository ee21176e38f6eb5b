"""``python -m cli``: the same as the ``qsmon`` console script."""

from cli.main import main

main()
