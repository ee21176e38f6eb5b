"""Sending with a deadline on the whole send, not on each socket operation.

httpx's and smtplib's timeouts bound each read and write: a receiver that answers a byte every few seconds holds a
send, and with it every other channel's, for as long as it likes. Each send runs on a thread of its own and the
notifier waits for it until the channel's deadline; a send still running then counts as failed and its channel gets
no second send from this process until the first has ended. It may yet arrive: then the retry repeats it, which
webhooks de-duplicate by the idempotency key (while the group has not grown) and robots and mail do not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from notify.channels import send, send_timeout_s
from notify.exceptions import DeliveryError
from notify.message import Message
from notify.routing import Channel


class DeadlineSender:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self._late: dict[str, threading.Thread] = {}  # per channel: a send past its deadline, still running

    def send(self, channel: Channel, message: Message, idempotency_key: str) -> None:
        self.call(
            channel, send_timeout_s(channel, message), lambda: send(self.client, channel, message, idempotency_key)
        )

    def call(self, channel: Channel, deadline_s: float, attempt: Callable[[], object]) -> None:
        """Run ``attempt`` (a send to ``channel``) and wait for it until ``deadline_s``; DeliveryError when it
        fails, when it is still running then, or when the channel's previous late one still runs."""
        late = self._late.get(channel.name)
        if late is not None and late.is_alive():
            raise DeliveryError(
                "the previous message is still being sent: the receiver is too slow", channel=channel.name
            )
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                attempt()
                outcome.append(None)
            except BaseException as exc:  # whatever it is, it is this send's outcome
                outcome.append(exc)

        thread = threading.Thread(target=run, name=f"send-{channel.name}", daemon=True)
        thread.start()
        thread.join(deadline_s)
        if not outcome:
            self._late[channel.name] = thread
            raise DeliveryError(
                "receiver too slow: no answer within the channel's timeout", channel=channel.name, timeout_s=deadline_s
            )
        error = outcome[0]
        if error is None:
            return
        if isinstance(error, DeliveryError):
            raise error
        # Not a refusal the sender knew (a URL httpx cannot parse, a bug): still only this channel's failure.
        raise DeliveryError(
            "could not send", channel=channel.name, error=channel.scrub(f"{type(error).__name__}: {error}")[:300]
        ) from None
