"""Who sent a result, and what a sender may write (issue #31). The one home of the rules; the worker
(streams.store) and the ingest API (producers.ingest_api) both ask them.

Every record on the results topic carries its sender in Kafka headers: ``qsmon-sender`` (an id: ``token:12`` for a
scoped API token, ``configured:1`` for the first of QSMON_INGEST_TOKENS, ``import:<user>:<files>`` for an import
job, ``simulator:<user>``), ``qsmon-authority`` and, for a lab's token, ``qsmon-principal``: whom it sends for
(``lab:<lab>``), so a lab's replacement token revises what its old one sent. The worker keeps the sender in the
results history and the current verdict, and a sample's creator (its first sender's principal) beside the current
verdict (migration 040).

Authorities:

* ``lab``: a lab's token. Writes inside its regions and categories (checked by the ingest API); revises only
  samples it created, and only with the next revision.
* ``admin``: an admin token (a bureau correcting a lab): any sample, but only the next revision.
* ``internal``: the bureau's own tools on the host (imports, the simulator, dead letters sent again, records
  without headers): Kafka is not reachable from outside (docs/security.md), so they are held only to "a higher
  revision replaces", as before senders were recorded (a 复检 sheet imported alone is revision 2 of a sample never
  stored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from qsmon.regions import is_within
from qsmon.schema import FIRST_REVISION, InspectionResult

SENDER_HEADER = "qsmon-sender"
AUTHORITY_HEADER = "qsmon-authority"
PRINCIPAL_HEADER = "qsmon-principal"
MAX_SENDER_LENGTH = 200  # a header, then a column: an import naming many files is cut


class Authority(StrEnum):
    LAB = "lab"
    ADMIN = "admin"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends a record, and with what authority."""

    id: str
    authority: Authority = Authority.INTERNAL
    on_behalf_of: str | None = None  # whom it sends for (``lab:<lab>``), when more than this one sender

    @property
    def principal(self) -> str:
        """Who owns the samples it creates: its lab when it has one, else the sender itself."""
        return self.on_behalf_of or self.id

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [
            (SENDER_HEADER, self.id[:MAX_SENDER_LENGTH].encode()),
            (AUTHORITY_HEADER, self.authority.value.encode()),
        ]
        if self.on_behalf_of is not None:
            headers.append((PRINCIPAL_HEADER, self.on_behalf_of[:MAX_SENDER_LENGTH].encode()))
        return headers


def sender_from_headers(headers: Iterable[tuple[str, bytes]] | None) -> Sender | None:
    """The sender a record's headers name; None for a record without one (written to Kafka directly: internal).
    An authority this build does not know is read as ``lab``, the narrowest."""
    found = dict(headers or ())
    raw = found.get(SENDER_HEADER)
    if raw is None:
        return None
    try:
        authority = Authority(found.get(AUTHORITY_HEADER, b"").decode())
    except ValueError:
        authority = Authority.LAB
    principal = found.get(PRINCIPAL_HEADER)
    return Sender(
        raw.decode(errors="replace")[:MAX_SENDER_LENGTH],
        authority,
        principal.decode(errors="replace")[:MAX_SENDER_LENGTH] if principal is not None else None,
    )


@dataclass(frozen=True, slots=True)
class WriteScope:
    """What a token may write: None means no limit on that dimension."""

    lab: str | None = None
    source: str | None = None
    regions: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None


def write_refusal(scope: WriteScope, result: InspectionResult) -> str | None:
    """Why the token may not send ``result`` (None: it may). ``lab`` and ``source`` must be the token's own, the
    sampling place inside its regions, the category one of its categories."""
    if scope.lab is not None and result.lab != scope.lab:
        return f"lab must be this token's lab ({scope.lab}), not {str(result.lab)[:64]!r}"
    if scope.source is not None and result.source != scope.source:
        return f"source must be this token's source ({scope.source}), not {result.source[:64]!r}"
    if scope.regions is not None and not any(is_within(result.region_code, r) for r in scope.regions):
        return f"region_code {result.region_code} is outside this token's regions ({', '.join(scope.regions)})"
    if scope.categories is not None and result.category.value not in scope.categories:
        return f"category {result.category.value} is not one this token may send ({', '.join(scope.categories)})"
    return None


@dataclass(frozen=True, slots=True)
class Stored:
    """A sample as stored: its current revision and who created it (a principal; None: before senders were
    recorded)."""

    revision: int
    created_by: str | None


def revision_refusal(stored: Stored | None, revision: int, sender: Sender | None) -> str | None:
    """Why ``sender`` may not send ``revision`` of a sample stored as ``stored`` (None: not stored yet).

    A first revision creates a sample; a later one must be the next (stored revision + 1) and come from the
    sender that created the sample, or from an admin. Internal senders keep the older rule (any higher revision
    replaces; lower ones are kept in history and change nothing)."""
    if sender is None or sender.authority is Authority.INTERNAL:
        return None
    if revision == FIRST_REVISION:
        return None if stored is None else "the sample exists already: send its next revision to correct it"
    if stored is None:
        return f"revision {revision} of a sample not stored: a sample starts at revision {FIRST_REVISION}"
    if revision != stored.revision + 1:
        return f"revision {revision} is not the next one: the sample is stored at revision {stored.revision}"
    if sender.authority is Authority.LAB and stored.created_by != sender.principal:
        return "the sample was sent by another sender: only it, or an admin token, may revise it"
    return None


def refusals(stored: dict[str, Stored], records: Sequence[tuple[str, int, Sender | None]]) -> dict[int, str]:
    """The rule over records in the order Kafka delivered them (a sample's revisions share one partition): index ->
    reason for each refused. A record that passes advances its sample, so a batch may hold revisions 1, 2, 3."""
    state = dict(stored)
    refused: dict[int, str] = {}
    for index, (sample_id, revision, sender) in enumerate(records):
        current = state.get(sample_id)
        reason = revision_refusal(current, revision, sender)
        if reason is not None:
            refused[index] = reason
        elif current is None or revision > current.revision:
            state[sample_id] = Stored(
                revision, current.created_by if current else (sender.principal if sender else None)
            )
    return refused


def needs_lookup(sender: Sender | None) -> bool:
    """Whether the rule needs the stored sample: every record of a lab or admin, and none of internal senders."""
    return sender is not None and sender.authority is not Authority.INTERNAL


__all__ = [
    "AUTHORITY_HEADER",
    "PRINCIPAL_HEADER",
    "SENDER_HEADER",
    "Authority",
    "Sender",
    "Stored",
    "WriteScope",
    "needs_lookup",
    "refusals",
    "revision_refusal",
    "sender_from_headers",
    "write_refusal",
]
