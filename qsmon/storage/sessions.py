"""Bounding the life of a session whose locks others wait for.

A session advisory lock is released when its session ends, and PostgreSQL ends a session whose client went
silent only when it notices: a client cut off without a reset (a failing switch, a black-holed route, a frozen
VM) keeps its session, and so its locks, for as long as TCP keepalives take by default (two hours). These
settings make the server end such a session after ``bound_s`` of silence, with its own clock:

* ``idle_session_timeout`` / ``idle_in_transaction_session_timeout``: no command from the client for this long,
  in or out of a transaction, ends the session. The lock holder sends one at least every third of it;
* ``tcp_keepalives_*`` and ``tcp_user_timeout``: the same bound when the server is the one waiting on the
  network (its result unacknowledged, or probes unanswered), where the idle timers do not run.

The client's socket gets the keepalives and user timeout too, so a holder cut off notices within the bound and
stops believing it holds the lock, instead of waiting on a dead socket for hours.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket

import psycopg
from psycopg.pq import TransactionStatus

_SETTINGS = """
SELECT set_config('idle_session_timeout', %(idle_ms)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_ms)s, false),
       set_config('tcp_keepalives_idle', %(keepalive_idle_s)s, false),
       set_config('tcp_keepalives_interval', %(keepalive_interval_s)s, false),
       set_config('tcp_keepalives_count', '3', false),
       set_config('tcp_user_timeout', %(idle_ms)s, false)
"""


def keepalive_timing(bound_s: float) -> tuple[int, int]:
    """Seconds of silence before the first probe, and between probes (three unanswered end it): within bound_s
    from 5 s up (the kernel counts whole seconds)."""
    idle = max(1, math.floor(bound_s / 2))
    interval = max(1, math.floor((bound_s - idle) / 3))
    return idle, interval


def bound_session(conn: psycopg.Connection, bound_s: float) -> None:
    """Have the server end ``conn``'s session after ``bound_s`` of silence from its client (see the module)."""
    idle_ms = str(max(1000, round(bound_s * 1000)))
    keepalive_idle, keepalive_interval = keepalive_timing(bound_s)
    idle_before = conn.info.transaction_status == TransactionStatus.IDLE
    conn.execute(
        _SETTINGS,
        {"idle_ms": idle_ms, "keepalive_idle_s": str(keepalive_idle), "keepalive_interval_s": str(keepalive_interval)},
    )
    if idle_before and not conn.autocommit:
        conn.commit()  # a session setting made in a transaction is kept only if it commits
    _bound_client_socket(conn, int(idle_ms), keepalive_idle, keepalive_interval)


def _bound_client_socket(conn: psycopg.Connection, user_timeout_ms: int, idle_s: int, interval_s: int) -> None:
    """The client side of the same bound (TCP only; a Unix socket cannot be cut silently)."""
    if conn.info.host.startswith("/"):
        return
    # A duplicate of the connection's descriptor: options set through it apply to the one socket; closing it
    # leaves the connection's descriptor open.
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", idle_s),
            ("TCP_KEEPINTVL", interval_s),
            ("TCP_KEEPCNT", 3),
            ("TCP_USER_TIMEOUT", user_timeout_ms),
        ):
            if hasattr(socket, name):  # Linux names; other systems keep their defaults
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
