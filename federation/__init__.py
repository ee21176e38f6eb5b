"""Provinces feeding the nation: pull closed months' frozen figures and published failures from other qsmon
instances through their read APIs, store them by instance, and add them up into a national overview."""

from federation.config import Instance, load_instances
from federation.national import NationalFigure, national_overview
from federation.pull import pull_instance

__all__ = ["Instance", "NationalFigure", "load_instances", "national_overview", "pull_instance"]
