"""Notification delivery: message formats, channel senders and the outbox notifier."""
