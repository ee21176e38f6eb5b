"""Producers: every way an inspection result enters Kafka (import, HTTP ingest, simulator)."""
