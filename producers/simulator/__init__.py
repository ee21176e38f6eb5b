"""A deterministic simulator of a city's inspection results, for the demo, tests and load tests."""

from producers.simulator.generator import Simulator, SimulatorOptions
from producers.simulator.scenario import Incident, Scenario, load_scenario

__all__ = ["Incident", "Scenario", "Simulator", "SimulatorOptions", "load_scenario"]
