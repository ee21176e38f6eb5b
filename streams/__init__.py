"""Streams: the worker that turns the results topic into stored results and exact rollups."""
