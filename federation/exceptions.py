"""Errors of federation."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class FederationError(QsmonError):
    """An instance could not be read (unreachable, refused the token, answered something else); nothing of it
    was stored in this pull, and what an earlier pull stored stays."""
