"""Notifications: channels and routing, the message every channel renders, and delivery from the outbox."""
