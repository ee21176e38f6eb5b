"""Keeping Alertmanager's view current: it forgets a firing alert at `endsAt` unless told again, as Prometheus
re-sends its alerts; so every firing alert is re-sent to each Alertmanager channel well before then."""

from __future__ import annotations

import logging

import orjson
import psycopg

from alerts.messages import alertmanager_alert
from notify.channels import post_json
from notify.deadline import DeadlineSender
from notify.exceptions import DeliveryError
from notify.routing import Channel

log = logging.getLogger("qsmon.alerts")

# The last payload queued for the channel of each alert that still fires: what Alertmanager was last told.
_FIRING_PAYLOADS = """
SELECT DISTINCT ON (o.alert_id) o.payload
FROM notification_outbox o JOIN alerts a ON a.id = o.alert_id
WHERE a.status = 'firing' AND o.channel = %s AND o.delivered_at IS NOT NULL
ORDER BY o.alert_id, o.id DESC
"""


# The last payload each of these alerts was told to the channel with: to tell it they ended.
_LAST_PAYLOADS = """
SELECT DISTINCT ON (o.alert_id) o.payload
FROM notification_outbox o
WHERE o.alert_id = ANY(%s) AND o.channel = %s AND o.delivered_at IS NOT NULL
ORDER BY o.alert_id, o.id DESC
"""


def refresh_alertmanager(conn: psycopg.Connection, sender: DeadlineSender, channel: Channel) -> int:
    """Re-send every firing alert the channel has been told of; returns how many."""
    payloads = [row[0] for row in conn.execute(_FIRING_PAYLOADS, (channel.name,)).fetchall()]
    conn.commit()
    return _post(sender, channel, [alertmanager_alert(p | {"transition": "repeated"}) for p in payloads])


def end_in_alertmanager(
    conn: psycopg.Connection, sender: DeadlineSender, channel: Channel, alert_ids: list[int]
) -> int:
    """Tell the channel these alerts ended (closed without a message: no plan in use evaluates them); else it
    would show them firing until the endsAt of their last refresh."""
    payloads = [row[0] for row in conn.execute(_LAST_PAYLOADS, (alert_ids, channel.name)).fetchall()]
    conn.commit()
    return _post(sender, channel, [alertmanager_alert(p | {"transition": "expired"}) for p in payloads])


def _post(sender: DeadlineSender, channel: Channel, alerts: list[dict[str, object]]) -> int:
    """POST the alerts within the channel's deadline: this runs on the alert engine's loop, which a hung
    Alertmanager must not hold (sweeps, reminders and the leadership would stop with it)."""
    if not alerts:
        return 0
    url = channel.endpoint.rstrip("/") + "/api/v2/alerts"
    try:
        sender.call(
            channel, channel.timeout_s, lambda: post_json(sender.client, channel, orjson.dumps(alerts), {}, url=url)
        )
    except DeliveryError as exc:
        log.warning("could not update Alertmanager (its alerts last until endsAt): %s", exc)
        return 0
    return len(alerts)
