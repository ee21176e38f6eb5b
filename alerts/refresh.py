"""Keeping Alertmanager's view current: it forgets a firing alert at `endsAt` unless told again, as Prometheus
re-sends its alerts; so every firing alert is re-sent to each Alertmanager channel well before then."""

from __future__ import annotations

import logging

import httpx
import orjson
import psycopg

from alerts.messages import alertmanager_alert
from notify.channels import post_json
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


def refresh_alertmanager(conn: psycopg.Connection, client: httpx.Client, channel: Channel) -> int:
    """Re-send every firing alert the channel has been told of; returns how many."""
    payloads = [row[0] for row in conn.execute(_FIRING_PAYLOADS, (channel.name,)).fetchall()]
    conn.commit()
    if not payloads:
        return 0
    alerts = [alertmanager_alert(p | {"transition": "repeated"}) for p in payloads]
    try:
        post_json(client, channel, orjson.dumps(alerts), {}, url=channel.endpoint.rstrip("/") + "/api/v2/alerts")
    except DeliveryError as exc:
        log.warning("could not refresh Alertmanager (its alerts last until endsAt): %s", exc)
        return 0
    return len(alerts)
