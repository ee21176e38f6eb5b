"""Alerts: plan indicators evaluated live, the alert lifecycle, and notifications that reach people."""
