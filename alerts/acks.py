"""Acknowledging alerts, from the CLI, the read API or a signed link in a robot message.

An acknowledgement holds until the alert's state or severity changes (alerts.reminders.ack_holds): no reminder
meanwhile, and every later message names who acknowledged and when. Each is an event in the alert's history.

A link names the alerts of one message (its channel and group), expires, and works once: it carries a random
nonce, kept in ``ack_link_uses`` when the link is used. It is ``<base>/v1/ack?t=<token>``, the token being
``base64url(claim JSON).base64url(HMAC-SHA256(claim))`` keyed by QSMON_ACK_SECRET.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import orjson
import psycopg

from alerts.exceptions import AckLinkError, AckLinkUsedError, NothingToAcknowledgeError
from alerts.reminders import ack_holds

_FIRING = """
SELECT a.id, a.acknowledged_at, a.severity, (SELECT max(ev.at) FROM alert_events ev WHERE ev.alert_id = a.id
    AND ev.kind IN ('opened', 'reopened', 'escalated'))
FROM alerts a WHERE a.id = ANY(%s) AND a.status = 'firing' ORDER BY a.id FOR UPDATE
"""


def acknowledge(
    conn: psycopg.Connection, alert_ids: Sequence[int], by: str, now: datetime, *, via: str = "cli"
) -> list[int]:
    """Acknowledge the firing ones of ``alert_ids``; returns those acknowledged now. One already acknowledged since
    its last change is left as it is (acknowledging twice records nothing twice). Commits with the caller."""
    by = by.strip()
    if not by or len(by) > 100:
        raise ValueError("who acknowledges: a name of 1 to 100 characters")
    rows = conn.execute(_FIRING, (list(alert_ids),)).fetchall()
    if not rows:
        raise NothingToAcknowledgeError("none of these alerts is firing", alerts=list(alert_ids)[:20])
    done = []
    for alert_id, acknowledged_at, severity, changed_at in rows:
        if changed_at is not None and ack_holds(acknowledged_at, changed_at):
            continue
        conn.execute("UPDATE alerts SET acknowledged_at = %s, acknowledged_by = %s WHERE id = %s", (now, by, alert_id))
        conn.execute(
            "INSERT INTO alert_events (alert_id, at, kind, severity, details) VALUES (%s, %s, 'acknowledged', %s, %s)",
            (alert_id, now, severity, orjson.dumps({"by": by, "via": via}).decode()),
        )
        done.append(int(alert_id))
    return done


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a link says: these alerts, of this channel's message for this group, until then; used once."""

    alert_ids: tuple[int, ...]
    channel: str
    group: str
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign(secret: str, claim: AckClaim) -> str:
    body = _b64(
        orjson.dumps(
            {
                "a": list(claim.alert_ids),
                "c": claim.channel,
                "g": claim.group,
                "e": int(claim.expires_at.timestamp()),
                "n": claim.nonce,
            }
        )
    )
    return f"{body}.{_mac(secret, body)}"


def verify(secret: str, token: str, now: datetime) -> AckClaim:
    """The claim of a token signed with ``secret`` that has not expired; AckLinkError otherwise."""
    body, _, mac = token.strip().partition(".")
    if not body or not mac or not hmac.compare_digest(mac.encode(errors="replace"), _mac(secret, body).encode()):
        raise AckLinkError("not a valid acknowledge link (altered, or signed with another key)")
    try:
        raw = orjson.loads(_unb64(body))
        claim = AckClaim(
            tuple(int(i) for i in raw["a"]),
            str(raw["c"]),
            str(raw["g"]),
            datetime.fromtimestamp(int(raw["e"]), UTC),
            str(raw["n"]),
        )
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise AckLinkError("not a valid acknowledge link (malformed)") from None
    if now >= claim.expires_at:
        raise AckLinkError(
            "this acknowledge link has expired; acknowledge with `qsmon alerts ack`",
            expired_at=claim.expires_at.isoformat(),
        )
    return claim


def redeem(conn: psycopg.Connection, claim: AckClaim, by: str, now: datetime) -> list[int]:
    """Use a verified link once: acknowledge its alerts as ``by``. Commits with the caller."""
    used = conn.execute(
        "INSERT INTO ack_link_uses (nonce, used_at, used_by, alert_ids) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (nonce) DO NOTHING",
        (claim.nonce, now, by, list(claim.alert_ids)),
    )
    if used.rowcount != 1:
        raise AckLinkUsedError("this acknowledge link was used already")
    return acknowledge(conn, claim.alert_ids, by, now, via=f"link:{claim.channel}")


@dataclass(frozen=True, slots=True)
class AckLinks:
    """Makes the link a message carries: settings.ack_secret, ack_link_url and ack_link_hours."""

    secret: str
    base_url: str
    lifetime: timedelta

    def link(self, alert_ids: Sequence[int], channel: str, group: str, now: datetime) -> str:
        claim = AckClaim(tuple(sorted(set(alert_ids))), channel, group, now + self.lifetime, secrets.token_urlsafe(16))
        return f"{self.base_url.rstrip('/')}/v1/ack?{urlencode({'t': sign(self.secret, claim)})}"


def links_from_settings(secret: str | None, base_url: str | None, hours: float) -> AckLinks | None:
    """None (messages carry no link) unless both the key and the address are set."""
    if not secret or not base_url:
        return None
    return AckLinks(secret, base_url, timedelta(hours=hours))
