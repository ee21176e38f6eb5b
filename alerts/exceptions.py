"""Errors of acknowledging: what the read API and the CLI answer with."""

from __future__ import annotations

from qsmon.exceptions import QsmonError


class AckLinkError(QsmonError):
    """An acknowledge link that cannot be used: malformed, not signed by this site's key, or expired."""


class AckLinkUsedError(AckLinkError):
    """The link was used already: each acknowledges once."""


class NothingToAcknowledgeError(QsmonError):
    """None of the named alerts is firing."""
